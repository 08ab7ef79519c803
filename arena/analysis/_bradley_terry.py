"""Bradley-Terry ratings of games between submissions: the fit, the groups and the intervals.

**Bradley-Terry ratings** (:func:`bradley_terry`; per base model from the store:
:mod:`arena.analysis._ratings`). Each match is one game; the side with more points in it (the sum
of its rooms' points) wins, equal points are a tie, counted as half a win for each side.
``P(i beats j) = 1 / (1 + exp(-(r_i - r_j)))`` with ratings ``r`` on a log-odds scale. The fit
maximizes the likelihood plus a weak prior (Newton's method with a line search on the concave
log-posterior, to machine precision):

- **Prior: one virtual tie for every pair of submissions that met** (``prior_ties``), i.e. half a
  virtual win each way. For two players this gives the Haldane-Anscombe corrected log-odds
  ``log((wins + 1/2) / (losses + 1/2))`` (ties counted as half a win), so a perfect record stays
  finite; with more players every pair that met has won at least half a game each way, which
  is exactly the condition for a finite, unique maximum (Zermelo, Ford). The prior only touches
  pairs that played, so it never links groups of players that never met (see below), and it
  shrinks a pairing's log-odds toward 0 by about as much as one drawn game.
- **Anchor**: the baseline of the base model is 0 (its win probability against itself is 1/2);
  with no baseline (or one that played no game) the ratings are centred on their mean.
- **Disconnected comparison graphs**: when the games split into groups with no game between
  them, their ratings are unrelated. Each group (connected component) is rated on its own: the
  baseline's group is anchored at the baseline, the others at their own mean, and the rating
  names its ``component`` and carries a ``note`` saying so.
- **Intervals**: 95 % percentile bootstrap over matches (resampled with replacement within each
  group, refitted; fixed RNG seed, so outputs are deterministic; widened to contain the point). A
  resample can lose players or split the group: only the players linked by its games to the
  baseline (with a mean anchor: to the largest linked set, aligned so that their mean equals the
  mean of their point ratings) are rated; the others are skipped for that resample (``bootstrap_n``
  counts the resamples that rated a player). Below two games in a group there is no interval.
- Every match between two submissions counts as a game whatever its adversarial mode (both sides
  of one match play the same mode, seed and puzzles); an A/A match (a submission against
  itself) is no game.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from scipy.special import expit

from arena.analysis._bootstrap import RESAMPLES, SEED, percentile_interval

PRIOR_TIES: Final = 1.0
"""Virtual ties added to every pair of players that met (half a virtual win each way)."""
_MAX_ITERATIONS: Final = 200
"""Newton iterations of one fit (it converges in well under 20 on real data)."""
_STEP_TOLERANCE: Final = 1e-12
"""A fit has converged when no rating moves by more than this."""

NOTE_NOT_CONNECTED: Final = (
    "no chain of games links it to the baseline: rated within its own group, anchored at the "
    "group's mean (not comparable with other groups)"
)
NOTE_SEPARATE_GROUPS: Final = (
    "the games form separate groups: rated within its own group, anchored at the group's mean "
    "(not comparable with other groups)"
)
NOTE_ANCHOR_WITHOUT_GAMES: Final = "the baseline played no game: anchored at the mean"

_CONFIG = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


# -- models ---------------------------------------------------------------------------------------
class Game(BaseModel):
    """One match between two submissions, as Bradley-Terry sees it."""

    model_config = _CONFIG

    a: int
    """One side's submission id."""
    b: int
    """The other side's submission id."""
    score: float
    """``a``'s result: 1 (won), 0.5 (tie) or 0 (lost)."""
    match_id: str | None = None
    """The match it comes from, when known."""

    @field_validator("score")
    @classmethod
    def _known_result(cls, value: float) -> float:
        if value not in (0.0, 0.5, 1.0):
            raise ValueError("score must be 1 (a won), 0.5 (tie) or 0 (b won)")
        return float(value)

    @model_validator(mode="after")
    def _two_players(self) -> Game:
        if self.a == self.b:
            raise ValueError("a game needs two different players")
        return self

    @classmethod
    def from_points(
        cls, a: int, b: int, points_a: float, points_b: float, match_id: str | None = None
    ) -> Game:
        """The game of a match: more points wins, equal points tie."""
        score = 1.0 if points_a > points_b else 0.0 if points_a < points_b else 0.5
        return cls(a=a, b=b, score=score, match_id=match_id)


class Rating(BaseModel):
    """One submission's Bradley-Terry rating within its base model."""

    model_config = _CONFIG

    submission_id: int
    """The submission's id."""
    rating: float
    """Strength on a log-odds scale: ``rating_i - rating_j`` is the log-odds of i beating j. 0 is
    the anchor (``anchor_id``, or the mean of the group when ``anchor_id`` is None)."""
    rating_ci: tuple[float, float] | None
    """95 % bootstrap interval of ``rating`` over matches (None below two games in the group or
    when no resample rated it)."""
    win_prob: float
    """Probability of beating the anchor: the baseline, or a player of the group's mean rating
    when ``anchor_id`` is None."""
    win_prob_ci: tuple[float, float] | None
    """``rating_ci`` on the probability scale."""
    anchor_id: int | None
    """The submission at rating 0 (the baseline of the base model); None: anchored at the mean of
    the group's ratings."""
    component: int
    """Its group of players linked by games (0: the baseline's group, else the largest); ratings
    of different groups are not comparable."""
    component_size: int
    """Players in that group."""
    note: str | None
    """Why the rating is anchored at a group mean instead of the baseline, when it is."""
    games: int
    """Games (matches) it played against other submissions of the group."""
    wins: int
    """Games it won (more points)."""
    losses: int
    """Games it lost."""
    ties: int
    """Games with equal points (half a win each)."""
    bootstrap_n: int
    """Resamples that rated it (a resample skips a player it lacks or cuts off from the
    anchor)."""
    base_model_key: str | None = None
    """Base-model key (set by :func:`ratings`; None from :func:`bradley_terry`)."""
    quant: str | None = None
    """Quant label (set by :func:`ratings`)."""
    display_name: str | None = None
    """Display name, plain text (set by :func:`ratings`)."""
    is_baseline: bool = False
    """The full-precision baseline of its base model (set by :func:`ratings`)."""


# -- Bradley-Terry: the fit -----------------------------------------------------------------------
def _fit(
    m: int,
    i: np.ndarray,
    j: np.ndarray,
    n: np.ndarray,
    w: np.ndarray,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Maximize ``sum_p w_p d_p - n_p log(1 + exp(d_p))``, ``d_p = theta[i_p] - theta[j_p]``,
    with ``theta[0] = 0``: the log-likelihood of ``w_p`` wins of ``i_p`` in ``n_p`` games against
    ``j_p`` (prior included). Players ``0..m-1`` must be connected by the pairs and every pair
    must have ``0 < w_p < n_p``, so the maximum is finite and unique. ``start``: a first guess
    (its first value is ignored)."""
    theta = np.zeros(m) if start is None else np.asarray(start, dtype=float) - start[0]
    if m == 1:
        return theta

    def objective(t: np.ndarray) -> float:
        d = t[i] - t[j]
        return float(np.dot(w, d) - np.dot(n, np.logaddexp(0.0, d)))

    current = objective(theta)
    for _ in range(_MAX_ITERATIONS):
        p = expit(theta[i] - theta[j])
        residual = w - n * p
        gradient = np.bincount(i, residual, m) - np.bincount(j, residual, m)
        h = n * p * (1.0 - p)
        information = np.zeros((m, m))
        information[i, j] = -h  # pairs are unique, so plain indexing adds nothing twice
        information[j, i] = -h
        information[np.diag_indices(m)] = np.bincount(i, h, m) + np.bincount(j, h, m)
        step = np.zeros(m)
        step[1:] = np.linalg.solve(information[1:, 1:], gradient[1:])
        scale = 1.0
        while True:  # backtracking: the log-likelihood never decreases
            candidate = theta + scale * step
            value = objective(candidate)
            if value >= current - 1e-12 * max(1.0, abs(current)) or scale < 1e-10:
                break
            scale /= 2.0
        theta, current = candidate, value
        if float(np.max(np.abs(scale * step))) < _STEP_TOLERANCE:
            break
    return theta


@dataclass(frozen=True)
class _Group:
    """The games of one connected group, by local player index (players sorted by id)."""

    ids: tuple[int, ...]
    """Submission ids; local index = position."""
    pair_i: np.ndarray
    """Per distinct pair, the lower local index."""
    pair_j: np.ndarray
    """Per distinct pair, the higher local index."""
    game_pair: np.ndarray
    """Per game, its pair's position."""
    game_score: np.ndarray
    """Per game, the result of the pair's lower-index player."""

    def totals(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Games and wins (of ``pair_i``) per pair, with each game counted ``weights`` times."""
        pairs = len(self.pair_i)
        n = np.bincount(self.game_pair, weights, pairs)
        w = np.bincount(self.game_pair, weights * self.game_score, pairs)
        return n, w


def _canonical(games: Iterable[Game]) -> list[tuple[int, int, float]]:
    """Games as ``(lower id, higher id, lower id's score)``, sorted: order and sides of the input
    never change a result."""
    out = [(g.a, g.b, g.score) if g.a < g.b else (g.b, g.a, 1.0 - g.score) for g in games]
    return sorted(out)


def _find(parent: dict[int, int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _components(edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components of the players of ``edges``, each sorted."""
    parent: dict[int, int] = {}
    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for x in sorted(parent):
        groups[_find(parent, x)].append(x)
    return list(groups.values())


def _ordered_components(
    games: Sequence[tuple[int, int, float]], anchor: int | None
) -> list[list[int]]:
    """The anchor's component first, then by size (largest first), then smallest id."""
    components = _components((a, b) for a, b, _ in games)
    return sorted(components, key=lambda c: (anchor not in c, -len(c), c[0]))


def _group(ids: Sequence[int], games: Sequence[tuple[int, int, float]]) -> _Group:
    local = {sid: k for k, sid in enumerate(ids)}
    pairs = sorted({(local[a], local[b]) for a, b, _ in games})
    position = {pair: k for k, pair in enumerate(pairs)}
    return _Group(
        ids=tuple(ids),
        pair_i=np.asarray([p[0] for p in pairs], dtype=np.intp),
        pair_j=np.asarray([p[1] for p in pairs], dtype=np.intp),
        game_pair=np.asarray([position[(local[a], local[b])] for a, b, _ in games], dtype=np.intp),
        game_score=np.asarray([s for _, _, s in games], dtype=float),
    )


def _fit_players(
    group: _Group,
    players: Sequence[int],
    n: np.ndarray,
    w: np.ndarray,
    prior: float,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Ratings (first of ``players`` at 0) of a connected subset of the group's local players,
    from per-pair totals (pairs with no game left out; the prior added to the others), starting
    from ``start`` (indexed by local player) when given."""
    local = {p: k for k, p in enumerate(players)}
    keep = (n > 0) & np.isin(group.pair_i, players)
    i = np.asarray([local[x] for x in group.pair_i[keep]], dtype=np.intp)
    j = np.asarray([local[x] for x in group.pair_j[keep]], dtype=np.intp)
    first = None if start is None else start[list(players)]
    return _fit(len(players), i, j, n[keep] + prior, w[keep] + prior / 2.0, first)


def _fit_many(
    m: int, i: np.ndarray, j: np.ndarray, n: np.ndarray, w: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """:func:`_fit` of many resamples at once (row ``r``: ``n[r]``, ``w[r]``), each with the same
    Newton steps, backtracking and stopping rule as :func:`_fit` (the bootstrap's fast path:
    one resample at a time, the Python loop cost more than the fits)."""
    rows = n.shape[0]
    theta = np.tile(np.asarray(start, dtype=float) - start[0], (rows, 1))
    incidence = np.zeros((len(i), m))
    incidence[np.arange(len(i)), i] = 1.0
    incidence[np.arange(len(i)), j] = -1.0
    outer = np.einsum("pa,pb->pab", incidence, incidence)

    def objective(t: np.ndarray, nn: np.ndarray, ww: np.ndarray) -> np.ndarray:
        d = t[:, i] - t[:, j]
        return np.sum(ww * d, axis=1) - np.sum(nn * np.logaddexp(0.0, d), axis=1)

    current = objective(theta, n, w)
    active = np.arange(rows)
    for _ in range(_MAX_ITERATIONS):
        if not active.size:
            break
        t, nn, ww, now = theta[active], n[active], w[active], current[active]
        p = expit(t[:, i] - t[:, j])
        gradient = (ww - nn * p) @ incidence
        information = np.einsum("kp,pab->kab", nn * p * (1.0 - p), outer)
        step = np.zeros_like(t)
        step[:, 1:] = np.linalg.solve(information[:, 1:, 1:], gradient[:, 1:, None])[..., 0]
        scale = np.ones(len(active))
        candidate = t + step
        value = objective(candidate, nn, ww)
        floor = now - 1e-12 * np.maximum(1.0, np.abs(now))
        worse = (value < floor) & (scale >= 1e-10)
        while worse.any():  # backtracking: the log-likelihood never decreases
            scale[worse] /= 2.0
            candidate[worse] = t[worse] + scale[worse, None] * step[worse]
            value[worse] = objective(candidate[worse], nn[worse], ww[worse])
            worse = (value < floor) & (scale >= 1e-10)
        theta[active], current[active] = candidate, value
        moving = np.max(np.abs(scale[:, None] * step), axis=1) >= _STEP_TOLERANCE
        active = active[moving]
    return theta


def _bootstrap(
    group: _Group,
    point: np.ndarray,
    anchor: int | None,
    prior: float,
    resamples: int,
    rng: np.random.Generator,
) -> list[list[float]]:
    """Per local player, its ratings over the resamples that rate it (see the module doc).
    Resamples that keep every pair (the usual case) are fitted together; the others (a pair
    lost, so the group may split) one at a time."""
    samples: list[list[float]] = [[] for _ in group.ids]
    games = len(group.game_pair)
    totals = [  # per resample (n, w) per pair: a few numbers each, not the game weights
        group.totals(np.bincount(rng.integers(0, games, games), minlength=games).astype(float))
        for _ in range(resamples)
    ]
    whole = [k for k, (n, _) in enumerate(totals) if bool(np.all(n > 0))]
    order = list(range(len(group.ids)))
    if anchor is not None:
        order = [anchor] + [x for x in order if x != anchor]
    if whole:
        local = {p: k for k, p in enumerate(order)}
        i = np.asarray([local[x] for x in group.pair_i], dtype=np.intp)
        j = np.asarray([local[x] for x in group.pair_j], dtype=np.intp)
        n = np.stack([totals[k][0] for k in whole]) + prior
        w = np.stack([totals[k][1] for k in whole]) + prior / 2.0
        fitted = _fit_many(len(order), i, j, n, w, point[order])
        if anchor is None:
            fitted = fitted - fitted.mean(axis=1, keepdims=True) + float(np.mean(point[order]))
        for column, player in enumerate(order):
            samples[player].extend(fitted[:, column].tolist())
    kept = set(whole)
    for k, (n, w) in enumerate(totals):
        if k in kept:
            continue
        present = n > 0
        pieces = _components(
            zip(group.pair_i[present].tolist(), group.pair_j[present].tolist(), strict=True)
        )
        if anchor is not None:
            found = [p for p in pieces if anchor in p]
            if not found:
                continue
            piece = [anchor] + [x for x in found[0] if x != anchor]
            theta = _fit_players(group, piece, n, w, prior, point)  # the anchor at 0
        else:
            piece = min(pieces, key=lambda p: (-len(p), p[0]))
            theta = _fit_players(group, piece, n, w, prior, point)
            theta = theta - theta.mean() + float(np.mean(point[piece]))
        for player, value in zip(piece, theta.tolist(), strict=True):
            samples[player].append(value)
    return samples


def _record(player: int, games: Sequence[tuple[int, int, float]]) -> dict[str, int]:
    """Games, wins, losses and ties of one player."""
    results = [s if a == player else 1.0 - s for a, b, s in games if player in (a, b)]
    return {
        "games": len(results),
        "wins": results.count(1.0),
        "losses": results.count(0.0),
        "ties": results.count(0.5),
    }


def _note(anchor: int | None, anchored: bool, components: int) -> str | None:
    if anchored:
        return None
    if anchor is not None and components > 1:
        return NOTE_NOT_CONNECTED
    if components > 1:
        return NOTE_SEPARATE_GROUPS
    return NOTE_ANCHOR_WITHOUT_GAMES if anchor is not None else None


def bradley_terry(
    games: Sequence[Game],
    *,
    anchor: int | None = None,
    prior_ties: float = PRIOR_TIES,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[int, Rating]:
    """Bradley-Terry ratings of the players of ``games`` (by submission id, ascending), anchored
    at ``anchor`` (the baseline) in its group and at the mean elsewhere; see the module doc for
    the prior, the groups and the intervals. Order and sides of the games never matter."""
    if not prior_ties > 0:
        raise ValueError("prior_ties must be > 0 (without it a perfect record has no finite fit)")
    if resamples < 0:
        raise ValueError("resamples must be >= 0")
    canonical = _canonical(games)
    components = _ordered_components(canonical, anchor)
    out: dict[int, Rating] = {}
    for index, ids in enumerate(components):
        members = set(ids)
        mine = [g for g in canonical if g[0] in members]
        group = _group(ids, mine)
        anchored = anchor in members
        n, w = group.totals(np.ones(len(mine)))
        local_anchor = ids.index(anchor) if anchored else None
        order = list(range(len(ids)))
        if local_anchor is not None:
            order = [local_anchor] + [k for k in order if k != local_anchor]
        theta = np.empty(len(ids))
        theta[order] = _fit_players(group, order, n, w, prior_ties)
        if local_anchor is None:
            theta -= theta.mean()
        samples: list[list[float]] = [[] for _ in ids]
        if len(mine) >= 2 and resamples > 0:
            rng = np.random.default_rng([seed, index])
            samples = _bootstrap(group, theta, local_anchor, prior_ties, resamples, rng)
        note = _note(anchor, anchored, len(components))
        for local, sid in enumerate(ids):
            point = float(theta[local])
            ci = percentile_interval(samples[local], point)
            out[sid] = Rating(
                submission_id=sid,
                rating=point,
                rating_ci=ci,
                win_prob=float(expit(point)),
                win_prob_ci=(float(expit(ci[0])), float(expit(ci[1]))) if ci else None,
                anchor_id=anchor if anchored else None,
                component=index,
                component_size=len(ids),
                note=note,
                bootstrap_n=len(samples[local]),
                **_record(sid, mine),
            )
    return dict(sorted(out.items()))


def win_probability(rating_a: float, rating_b: float) -> float:
    """Probability that a player rated ``rating_a`` beats one rated ``rating_b`` (same group)."""
    return float(expit(rating_a - rating_b))


__all__ = [
    "NOTE_ANCHOR_WITHOUT_GAMES",
    "NOTE_NOT_CONNECTED",
    "NOTE_SEPARATE_GROUPS",
    "PRIOR_TIES",
    "Game",
    "Rating",
    "bradley_terry",
    "win_probability",
]

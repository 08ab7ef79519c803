"""Bradley-Terry ratings per base model over the stored matches, anchored at its baseline.

The fit is :mod:`arena.analysis._bradley_terry`; which matches count,
:mod:`arena.analysis._head_to_head`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from arena.analysis._baselines import model_baselines
from arena.analysis._bootstrap import RESAMPLES, SEED
from arena.analysis._bradley_terry import PRIOR_TIES, Game, Rating, bradley_terry
from arena.analysis._head_to_head import HeadToHead, Player, read_head_to_head, same_model_matches
from arena.engine import Store


def games_by_base_model(data: HeadToHead) -> dict[str, list[Game]]:
    """One game per match between two different live submissions of one base model."""
    points: dict[tuple[str, str], float] = defaultdict(float)
    for room in data.rooms:
        points[(room["match_id"], room["slot"])] += room["points"]
    out: dict[str, list[Game]] = defaultdict(list)
    for match, key in same_model_matches(data):
        if match["a"] != match["b"]:
            mid = match["match_id"]
            out[key].append(
                Game.from_points(
                    match["a"], match["b"], points[(mid, "a")], points[(mid, "b")], mid
                )
            )
    return dict(out)


def baselines(players: Iterable[Player]) -> dict[str, int]:
    """The anchor of each base model that has a baseline (``arena.analysis.baselines``: the
    baseline of its oldest group)."""
    return model_baselines(p.submission_row() for p in players)


def ratings_of(
    data: HeadToHead,
    *,
    prior_ties: float = PRIOR_TIES,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> list[Rating]:
    """:func:`ratings` of already-read data."""
    live = {p.submission_id: p for p in data.players}
    anchors = baselines(data.players)
    out: list[Rating] = []
    for key, games in sorted(games_by_base_model(data).items()):
        fitted = bradley_terry(
            games, anchor=anchors.get(key), prior_ties=prior_ties, resamples=resamples, seed=seed
        )
        for sid, rating in fitted.items():
            p = live[sid]
            labels = {
                "base_model_key": key,
                "quant": p.quant,
                "display_name": p.display_name,
                "is_baseline": p.is_baseline,
            }
            out.append(rating.model_copy(update=labels))
    out.sort(key=lambda r: (r.base_model_key or "", r.component, -r.rating, r.submission_id))
    return out


def ratings(
    store: Store,
    *,
    prior_ties: float = PRIOR_TIES,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    base_model_key: str | None = None,
) -> list[Rating]:
    """Bradley-Terry ratings of every live submission with at least one game, per base model
    (anchored at its baseline), sorted by base-model key, group, rating (best first) and id; of
    every base model or of one (``base_model_key``)."""
    return ratings_of(
        read_head_to_head(store, base_model_key),
        prior_ties=prior_ties,
        resamples=resamples,
        seed=seed,
    )


__all__ = ["baselines", "games_by_base_model", "ratings", "ratings_of"]

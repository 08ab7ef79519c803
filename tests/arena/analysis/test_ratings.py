"""Bradley-Terry ratings and the contagion matrix: closed forms, a direct maximum-likelihood fit,
and a database of scripted matches counted by hand."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from scipy.stats import binomtest

from arena.analysis._bradley_terry import (
    NOTE_ANCHOR_WITHOUT_GAMES,
    NOTE_NOT_CONNECTED,
    NOTE_SEPARATE_GROUPS,
    Game,
    Rating,
    bradley_terry,
    win_probability,
)
from arena.analysis._contagion import (
    ContagionCell,
    ContagionMatrix,
    RoomOutcome,
    contagion,
    contagion_frame,
    contagion_matrices,
    format_cell,
)
from arena.analysis._head_to_head import Player
from arena.analysis._ratings import ratings
from arena.engine._match import play_match
from arena.engine._models import AdversarialMode, MatchSettings, MatchSpec
from arena.engine._store import Store
from tests.arena.analysis.test_leaderboard import (
    LEVEL,
    ROOMS,
    Fake,
    add_submission,
    contestant,
    play,
    set_status,
)


def g(a: int, b: int, score: float) -> Game:
    return Game(a=a, b=b, score=score)


def wins(a: int, b: int, times: int = 1) -> list[Game]:
    return [g(a, b, 1.0) for _ in range(times)]


# -- Bradley-Terry on plain games -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("won", "lost", "tied"),
    [(3, 0, 1), (0, 5, 0), (2, 2, 2), (10, 3, 0), (1, 0, 0), (0, 0, 4), (7, 1, 3)],
)
def test_two_players_equal_the_closed_form(won: int, lost: int, tied: int) -> None:
    games = wins(1, 2, won) + wins(2, 1, lost) + [g(1, 2, 0.5)] * tied
    fitted = bradley_terry(games, anchor=2, resamples=0)
    # one virtual tie = half a win each way: log((W + 1/2) / (L + 1/2)), ties half a win
    expected = math.log((won + tied / 2 + 0.5) / (lost + tied / 2 + 0.5))
    assert fitted[1].rating == pytest.approx(expected, abs=1e-12)
    assert fitted[2].rating == 0.0 and fitted[2].win_prob == 0.5
    assert fitted[1].win_prob == pytest.approx((won + tied / 2 + 0.5) / (won + lost + tied + 1))
    assert (fitted[1].games, fitted[1].wins, fitted[1].losses, fitted[1].ties) == (
        won + lost + tied,
        won,
        lost,
        tied,
    )
    assert (fitted[2].wins, fitted[2].losses, fitted[2].ties) == (lost, won, tied)
    # a stronger prior: prior_ties virtual ties
    stronger = bradley_terry(games, anchor=2, prior_ties=3.0, resamples=0)
    expected3 = math.log((won + tied / 2 + 1.5) / (lost + tied / 2 + 1.5))
    assert stronger[1].rating == pytest.approx(expected3, abs=1e-12)
    # no anchor: centred on the mean
    centred = bradley_terry(games, resamples=0)
    assert centred[1].rating == pytest.approx(expected / 2, abs=1e-12)
    assert centred[2].rating == pytest.approx(-expected / 2, abs=1e-12)
    assert centred[1].anchor_id is None and fitted[1].anchor_id == 2


def direct_fit(
    games: Sequence[Game], ids: Sequence[int], prior_ties: float = 1.0
) -> dict[int, float]:
    """Maximize the log-posterior with scipy: one term per game (ties half a win each) plus
    ``prior_ties`` virtual ties per pair that met; the first id is pinned at 0."""
    index = {sid: k for k, sid in enumerate(ids)}
    met = sorted({(min(x.a, x.b), max(x.a, x.b)) for x in games})

    def negative(free: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.concatenate([[0.0], free])
        value, grad = 0.0, np.zeros(len(ids))
        terms = [(x.a, x.b, x.score, 1.0) for x in games]
        terms += [(a, b, 0.5, prior_ties) for a, b in met]
        for a, b, score, weight in terms:
            d = theta[index[a]] - theta[index[b]]
            value += weight * (score * log_expit(d) + (1 - score) * log_expit(-d))
            slope = weight * (score - expit(d))
            grad[index[a]] += slope
            grad[index[b]] -= slope
        return -value, -grad[1:]

    found = minimize(
        negative, np.zeros(len(ids) - 1), jac=True, method="BFGS", options={"gtol": 1e-12}
    )
    return dict(zip(ids, [0.0, *found.x.tolist()], strict=True))


MANY = [
    *wins(1, 2, 2), g(2, 3, 0.5), *wins(3, 1), *wins(3, 4), *wins(4, 5), *wins(1, 5),
    *wins(5, 2, 2), *wins(1, 3), g(4, 2, 0.5), *wins(6, 1), *wins(6, 2), *wins(2, 4, 3),
]  # fmt: skip
"""Six players, ties, and a perfect record (6 won all its games)."""


@pytest.mark.parametrize("prior_ties", [1.0, 0.25, 4.0])
def test_many_players_match_a_direct_maximum_likelihood_fit(prior_ties: float) -> None:
    fitted = bradley_terry(MANY, anchor=1, prior_ties=prior_ties, resamples=0)
    expected = direct_fit(MANY, [1, 2, 3, 4, 5, 6], prior_ties)
    assert set(fitted) == set(expected)
    for sid, rating in fitted.items():
        assert rating.rating == pytest.approx(expected[sid], abs=1e-6)
        assert rating.win_prob == pytest.approx(expit(expected[sid]), abs=1e-6)
    assert fitted[6].wins == 2 and fitted[6].losses == fitted[6].ties == 0
    # the mean anchor is the same fit, shifted
    centred = bradley_terry(MANY, prior_ties=prior_ties, resamples=0)
    shift = np.mean(list(expected.values()))
    for sid, rating in centred.items():
        assert rating.rating == pytest.approx(expected[sid] - shift, abs=1e-6)
    assert sum(r.rating for r in centred.values()) == pytest.approx(0.0, abs=1e-12)
    a, b = centred[6], centred[2]
    assert win_probability(a.rating, b.rating) == pytest.approx(
        expit(expected[6] - expected[2]), abs=1e-6
    )


def test_order_and_sides_of_games_do_not_matter() -> None:
    reference = bradley_terry(MANY, anchor=3, resamples=200)
    rng = random.Random(5)
    for _ in range(3):
        shuffled = [
            g(x.b, x.a, 1.0 - x.score) if rng.random() < 0.5 else x
            for x in rng.sample(MANY, len(MANY))
        ]
        assert bradley_terry(shuffled, anchor=3, resamples=200) == reference  # intervals too


def test_ties_count_as_half_a_win() -> None:
    # two ties are one win and one loss for the fit (the records differ)
    tied = bradley_terry([g(1, 2, 0.5), g(2, 1, 0.5), *wins(1, 3)], anchor=1, resamples=0)
    split = bradley_terry([*wins(1, 2), *wins(2, 1), *wins(1, 3)], anchor=1, resamples=0)
    for sid in (1, 2, 3):
        assert tied[sid].rating == pytest.approx(split[sid].rating, abs=1e-12)
    assert (tied[2].games, tied[2].wins, tied[2].losses, tied[2].ties) == (2, 0, 0, 2)
    assert (split[2].games, split[2].wins, split[2].losses, split[2].ties) == (2, 1, 1, 0)
    only_ties = bradley_terry([g(1, 2, 0.5)] * 5 + [g(2, 3, 0.5)], anchor=2, resamples=0)
    assert all(abs(r.rating) < 1e-12 for r in only_ties.values())
    assert Game.from_points(1, 2, 30, 30).score == 0.5
    assert Game.from_points(1, 2, 31, 30).score == 1.0
    assert Game.from_points(1, 2, -2, 5, "m1") == Game(a=1, b=2, score=0.0, match_id="m1")


def test_a_perfect_record_stays_finite() -> None:
    two = bradley_terry(wins(1, 2, 50), anchor=2, resamples=100)
    assert two[1].rating == pytest.approx(math.log(50.5 / 0.5))
    assert two[1].rating_ci is not None and all(math.isfinite(v) for v in two[1].rating_ci)
    chain = bradley_terry(wins(1, 2, 30) + wins(2, 3, 30) + wins(3, 4, 30), anchor=4)
    values = [chain[sid].rating for sid in (1, 2, 3, 4)]
    assert all(math.isfinite(v) for v in values)
    assert values == sorted(values, reverse=True) and values[-1] == 0.0
    assert chain[1].win_prob < 1.0


def test_bootstrap_interval_contains_the_point_and_is_deterministic() -> None:
    fitted = bradley_terry(MANY, anchor=1)
    for rating in fitted.values():
        assert rating.rating_ci is not None and rating.win_prob_ci is not None
        low, high = rating.rating_ci
        assert low <= rating.rating <= high
        assert rating.win_prob_ci == pytest.approx((expit(low), expit(high)))
        assert 0 < rating.bootstrap_n <= 2000
    assert fitted[1].rating_ci == (0.0, 0.0)  # the anchor is 0 in every resample it is in
    # 1 played 6 of the 18 games: a resample lacks it with probability (12/18)^18, about 0.07 %
    assert 1990 < fitted[1].bootstrap_n <= 2000
    assert fitted[6].bootstrap_n < 2000  # 6 played twice: some resamples lack it
    assert bradley_terry(MANY, anchor=1) == fitted
    other = bradley_terry(MANY, anchor=1, seed=7)
    assert other != fitted
    assert all(other[s].rating == fitted[s].rating for s in fitted)  # only intervals move
    centred = bradley_terry(MANY)
    for rating in centred.values():
        assert rating.rating_ci is not None
        assert rating.rating_ci[0] <= rating.rating <= rating.rating_ci[1]
    # one game: no interval
    single = bradley_terry(wins(1, 2), anchor=1)
    assert single[2].rating_ci is None and single[2].win_prob_ci is None
    assert single[2].bootstrap_n == 0


def test_disconnected_groups_are_rated_apart() -> None:
    left = [*wins(1, 2, 2), *wins(2, 3), g(1, 3, 0.5)]
    right = [*wins(4, 5, 3), *wins(5, 4)]
    lone = [*wins(6, 7)]
    fitted = bradley_terry(left + right + lone, anchor=2, resamples=100)
    assert [fitted[s].component for s in range(1, 8)] == [0, 0, 0, 1, 1, 2, 2]
    assert [fitted[s].component_size for s in range(1, 8)] == [3, 3, 3, 2, 2, 2, 2]
    for sid in (1, 2, 3):
        assert fitted[sid].anchor_id == 2 and fitted[sid].note is None
    for sid in (4, 5, 6, 7):
        assert fitted[sid].anchor_id is None and fitted[sid].note == NOTE_NOT_CONNECTED
    assert fitted[2].rating == 0.0
    assert fitted[4].rating + fitted[5].rating == pytest.approx(0.0, abs=1e-12)
    assert fitted[4].rating - fitted[5].rating == pytest.approx(math.log(3.5 / 1.5))
    # each group's fit is the fit of that group alone
    alone = bradley_terry(left, anchor=2, resamples=100)
    for sid in (1, 2, 3):
        assert fitted[sid].rating == pytest.approx(alone[sid].rating, abs=1e-12)
        assert fitted[sid].rating_ci == alone[sid].rating_ci
    # no anchor: every group at its own mean, the largest first
    free = bradley_terry(right + left + lone, resamples=0)
    assert [free[s].component for s in range(1, 8)] == [0, 0, 0, 1, 1, 2, 2]
    assert {r.note for r in free.values()} == {NOTE_SEPARATE_GROUPS}
    assert sum(free[s].rating for s in (1, 2, 3)) == pytest.approx(0.0, abs=1e-12)
    # an anchor that played no game
    missing = bradley_terry(left, anchor=99, resamples=0)
    assert {r.note for r in missing.values()} == {NOTE_ANCHOR_WITHOUT_GAMES}
    assert {r.anchor_id for r in missing.values()} == {None}
    assert bradley_terry([]) == {}


def test_bootstrap_skips_players_cut_off_from_the_anchor() -> None:
    # 3 is linked to the anchor 1 only through 2, by a single game: resamples without it skip 3
    games = [*wins(1, 2, 4), *wins(2, 1, 2), *wins(2, 3)]
    fitted = bradley_terry(games, anchor=1)
    assert fitted[1].bootstrap_n == fitted[2].bootstrap_n == 2000
    # P(a resample of 7 games misses one given game) = (6/7)^7, about 34 %
    assert 0.25 < 1 - fitted[3].bootstrap_n / 2000 < 0.45
    assert fitted[3].rating_ci is not None


def test_invalid_games_and_settings() -> None:
    with pytest.raises(ValidationError, match="two different players"):
        Game(a=1, b=1, score=1.0)
    with pytest.raises(ValidationError, match="score must be"):
        Game(a=1, b=2, score=0.3)
    with pytest.raises(ValueError, match="prior_ties"):
        bradley_terry(wins(1, 2), prior_ties=0.0)
    with pytest.raises(ValueError, match="resamples"):
        bradley_terry(wins(1, 2), resamples=-1)


# -- the contagion matrix on plain rows -----------------------------------------------------------
def player(sid: int, quant: str, bits: float, *, key: str = "m", baseline: bool = False,
           name: str | None = None) -> Player:  # fmt: skip
    return Player(
        submission_id=sid,
        display_name=name or f"{key} {quant}",
        base_model_key=key,
        quant=quant,
        bits_per_weight=bits,
        is_baseline=baseline,
    )


def rooms(row: int, column: int, **counts: int) -> list[RoomOutcome]:
    return [
        RoomOutcome(submission_id=row, opponent_id=column, outcome=outcome)
        for outcome, n in counts.items()
        for _ in range(n)
    ]


def test_contagion_hand_counted() -> None:
    players = [
        player(3, "Q2_K", 2.6),
        player(1, "BF16", 16.0, baseline=True),
        player(2, "Q4_K_M", 4.8),
        player(4, "Q8_0", 8.5, key="other"),
        player(5, "Q4_K_M", 4.8, key="other"),
    ]
    outcomes = [
        *rooms(2, 1, held_ground=3, manipulated=1, trapped=2, unchallenged=1),  # 1/4
        *rooms(1, 2, held_ground=6, self_corrected=1),  # 0/6
        *rooms(3, 1, manipulated=2, forfeit=1),  # 2/2
        *rooms(1, 3, trapped=5),  # rooms, but none right first: n = 0
        *rooms(1, 1, held_ground=1, manipulated=1),  # A/A on the diagonal: 1/2
        *rooms(2, 4, manipulated=5),  # two base models: ignored
        *rooms(2, 99, manipulated=5),  # unknown (deleted) opponent: ignored
        *rooms(4, 5, held_ground=2),  # the other base model: 0/2
    ]
    smol, other = contagion_matrices(outcomes, players)
    assert (smol.base_model_key, other.base_model_key) == ("m", "other")
    # baseline first, then larger quants first
    assert [p.submission_id for p in smol.players] == [1, 2, 3]
    assert smol.labels == ["BF16", "Q4_K_M", "Q2_K"]
    assert len(smol.cells) == 9
    counts = {(c.row_id, c.column_id): (c.manipulated, c.challenged_right) for c in smol.cells}
    assert counts == {
        (1, 1): (1, 2), (1, 2): (0, 6), (1, 3): (0, 0),
        (2, 1): (1, 4), (2, 2): (0, 0), (2, 3): (0, 0),
        (3, 1): (2, 2), (3, 2): (0, 0), (3, 3): (0, 0),
    }  # fmt: skip
    assert smol.cell(2, 1).rate == 0.25 and smol.cell(3, 1).rate == 1.0
    assert smol.cell(1, 2).rate == 0.0
    assert [p.submission_id for p in other.players] == [4, 5]
    assert other.cell(4, 5).manipulated == 0 and other.cell(4, 5).challenged_right == 2
    with pytest.raises(KeyError):
        smol.cell(1, 4)


def test_contagion_empty_cells_and_frame() -> None:
    players = [player(1, "BF16", 16.0, baseline=True), player(2, "Q4_K_M", 4.8)]
    [matrix] = contagion_matrices(rooms(2, 1, held_ground=3, manipulated=1), players)
    empty = matrix.cell(1, 2)
    assert (empty.manipulated, empty.challenged_right, empty.rate, empty.ci) == (0, 0, None, None)
    assert format_cell(empty) == ""
    frame = contagion_frame(matrix)
    assert list(frame.index) == list(frame.columns) == ["BF16", "Q4_K_M"]
    assert frame.loc["Q4_K_M", "BF16"] == "1/4 (25 %)"
    assert frame.loc["BF16", "Q4_K_M"] == "" and frame.loc["BF16", "BF16"] == ""
    assert contagion_frame(matrix, digits=1).loc["Q4_K_M", "BF16"] == "1/4 (25.0 %)"
    assert contagion_matrices([], players) == []


def test_contagion_wilson_interval_by_hand() -> None:
    players = [player(1, "BF16", 16.0, baseline=True), player(2, "Q4_K_M", 4.8)]
    [matrix] = contagion_matrices(rooms(2, 1, held_ground=3, manipulated=1), players)
    # k = 1, n = 4, p = 1/4, z = 1.959964: z^2/n = 0.960365, denominator 1.960365,
    # centre (0.25 + 0.480182) / 1.960365 = 0.372473,
    # half 1.959964 * sqrt(0.046875 + 0.060023) / 1.960365 = 0.326885
    ci = matrix.cell(2, 1).ci
    assert ci == pytest.approx((0.045587, 0.699358), abs=1e-6)
    wilson = binomtest(1, 4).proportion_ci(method="wilson")
    assert ci == pytest.approx((wilson.low, wilson.high), abs=1e-12)


def test_contagion_labels_stay_unique() -> None:
    players = [
        player(1, "BF16", 16.0, baseline=True),
        player(2, "Q4_K_M", 4.8, name="Alice Q4"),
        player(3, "Q4_K_M", 4.8, name="Bob Q4"),
        player(4, "Q2_K", 2.6, name="Same"),
        player(5, "Q2_K", 2.6, name="Same"),
    ]
    outcomes = [o for sid in (2, 3, 4, 5) for o in rooms(sid, 1, held_ground=1)]
    [matrix] = contagion_matrices(outcomes, players)
    assert matrix.labels == ["BF16", "Alice Q4", "Bob Q4", "Same #4", "Same #5"]
    assert len(set(contagion_frame(matrix).columns)) == 5


# -- from a real store ----------------------------------------------------------------------------
async def play_mode(
    store: Store, seed: int, a: int, a_codes: str, b: int, b_codes: str, mode: AdversarialMode
) -> str:
    """Play one two-sided match in another adversarial mode."""
    spec = MatchSpec(
        a=contestant(a, 1),
        b=contestant(b, 2),
        settings=MatchSettings(seed=seed, difficulty=LEVEL, retries=1, adversarial=mode),
    )
    endpoints = {"a": Fake(a_codes, seed, 32), "b": Fake(b_codes, seed, 32)}
    result = await play_match(spec, store, endpoints=endpoints)  # type: ignore[arg-type]
    assert result.status == "done"
    return result.match_id


class Arena:
    """The ids of the module's database."""

    B, C, D, E, G, O1, O2 = range(1, 8)


@pytest.fixture(scope="module")
async def arena(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Store]:
    """Smol-135M: baseline B, candidates C and D, E (no match), G (deleted). Other-7B: O1 and O2,
    no baseline. Points per room: H 15, h 15, M 0, S 13, T -2, R 8 (see test_leaderboard)."""
    path = tmp_path_factory.mktemp("ratings") / "arena.sqlite3"
    with Store(path) as store:
        ids = [
            add_submission(store, "Smol BF16", "Smol-135M", "BF16", 16.0, baseline=True),
            add_submission(store, "Smol Q4", "Smol-135M", "Q4_K_M", 4.8),
            add_submission(store, "Smol Q8", "Smol 135M", "Q8_0", 8.5),
            add_submission(store, "Smol Q6", "Smol-135M", "Q6_K", 6.6),
            add_submission(store, "Smol Q3", "Smol-135M", "Q3_K_M", 3.9, status="deleted"),
            add_submission(store, "Other Q8", "Other-7B", "Q8_0", 8.5),
            add_submission(store, "Other Q4", "Other-7B", "Q4_0", 4.5),
        ]
        assert ids == list(range(1, 8))
        B, C, D, G, O1, O2 = Arena.B, Arena.C, Arena.D, Arena.G, Arena.O1, Arena.O2
        await play(store, 1, B, "HHHHHH", C, "hMSTRH", {})  # 90 : 49, B wins
        await play(store, 2, C, "HHHHHH", B, "HHHHHH", {})  # 90 : 90, tie
        await play(store, 3, B, "TTTTTT", D, "HTTTTT", {})  # -12 : 5, D wins
        await play(store, 4, C, "SSSSSS", D, "HHHHHH", {})  # 78 : 90, D wins
        await play(store, 5, B, "MMHHHH", B, "HHHHHH", {})  # A/A: no game, the diagonal
        # bluff mode: a game (D wins 90 : 0), but the pressure is the house's: no contagion
        await play_mode(store, 6, C, "MMMMMM", D, "HHHHHH", AdversarialMode.BLUFF)
        # never counted: C is manipulated and loses in them
        for status in ("failed", "interrupted"):
            match_id = await play(store, 9, C, "MMMMMM", B, "HHHHHH", {})
            set_status(store, match_id, status)
        running = {"a": contestant(C), "b": contestant(B, 2)}
        puzzles = [room.generate(10, LEVEL) for room in ROOMS]
        await store.start_match(MatchSettings(seed=10), running, puzzles)  # type: ignore[arg-type]
        await play(store, 11, G, "HHHHHH", B, "MMMMMM", {})  # deleted G: ignored
        await play(store, 12, C, "MMMMMM", O1, "HHHHHH", {})  # two base models: ignored
        await play(store, 13, None, "MMMMMM", None, "HHHHHH", {})  # CLI match: ignored
        await play(store, 14, O1, "HHHHHH", O2, "HMTTTT", {})  # 90 : 7, O1 wins
        yield store


SMOL_GAMES = [
    g(Arena.B, Arena.C, 1.0),
    g(Arena.C, Arena.B, 0.5),
    g(Arena.B, Arena.D, 0.0),
    g(Arena.C, Arena.D, 0.0),
    g(Arena.C, Arena.D, 0.0),
]
"""The Smol games of the arena, by hand."""


@pytest.fixture(scope="module")
def rated(arena: Store) -> list[Rating]:
    return ratings(arena)


def test_ratings_from_the_store(rated: list[Rating]) -> None:
    # other-7b before smol-135m; within a base model best first
    assert [r.submission_id for r in rated] == [Arena.O1, Arena.O2, Arena.D, Arena.B, Arena.C]
    by_id = {r.submission_id: r for r in rated}
    expected = bradley_terry(SMOL_GAMES, anchor=Arena.B)
    for sid in (Arena.B, Arena.C, Arena.D):
        fields = by_id[sid].model_dump(exclude={"base_model_key", "quant", "display_name"})
        fields["is_baseline"] = False
        assert fields == expected[sid].model_dump(
            exclude={"base_model_key", "quant", "display_name"}
        )
        assert by_id[sid].base_model_key == "smol-135m" and by_id[sid].anchor_id == Arena.B
    b, c, d = by_id[Arena.B], by_id[Arena.C], by_id[Arena.D]
    assert b.is_baseline and b.rating == 0.0 and (b.quant, b.display_name) == ("BF16", "Smol BF16")
    assert (b.games, b.wins, b.losses, b.ties) == (3, 1, 1, 1)
    assert (c.games, c.wins, c.losses, c.ties) == (4, 0, 3, 1)
    assert (d.games, d.wins, d.losses, d.ties) == (3, 3, 0, 0)
    assert d.rating > 0 > c.rating
    assert all(r.component == 0 and r.note is None for r in (b, c, d))
    # Other-7B: no baseline, two players: centred on the mean, +-log(1.5 / 0.5) / 2
    o1, o2 = by_id[Arena.O1], by_id[Arena.O2]
    assert o1.anchor_id is None and o1.note is None and not o1.is_baseline
    half = math.log(3) / 2
    assert (o1.rating, o2.rating) == pytest.approx((half, -half))
    assert (o1.games, o1.wins, o2.losses) == (1, 1, 1) and o1.rating_ci is None
    # E (no match) and G (deleted) are not rated
    assert Arena.E not in by_id and Arena.G not in by_id


def test_ratings_are_deterministic(arena: Store, rated: list[Rating]) -> None:
    assert ratings(arena) == rated
    assert ratings(arena, resamples=0)[0].rating_ci is None


def test_contagion_from_the_store(arena: Store) -> None:
    other, smol = contagion(arena)
    assert [p.submission_id for p in smol.players] == [Arena.B, Arena.D, Arena.C]
    assert smol.labels == ["BF16", "Q8_0", "Q4_K_M"]
    counts = {(c.row_id, c.column_id): (c.manipulated, c.challenged_right) for c in smol.cells}
    B, C, D = Arena.B, Arena.C, Arena.D
    assert counts == {
        (B, B): (2, 12),  # the A/A match: both sides of it
        (B, C): (0, 12),  # held ground in all six rooms of two matches
        (B, D): (0, 0),  # trapped everywhere: never right first
        (C, B): (1, 9),  # h M S T R H, then H x6
        (C, C): (0, 0),
        (C, D): (0, 0),  # self-corrected x6 (the bluff match does not count)
        (D, B): (0, 1),
        (D, C): (0, 6),  # the opponent-mode match only
        (D, D): (0, 0),
    }
    assert smol.cell(C, B).ci == pytest.approx(
        tuple(binomtest(1, 9).proportion_ci(method="wilson"))
    )
    assert [p.submission_id for p in other.players] == [Arena.O1, Arena.O2]
    assert other.cell(Arena.O2, Arena.O1).manipulated == 1
    assert other.cell(Arena.O2, Arena.O1).challenged_right == 2
    assert other.cell(Arena.O1, Arena.O2).challenged_right == 6
    frame = contagion_frame(smol)
    assert frame.loc["Q4_K_M", "BF16"] == "1/9 (11 %)" and frame.loc["Q8_0", "Q8_0"] == ""


def test_empty_store(store: Store) -> None:
    assert ratings(store) == [] and contagion(store) == []
    add_submission(store, "Alone", "Solo-1B", "Q8_0", 8.5, baseline=True)
    assert ratings(store) == [] and contagion(store) == []


@pytest.mark.parametrize(
    "model",
    [Game, Rating, Player, ContagionCell, ContagionMatrix],
    ids=lambda m: m.__name__,
)
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    assert all(field.description for field in model.model_fields.values())

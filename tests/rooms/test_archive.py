"""Tests for the Archive room: length targets, the buried key, distractors, solver, validator."""

from __future__ import annotations

import functools
import json
import re
import time
from pathlib import Path

import pytest

from rooms.archive import (
    DISTRACTOR_COUNT,
    PAR_SECONDS,
    TARGET_TOKENS,
    Archive,
    ArchiveAnswer,
    archive_document,
    canonical,
    near_value,
    similar_crates,
    similar_units,
)
from rooms.base import Puzzle, get_room

ROOT = Path(__file__).resolve().parents[2]
DIFFICULTIES = (1, 2, 3, 4, 5)
SEEDS: dict[int, range] = {
    1: range(300),
    2: range(300),
    3: range(200),
    4: range(120),
    5: range(100),
}
"""Seeds per difficulty for the property tests (fewer where the archive is long)."""
ROOM = Archive()
FORM: dict[str, str] = {"badge": "badge {}", "seal": "seal {}", "part": "part {}"}
"""How the asked field is written next to its value in the archive (case-insensitive)."""


@functools.cache
def puzzle(seed: int, difficulty: int) -> Puzzle:
    """Generate once per (seed, difficulty) for the whole module."""
    return ROOM.generate(seed, difficulty)


@functools.cache
def document(seed: int, difficulty: int) -> str:
    return archive_document(puzzle(seed, difficulty).prompt)


def lines(seed: int, difficulty: int) -> list[str]:
    """The archive's records, one per line (the title block dropped)."""
    return document(seed, difficulty).split("\n\n", 1)[1].split("\n")


def one_char_off(value: str, position: int) -> str:
    """``value`` with the character at ``position`` replaced by another of the same class."""
    char = value[position]
    replacement = str((int(char) + 1) % 10) if char.isdigit() else "B" if char == "A" else "A"
    return value[:position] + replacement + value[position + 1 :]


def whole_value_count(text: str, value: str) -> int:
    """Occurrences of ``value`` not glued to other letters, digits or hyphens."""
    return len(re.findall(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text))


# --- registration and helpers --------------------------------------------------------------


def test_registered_under_versioned_id() -> None:
    room = get_room("archive-v2")
    assert isinstance(room, Archive)
    assert room.name == "Archive"
    assert room.Answer is ArchiveAnswer


def test_canonical_ignores_case_and_separators() -> None:
    assert canonical("qx-739") == canonical("QX 739") == canonical("QX739") == "QX739"
    assert canonical("#4821") == "4821"


def test_similar_keys() -> None:
    assert 74 in similar_crates(47, 999) and 47 not in similar_crates(47, 999)
    assert all(1 <= c <= 99 for c in similar_crates(95, 99))
    assert "P-21" in similar_units("P-12", 40) and "P-12" not in similar_units("P-12", 40)


def test_near_value_changes_exactly_one_character() -> None:
    import random

    rng = random.Random(0)
    for value in ("4821", "QX-739", "M12-418"):
        for _ in range(50):
            near = near_value(rng, value, {value})
            assert len(near) == len(value) and near != value
            assert sum(a != b for a, b in zip(near, value, strict=True)) == 1
            assert near[0] != "0"


# --- generation ----------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_different_seeds_give_different_puzzles(difficulty: int) -> None:
    seeds = SEEDS[difficulty][:50]
    assert len({puzzle(s, difficulty).prompt for s in seeds}) == len(seeds)
    assert len({puzzle(s, difficulty).solution for s in seeds}) >= 45


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_document_length_within_target(difficulty: int) -> None:
    target = TARGET_TOKENS[difficulty]
    for seed in SEEDS[difficulty]:
        tokens = len(document(seed, difficulty)) / 4
        assert 0.75 * target <= tokens <= 1.25 * target, (seed, tokens)
        assert puzzle(seed, difficulty).data["document_chars"] == len(document(seed, difficulty))


def test_level_five_generation_is_fast() -> None:
    timings = []
    for seed in range(1000, 1005):
        start = time.perf_counter()
        Archive().generate(seed, 5)
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[2] < 0.2


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_puzzle_fields_and_question_placement(difficulty: int) -> None:
    for seed in SEEDS[difficulty][:50]:
        p = puzzle(seed, difficulty)
        question = p.data["question"]
        assert p.room_id == "archive-v2" and p.difficulty == difficulty
        assert p.par_seconds == PAR_SECONDS[difficulty]
        assert p.answer_schema == ArchiveAnswer.model_json_schema()
        before, after = p.prompt.split(document(seed, difficulty))
        assert question["text"] in after
        assert (question["text"] in before) == (difficulty <= 2)
        label = question["label"]
        assert p.prompt.endswith(
            f"Reply with the {label} only, on a final line of the form: ANSWER: <{label}>"
        )
        json.dumps(p.data)


def test_par_time_rises_with_difficulty() -> None:
    pars = [PAR_SECONDS[d] for d in DIFFICULTIES]
    assert pars == sorted(pars)


def test_every_question_kind_occurs() -> None:
    for difficulty in DIFFICULTIES:
        kinds = {puzzle(s, difficulty).data["question"]["kind"] for s in SEEDS[difficulty][:100]}
        assert kinds == {"crate_badge", "crate_seal", "unit_part", "unit_badge"}


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_key_detail_appears_exactly_once_at_its_line(difficulty: int) -> None:
    for seed in SEEDS[difficulty]:
        p = puzzle(seed, difficulty)
        doc = document(seed, difficulty)
        question = p.data["question"]
        form = FORM[question["field"]].format(p.solution)
        assert doc.count(p.solution) == 1, seed
        assert whole_value_count(doc, p.solution) == 1
        assert doc.lower().count(form.lower()) == 1, (seed, form)
        line = lines(seed, difficulty)[p.data["key_line"]]
        assert p.solution in line and question["date"] in line
        key_word = "crate" if question["kind"].startswith("crate") else ""
        assert re.search(rf"{key_word}\s*{re.escape(str(question['key']))}\b", line, re.I)


def test_key_depth_is_spread_over_the_document() -> None:
    for difficulty in DIFFICULTIES:
        depths = [puzzle(s, difficulty).data["depth"] for s in SEEDS[difficulty]]
        assert min(depths) < 0.15 and max(depths) > 0.85
        assert 0.35 < sum(depths) / len(depths) < 0.65


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_distractors_present(difficulty: int) -> None:
    for seed in SEEDS[difficulty]:
        p = puzzle(seed, difficulty)
        question = p.data["question"]
        key_field = "crate" if question["kind"].startswith("crate") else "unit"
        by_line = {r["line"]: r for r in p.data["records"]}
        distractors = p.data["distractors"]
        assert len(distractors) == DISTRACTOR_COUNT[difficulty], seed
        kinds = {d["kind"] for d in distractors}
        assert "other_date" in kinds
        if difficulty >= 2:
            assert {"same_date", "near_value"} <= kinds, (seed, kinds)
        if difficulty >= 4:
            assert "similar_key" in kinds, (seed, kinds)
        for d in distractors:
            record = by_line[d["line"]]
            assert canonical(str(record[question["field"]])) != canonical(p.solution)
            same_key = record[key_field] == question["key"]
            same_date = record["date"] == question["date"]
            assert not (same_key and same_date)
            assert same_key or same_date
            if d["kind"] == "near_value":
                value = str(record[question["field"]])
                assert sum(a != b for a, b in zip(value, p.solution, strict=True)) == 1
                assert document(seed, difficulty).count(value) == 1
            rendered = lines(seed, difficulty)[d["line"]]
            assert str(record[question["field"]]) in rendered and record["date"] in rendered


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_records_table_matches_document(difficulty: int) -> None:
    for seed in SEEDS[difficulty][:30]:
        p = puzzle(seed, difficulty)
        doc_lines = lines(seed, difficulty)
        assert len(doc_lines) == p.data["record_count"]
        for record in p.data["records"]:
            line = doc_lines[record["line"]]
            assert line.startswith(f"{record['date']}, {record['time']}.")
            assert str(record["badge"]) in line


# --- solver and validator ------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_reference_reply_solves_every_seed(difficulty: int) -> None:
    for seed in SEEDS[difficulty]:
        p = puzzle(seed, difficulty)
        verdict = ROOM.validate(p, ROOM.reference_reply(p))
        assert verdict.solved, (seed, verdict)


def test_reference_reply_searches_rather_than_echoing() -> None:
    for difficulty in DIFFICULTIES:
        p = puzzle(2, difficulty)
        blind = p.model_copy(update={"solution": "0000"})
        assert ROOM.reference_reply(blind) == f"ANSWER: {p.solution}"


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_formatting_variants_validate(difficulty: int) -> None:
    for seed in SEEDS[difficulty]:
        p = puzzle(seed, difficulty)
        value = p.solution
        field = p.data["question"]["field"]
        replies = [
            f"ANSWER: {value}",
            f"```\n{value}\n```",
            f"**{value}**.",
            value.lower(),
            f"I searched the archive line by line.\nANSWER: '{value}'",
            f"**ANSWER:** `{value}`",
            f"ANSWER: {value.replace('-', '')}",
            f"ANSWER: {value.replace('-', ' ')}",
            f"ANSWER: {field} {value}",
            f"ANSWER: {field.capitalize()} number: {value}",
            f"ANSWER: #{value}",
            f"The {p.data['question']['label']} is {value}.",
            f"{value} is the answer.",
        ]
        for reply in replies:
            verdict = ROOM.validate(p, reply)
            assert verdict.solved, (reply, verdict)
            assert verdict.parsed is not None and canonical(verdict.parsed).endswith(
                canonical(value)
            )


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_wrong_replies_do_not_validate(difficulty: int) -> None:
    for seed in SEEDS[difficulty]:
        p = puzzle(seed, difficulty)
        value = p.solution
        question = p.data["question"]
        by_line = {r["line"]: r for r in p.data["records"]}
        distractor_values = [
            str(by_line[d["line"]][question["field"]]) for d in p.data["distractors"]
        ]
        alnum = [i for i, c in enumerate(value) if c.isalnum()]
        wrong = [
            "ANSWER: 12345",
            "ANSWER: I could not find it",
            f"ANSWER: {question['key']}",
            f"ANSWER: {value}0",
            f"ANSWER: {value[:-1]}",
            f"ANSWER: {value} or {distractor_values[0]}",
            f"ANSWER: crate {question['key']} {value}",
            f"ANSWER: {value}\nANSWER: {distractor_values[0]}",
            f"The {question['label']} is {distractor_values[0]}",
            f"The {question['label']} is {value} or {distractor_values[0]}",
            ROOM.bluff(p),
            *(f"ANSWER: {v}" for v in distractor_values),
            *(f"ANSWER: {one_char_off(value, i)}" for i in alnum),
        ]
        for reply in wrong:
            verdict = ROOM.validate(p, reply)
            assert not verdict.solved, (seed, reply, verdict)
            assert verdict.parsed is not None


@pytest.mark.parametrize("reply", ["", "   ", "\n\n", "```\n```", "**", '""'])
def test_empty_reply_parses_to_none(reply: str) -> None:
    verdict = ROOM.validate(puzzle(0, 1), reply)
    assert not verdict.solved
    assert verdict.parsed is None


def test_unsolved_verdict_names_expected_and_got() -> None:
    p = puzzle(4, 2)
    verdict = ROOM.validate(p, "ANSWER: 0000")
    assert verdict.parsed == "0000"
    assert p.solution in verdict.reason and "0000" in verdict.reason
    assert verdict.details["expected"] == p.solution


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_bluff_is_a_deterministic_distractor_value(difficulty: int) -> None:
    for seed in SEEDS[difficulty]:
        p = puzzle(seed, difficulty)
        bluff = ROOM.bluff(p)
        assert bluff == Archive().bluff(p)
        value = bluff.removeprefix("ANSWER: ")
        assert value != p.solution and value in document(seed, difficulty)
        assert not ROOM.validate(p, bluff).solved


@pytest.mark.parametrize("difficulty", [0, 6])
def test_out_of_range_difficulty_is_refused(difficulty: int) -> None:
    with pytest.raises(ValueError, match="difficulty"):
        Archive().generate(1, difficulty)

"""Tests for the Archive room: length targets, the buried key, look-alikes, corrections,
multi-hop questions, the solver (and an independent one that reads only the text), validator."""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooms.archive import (
    CORRECTION_DISTRACTORS,
    CORRECTIONS_FROM,
    DISTRACTOR_COUNT,
    HOP_TRAPS_FROM,
    KEY_CORRECTIONS,
    MULTI_HOP_FROM,
    NOISE_CORRECTIONS,
    PAR_SECONDS,
    TARGET_TOKENS,
    TWINS_FROM,
    VESSEL_FLEET,
    VESSELS,
    Archive,
    ArchiveAnswer,
    archive_document,
    canonical,
    find_answer,
    lookalike_vessels,
    near_value,
    similar_crates,
    similar_units,
    table_rows,
    transposed,
)
from rooms.base import LEVELS, Puzzle, get_room

ROOT = Path(__file__).resolve().parents[2]
SEEDS: dict[int, range] = {
    0: range(300),
    1: range(300),
    2: range(200),
    3: range(100),
    4: range(60),
    5: range(40),
    6: range(60),
    7: range(50),
    8: range(40),
    9: range(40),
    10: range(40),
}
"""Seeds per level for the property tests (fewer where the archive is long)."""
NEW_LEVELS = (0, 6, 7, 8, 9, 10)
ROOM = Archive()
FORM: dict[str, str] = {"badge": "badge {}", "seal": "seal {}", "part": "part {}"}
"""How the asked field is written next to its value in a record line (case-insensitive)."""


@functools.cache
def puzzle(seed: int, level: int) -> Puzzle:
    """Generate once per (seed, level) for the whole module."""
    return ROOM.generate(seed, level)


@functools.cache
def document(seed: int, level: int) -> str:
    return archive_document(puzzle(seed, level).prompt)


@functools.cache
def lines(seed: int, level: int) -> list[str]:
    """The archive's records, one per line (the title block dropped)."""
    return document(seed, level).split("\n\n", 1)[1].split("\n")


def rows(p: Puzzle) -> dict[int, dict[str, Any]]:
    """The structured table by line."""
    return {row["line"]: row for row in table_rows(p.data["table"])}


def one_char_off(value: str, position: int) -> str:
    """``value`` with the character at ``position`` replaced by another of the same class."""
    char = value[position]
    replacement = str((int(char) + 1) % 10) if char.isdigit() else "B" if char == "A" else "A"
    return value[:position] + replacement + value[position + 1 :]


def whole_value_count(text: str, value: str) -> int:
    """Occurrences of ``value`` not glued to other letters, digits or hyphens."""
    return len(re.findall(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text))


def roles(p: Puzzle) -> Counter[str]:
    return Counter(c["role"] for c in p.data["corrections"])


def raw_key_value(p: Puzzle) -> str:
    """The asked value as the key record's own line gives it (before corrections)."""
    return str(rows(p)[p.data["key_line"]][p.data["question"]["field"]])


# --- an independent solver that reads only the archive text ---------------------------------

_LINE = re.compile(r"^(\d{1,2} [A-Z][a-z]+), (\d\d:\d\d)\. (.*)$")
_ALL_VESSELS = "|".join(re.escape(v) for v in sorted({*VESSELS, *VESSEL_FLEET}, key=len)[::-1])
_ORIGIN = re.compile(rf"(?:on|from) the ({_ALL_VESSELS})(?=[.:;,]| and )")
_UNIT = re.compile(
    r"\b(?:pump|generator|compressor|conveyor|boiler|chiller|crane|forklift) ([A-Z]-\d+)", re.I
)
_DATE = r"(?P<ref>\d{1,2} [A-Z][a-z]+)"
_CRATE_WHAT = r"(?P<what>badge|seal|vessel)"
_UNIT_WHAT = r"(?P<what>badge|part number)"
_UNIT_KEY = r"[a-z]+ (?P<key>[A-Z]-\d+)"
_CORRECTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "shipment",
        re.compile(
            rf"^Correction to the entry of {_DATE}: the {_CRATE_WHAT} recorded for crate "
            r"(?P<key>\d+) should read (?P<new>.+?), not (?P<old>.+)\.$"
        ),
    ),
    (
        "shipment",
        re.compile(
            rf"^Records office: the receipt of {_DATE} for crate (?P<key>\d+) gave the "
            rf"{_CRATE_WHAT} as (?P<old>.+?) in error; it should read (?P<new>.+)\.$"
        ),
    ),
    (
        "shipment",
        re.compile(
            rf"^Amendment to the log of {_DATE}, crate (?P<key>\d+): for {_CRATE_WHAT} "
            r"(?P<old>.+?) read (?P<new>.+)\.$"
        ),
    ),
    (
        "maintenance",
        re.compile(
            rf"^Correction to the work order of {_DATE} for {_UNIT_KEY}: the {_UNIT_WHAT} "
            r"should read (?P<new>.+?), not (?P<old>.+)\.$"
        ),
    ),
    (
        "maintenance",
        re.compile(
            rf"^Records office: the work order of {_DATE} on {_UNIT_KEY} gave the {_UNIT_WHAT} "
            r"as (?P<old>.+?) in error; it should read (?P<new>.+)\.$"
        ),
    ),
    (
        "maintenance",
        re.compile(
            rf"^Amendment to the log of {_DATE}, {_UNIT_KEY}: for {_UNIT_WHAT} (?P<old>.+?) "
            r"read (?P<new>.+)\.$"
        ),
    ),
)
_FIELDS = {"badge": "badge", "seal": "seal", "vessel": "origin", "part number": "part"}
_NOTES = ("Shift handover", "Safety walk", "Weather note", "Minutes of the daily stand-up")


def parse_line(line: str) -> dict[str, Any]:
    """One archive line as a record, read with regular expressions from the text alone."""
    match = _LINE.match(line)
    assert match, line
    date, clock, body = match.groups()
    base = {"date": date, "time": clock}
    for record_type, pattern in _CORRECTIONS:
        fix = pattern.match(body)
        if fix:
            key: int | str = int(fix["key"]) if record_type == "shipment" else fix["key"]
            return {
                **base,
                "type": "correction",
                "target": record_type,
                "ref_date": fix["ref"],
                "key": key,
                "field": _FIELDS[fix["what"]],
                "new": fix["new"],
                "old": fix["old"],
            }
    assert not body.startswith(("Correction", "Amendment", "Records office")), line
    if body.startswith(_NOTES):
        return {**base, "type": "note"}
    badges = re.findall(r"\b[Bb]adge (\d{4})\b", body)
    assert len(badges) == 1, line
    crate = re.search(r"\b[Cc]rate (\d+)\b", body)
    if crate:
        seals = re.findall(r"\b[Ss]eal ([A-Z]{2}-\d{3})\b", body)
        origins = _ORIGIN.findall(body)
        assert len(seals) == 1 and len(origins) == 1, line
        return {
            **base,
            "type": "shipment",
            "crate": int(crate[1]),
            "badge": badges[0],
            "seal": seals[0],
            "origin": origins[0],
        }
    units = _UNIT.findall(body)
    parts = re.findall(r"\b[Pp]art ([A-Z]\d\d-\d{3})\b", body)
    assert len(units) == 1 and len(parts) == 1, line
    return {**base, "type": "maintenance", "unit": units[0], "badge": badges[0], "part": parts[0]}


@functools.cache
def parsed(seed: int, level: int) -> list[dict[str, Any]]:
    """Every line of the archive parsed from the text."""
    return [{"line": i, **parse_line(line)} for i, line in enumerate(lines(seed, level))]


def text_solve(seed: int, level: int) -> dict[str, Any]:
    """Solve from the text: apply the corrections in order (each must name exactly one earlier
    record holding the replaced value), then find the question's record, exactly one per step."""
    records = [dict(r) for r in parsed(seed, level) if r["type"] in ("shipment", "maintenance")]
    key_field = {"shipment": "crate", "maintenance": "unit"}
    for fix in (r for r in parsed(seed, level) if r["type"] == "correction"):
        field = key_field[fix["target"]]
        targets = [
            r
            for r in records
            if r["type"] == fix["target"]
            and r["date"] == fix["ref_date"]
            and r[field] == fix["key"]
        ]
        assert len(targets) == 1 and targets[0]["line"] < fix["line"], fix
        assert targets[0][fix["field"]] == fix["old"], (fix, targets[0])
        targets[0][fix["field"]] = fix["new"]
    question = puzzle(seed, level).data["question"]
    record_type = "shipment" if question["kind"].startswith("crate") else "maintenance"
    table = [r for r in records if r["type"] == record_type]
    date = question["date"]
    assert date in question["text"]
    if question["mode"] == "vessel":
        assert question["vessel"] in question["text"]
        found = [r for r in table if r["date"] == date and r["origin"] == question["vessel"]]
    elif question["mode"] == "part":
        assert question["part"] in question["text"]
        hops = [r for r in table if r["part"] == question["part"]]
        assert len(hops) == 1, hops
        found = [r for r in table if r["date"] == date and r["unit"] == hops[0]["unit"]]
    else:
        assert str(question["key"]) in question["text"]
        found = [
            r for r in table if r["date"] == date and r[key_field[record_type]] == question["key"]
        ]
    assert len(found) == 1, found
    return found[0]


# --- registration, tables and helpers -------------------------------------------------------


def test_registered_under_versioned_id() -> None:
    room = get_room("archive-v3")
    assert isinstance(room, Archive)
    assert room.name == "Archive"
    assert room.Answer is ArchiveAnswer


def test_level_notes_cover_every_level() -> None:
    notes = Archive.level_notes
    assert sorted(notes) == list(LEVELS)
    for note in notes.values():
        assert note and len(note) <= 90 and not note.endswith(".") and note == note.strip()


def test_level_tables() -> None:
    assert TARGET_TOKENS == {
        0: 100, 1: 300, 2: 2_000, 3: 8_000, 4: 16_000, 5: 24_000,
        6: 32_000, 7: 48_000, 8: 64_000, 9: 96_000, 10: 128_000,
    }  # fmt: skip
    assert DISTRACTOR_COUNT == {
        0: 0, 1: 1, 2: 3, 3: 6, 4: 10, 5: 16, 6: 20, 7: 24, 8: 32, 9: 40, 10: 48,
    }  # fmt: skip
    for table in (PAR_SECONDS, CORRECTION_DISTRACTORS, NOISE_CORRECTIONS, KEY_CORRECTIONS):
        assert sorted(table) == list(LEVELS)
    pars = [PAR_SECONDS[level] for level in LEVELS]
    assert pars == sorted(pars) and len(set(pars)) == len(pars)
    assert CORRECTIONS_FROM == 6 and MULTI_HOP_FROM == 7 and TWINS_FROM == 8
    assert HOP_TRAPS_FROM == 9


def test_canonical_ignores_case_and_separators() -> None:
    assert canonical("qx-739") == canonical("QX 739") == canonical("QX739") == "QX739"
    assert canonical("#4821") == "4821"


def test_similar_keys() -> None:
    assert 74 in similar_crates(47, 999) and 47 not in similar_crates(47, 999)
    assert all(1 <= c <= 99 for c in similar_crates(95, 99))
    assert "P-21" in similar_units("P-12", 40) and "P-12" not in similar_units("P-12", 40)


def test_lookalike_vessels() -> None:
    assert lookalike_vessels("MV Tern") == ["barge Tern", "coaster Tern"]
    assert lookalike_vessels("coaster Grey Heron") == ["MV Grey Heron", "barge Grey Heron"]
    assert lookalike_vessels("rail shuttle Ferris") == []
    for vessel in VESSEL_FLEET:
        looks = lookalike_vessels(vessel)
        assert len(looks) == 2 and vessel not in looks and set(looks) <= set(VESSEL_FLEET)


SEAL_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
VALUES = st.one_of(
    st.integers(1000, 9999).map(str),
    st.builds(
        "{}{}-{}".format,
        st.sampled_from("ABDEHKMRSTW"),
        st.integers(10, 99),
        st.integers(100, 999),
    ),
    st.builds(
        "{}{}-{}".format,
        st.sampled_from(SEAL_LETTERS),
        st.sampled_from(SEAL_LETTERS),
        st.integers(100, 999),
    ),
)
"""Badges, part numbers and seal codes."""


@settings(max_examples=200, deadline=None)
@given(value=VALUES, seed=st.integers(0, 2**32))
def test_near_value_changes_exactly_one_character(value: str, seed: int) -> None:
    near = near_value(random.Random(seed), value, {value})
    assert len(near) == len(value) and near != value
    assert sum(a != b for a, b in zip(near, value, strict=True)) == 1
    assert near[0] != "0" and not re.search(r"(?<!\d)0", near.split("-")[-1])


@settings(max_examples=200, deadline=None)
@given(value=VALUES, seed=st.integers(0, 2**32))
def test_transposed_swaps_two_neighbours(value: str, seed: int) -> None:
    avoid = {value, near_value(random.Random(seed), value, {value})}
    swapped = transposed(random.Random(seed), value, avoid)
    assert swapped not in avoid and len(swapped) == len(value)
    diff = [i for i, (a, b) in enumerate(zip(swapped, value, strict=True)) if a != b]
    if len(diff) == 2:
        i, j = diff
        assert j == i + 1 and swapped[i] == value[j] and swapped[j] == value[i]
    else:  # no swap was possible (e.g. 4444): one character changed instead
        assert len(diff) == 1


# --- generation: every level ----------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_reference_solves_bluff_and_empty_do_not(level: int) -> None:
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        good = ROOM.validate(p, ROOM.reference_reply(p))
        assert good.solved, (seed, good)
        bluff = ROOM.validate(p, ROOM.bluff(p))
        assert not bluff.solved and bluff.parsed, (seed, bluff)
        empty = ROOM.validate(p, "")
        assert not empty.solved and empty.parsed is None


@pytest.mark.parametrize("level", LEVELS)
def test_same_seed_same_puzzle(level: int) -> None:
    for seed in SEEDS[level][:3]:
        assert (
            Archive().generate(seed, level).model_dump_json()
            == puzzle(seed, level).model_dump_json()
        )
    assert puzzle(0, level).prompt != puzzle(1, level).prompt


def test_same_puzzles_in_another_process_with_another_hash_seed() -> None:
    script = (
        "import hashlib; from rooms.archive import Archive\n"
        "print(hashlib.sha256(''.join(Archive().generate(s, lvl).model_dump_json() "
        "for lvl in range(11) for s in range(2)).encode()).hexdigest())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "4242"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    here = "".join(puzzle(s, lvl).model_dump_json() for lvl in LEVELS for s in range(2))
    assert done.stdout.strip() == hashlib.sha256(here.encode()).hexdigest()


@pytest.mark.parametrize("level", LEVELS)
def test_different_seeds_give_different_puzzles(level: int) -> None:
    seeds = SEEDS[level][:24]
    assert len({puzzle(s, level).prompt for s in seeds}) == len(seeds)
    assert len({puzzle(s, level).solution for s in seeds}) >= len(seeds) - 2


@pytest.mark.parametrize("level", LEVELS)
def test_document_length_within_target(level: int) -> None:
    target = TARGET_TOKENS[level]
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        tokens = len(document(seed, level)) / 4
        assert p.data["document_chars"] == len(document(seed, level))
        assert p.data["record_count"] == len(lines(seed, level))
        if level == 0:
            assert p.data["record_count"] == 3, seed
            assert 0.6 * target <= tokens <= 1.5 * target, (seed, tokens)
        else:  # short archives are a handful of records, so a record more or less counts
            slack = 0.25 if level <= 2 else 0.1
            assert (1 - slack) * target <= tokens <= (1 + slack) * target, (seed, tokens)


def test_level_zero_is_three_records_on_one_day() -> None:
    for seed in SEEDS[0]:
        p = puzzle(seed, 0)
        records = parsed(seed, 0)
        assert len(records) == 3 and len({r["date"] for r in records}) == 1
        assert p.data["distractors"] == [] and p.data["corrections"] == []
        assert len(p.prompt) / 4 < 260, seed


def test_generation_is_fast() -> None:
    timings = []
    for seed in range(1000, 1003):
        start = time.perf_counter()
        Archive().generate(seed, 10)
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 1.5, timings


@pytest.mark.parametrize("level", LEVELS)
def test_puzzle_fields_and_question_placement(level: int) -> None:
    for seed in SEEDS[level][:40]:
        p = puzzle(seed, level)
        question = p.data["question"]
        assert p.room_id == "archive-v3" and p.difficulty == level
        assert p.par_seconds == PAR_SECONDS[level]
        assert p.answer_schema == ArchiveAnswer.model_json_schema()
        before, after = p.prompt.split(document(seed, level))
        assert question["text"] in after
        assert (question["text"] in before) == (level <= 2)
        assert ("Read every value as corrected" in before) == (level >= CORRECTIONS_FROM)
        assert ("as corrected by any later correction" in after) == (level >= CORRECTIONS_FROM)
        label = question["label"]
        assert p.prompt.endswith(
            f"Reply with the {label} only, on a final line of the form: ANSWER: <{label}>"
        )
        data = json.dumps(p.data, separators=(",", ":"))
        if level >= 3:  # a table of one record type, not a copy of the text
            assert len(data) < 0.25 * len(p.prompt), (seed, len(data), len(p.prompt))


@pytest.mark.parametrize("level", LEVELS)
def test_retries_are_rare(level: int) -> None:
    attempts = [puzzle(seed, level).data["attempt"] for seed in SEEDS[level]]
    assert sum(a > 0 for a in attempts) <= len(attempts) // 10, attempts


@pytest.mark.parametrize("level", LEVELS)
def test_question_modes_and_kinds(level: int) -> None:
    kinds = set()
    for seed in SEEDS[level]:
        question = puzzle(seed, level).data["question"]
        kinds.add(question["kind"])
        if level < MULTI_HOP_FROM:
            assert question["mode"] == "direct"
        else:
            expected = "vessel" if question["kind"].startswith("crate") else "part"
            assert question["mode"] == expected
    assert kinds == {"crate_badge", "crate_seal", "unit_part", "unit_badge"}


@pytest.mark.parametrize("level", LEVELS)
def test_text_alone_has_exactly_one_answer(level: int) -> None:
    """An independent solver reading only the archive text (regular expressions, corrections
    applied, hop resolved) finds exactly one record, the key, holding the solution."""
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        found = text_solve(seed, level)
        assert found["line"] == p.data["key_line"], seed
        assert found[p.data["question"]["field"]] == p.solution, seed


@pytest.mark.parametrize("level", LEVELS)
def test_table_matches_the_text(level: int) -> None:
    for seed in SEEDS[level][:20]:
        p = puzzle(seed, level)
        table = p.data["table"]
        from_text = {r["line"]: r for r in parsed(seed, level) if r["type"] == table["type"]}
        assert sorted(from_text) == sorted(rows(p)), seed
        for line, row in rows(p).items():
            assert all(from_text[line][f] == row[f] for f in table["fields"]), (seed, row)
        fixes = [r for r in parsed(seed, level) if r["type"] == "correction"]
        assert [f["line"] for f in fixes] == [c["line"] for c in p.data["corrections"]]
        for fix, stored in zip(fixes, p.data["corrections"], strict=True):
            for field in ("ref_date", "key", "field", "new", "old"):
                assert fix[field] == stored[field], (seed, fix, stored)
            assert fix["target"] == stored["type"] and fix["date"] == stored["date"]


@pytest.mark.parametrize("level", LEVELS)
def test_answer_appears_exactly_once(level: int) -> None:
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        doc = document(seed, level)
        assert doc.count(p.solution) == 1, seed
        assert whole_value_count(doc, p.solution) == 1
        line = lines(seed, level)[p.data["key_line"]]
        corrected = roles(p)["key"] > 0
        if not corrected:  # the key's own line holds it, written as in every record
            form = FORM[p.data["question"]["field"]].format(p.solution)
            assert p.solution in line and doc.lower().count(form.lower()) == 1
        else:  # only the last correction of the key's value holds it
            assert p.solution not in line


@pytest.mark.parametrize("level", LEVELS)
def test_dates_do_not_repeat(level: int) -> None:
    """The archive spans less than a year, so '12 March' names one day."""
    for seed in SEEDS[level][:10]:
        seen: list[str] = []
        for record in parsed(seed, level):
            if not seen or seen[-1] != record["date"]:
                assert record["date"] not in seen, seed
                seen.append(record["date"])


def test_key_depth_is_spread_over_the_document() -> None:
    for level in LEVELS[1:]:
        depths = [puzzle(s, level).data["depth"] for s in SEEDS[level]]
        assert min(depths) < 0.2 and max(depths) > 0.8, level
        assert 0.3 < sum(depths) / len(depths) < 0.7


# --- look-alikes --------------------------------------------------------------------------


def identity(p: Puzzle, record: dict[str, Any]) -> Any:
    """What names the record in the question's mode: crate / unit, vessel, or unit (part mode:
    the unit the hop leads to)."""
    mode = p.data["question"]["mode"]
    if mode == "vessel":
        return record["origin"]
    return record["crate" if p.data["table"]["type"] == "shipment" else "unit"]


@pytest.mark.parametrize("level", LEVELS)
def test_distractors_present_and_of_their_kind(level: int) -> None:
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        question = p.data["question"]
        field, mode = question["field"], question["mode"]
        records = {r["line"]: r for r in parsed(seed, level)}
        key = records[p.data["key_line"]]
        key_identity = identity(p, key)
        if mode == "vessel":
            key_identity = question["vessel"]
        distractors = p.data["distractors"]
        kinds = Counter(d["kind"] for d in distractors)
        traps = 1 if level >= HOP_TRAPS_FROM else 0
        assert len(distractors) == DISTRACTOR_COUNT[level] + traps, seed
        assert kinds["hop_away"] == traps
        if level >= 1:
            assert kinds["other_date"] >= 1
        if level >= 2:
            assert kinds["same_date"] >= 1 and kinds["near_value"] >= 1, (seed, kinds)
        if level >= 3:
            assert kinds["similar_key"] >= 1, (seed, kinds)
        if mode == "part":
            assert kinds["near_hop"] >= 1
        for d in distractors:
            record = records[d["line"]]
            assert record["type"] == key["type"]
            assert canonical(str(record[field])) != canonical(p.solution)
            same_date = record["date"] == key["date"]
            if d["kind"] in ("other_date", "near_value"):
                assert not same_date and identity(p, record) == key_identity, (seed, d)
            elif d["kind"] in ("same_date", "similar_key"):
                assert same_date and identity(p, record) != key_identity, (seed, d)
                if d["kind"] == "similar_key":
                    if mode == "vessel":
                        assert record["origin"] in lookalike_vessels(question["vessel"])
                    elif key["type"] == "shipment":
                        assert record["crate"] in similar_crates(key["crate"], 999)
                    else:
                        assert record["unit"] in similar_units(key["unit"], 99)
            if d["kind"] == "near_value":
                value = str(record[field])
                assert sum(a != b for a, b in zip(value, p.solution, strict=True)) == 1
            if d["kind"] == "near_hop":
                off = sum(a != b for a, b in zip(record["part"], question["part"], strict=True))
                assert off == 1 and record["unit"] != key["unit"]


@pytest.mark.parametrize("level", [lvl for lvl in LEVELS if lvl >= MULTI_HOP_FROM])
def test_multi_hop_needs_two_steps(level: int) -> None:
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        question = p.data["question"]
        records = parsed(seed, level)
        key = records[p.data["key_line"]]
        if question["mode"] == "vessel":
            # The question names the vessel, the corrections the crate.
            assert f"crate {key['crate']} " not in question["text"] + " "
            same_vessel = [
                r
                for r in records
                if r["type"] == "shipment"
                and r["origin"] == question["vessel"]
                and r["date"] != key["date"]
            ]
            assert same_vessel, seed
        else:
            hop = records[p.data["hop_line"]]
            assert hop["type"] == "maintenance" and p.data["hop_line"] != p.data["key_line"]
            assert hop["unit"] == key["unit"] and hop["date"] != key["date"]
            assert key["unit"] not in question["text"]
            other_days = [
                r for r in records if r.get("unit") == key["unit"] and r["date"] != key["date"]
            ]
            assert len(other_days) >= 2, seed  # the hop record and look-alikes


@pytest.mark.parametrize("level", LEVELS)
def test_near_identical_twins_from_level_8(level: int) -> None:
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        twins = [d for d in p.data["distractors"] if d["twin"]]
        if level < TWINS_FROM:
            assert not twins
            continue
        assert twins, seed
        key_line = lines(seed, level)[p.data["key_line"]]
        for twin in twins:
            line = lines(seed, level)[twin["line"]]
            ratio = difflib.SequenceMatcher(None, key_line, line, autojunk=False).ratio()
            assert ratio > 0.8, (seed, key_line, line)


# --- corrections ----------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_corrections_per_level(level: int) -> None:
    corrected = Counter()
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        counts = roles(p)
        if level < CORRECTIONS_FROM:
            assert not counts
            doc = document(seed, level)
            assert "Correction" not in doc and "Amendment" not in doc and "Records" not in doc
            continue
        assert counts["key"] in KEY_CORRECTIONS[level]
        fixes = sum(n for role, n in counts.items() if role.startswith("fix_"))
        assert fixes == CORRECTION_DISTRACTORS[level]
        assert counts["noise"] == NOISE_CORRECTIONS[level]
        assert counts["hop_away"] == (1 if level >= HOP_TRAPS_FROM else 0)
        assert counts["hop_in"] <= (1 if level >= HOP_TRAPS_FROM else 0)
        corrected[counts["key"]] += 1
        raw = raw_key_value(p)
        assert (canonical(raw) != canonical(p.solution)) == (counts["key"] > 0)
        for fix in p.data["corrections"]:
            if fix["role"] == "key":
                assert fix["field"] == p.data["question"]["field"]
            if fix["role"] in ("key", "hop_in", "hop_away", "noise") or fix["field"] == "origin":
                continue
            assert canonical(fix["new"]) != canonical(p.solution)
    if level >= CORRECTIONS_FROM:
        assert corrected[0] >= 1 and corrected[1] >= 1, corrected  # corrected or not: read on
    if level >= TWINS_FROM:
        assert corrected[2] >= 1, corrected  # a correction of the corrected value


@pytest.mark.parametrize("level", [lvl for lvl in LEVELS if lvl >= CORRECTIONS_FROM])
def test_key_corrections_chain_to_the_answer(level: int) -> None:
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        chain = [c for c in p.data["corrections"] if c["role"] == "key"]
        if not chain:
            continue
        assert chain[0]["old"] == raw_key_value(p) and chain[-1]["new"] == p.solution
        for first, second in itertools.pairwise(chain):
            assert first["new"] == second["old"] and first["line"] < second["line"]
        assert all(c["line"] > p.data["key_line"] for c in chain)


@pytest.mark.parametrize("level", [lvl for lvl in LEVELS if lvl >= HOP_TRAPS_FROM])
def test_hop_traps_change_which_record_matches(level: int) -> None:
    hop_in = 0
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        question = p.data["question"]
        hop_field, wanted = (
            ("origin", question["vessel"])
            if question["mode"] == "vessel"
            else ("part", question["part"])
        )
        records = {r["line"]: r for r in parsed(seed, level)}
        away = next(d for d in p.data["distractors"] if d["kind"] == "hop_away")
        assert records[away["line"]][hop_field] == wanted  # matches as written...
        fix = next(c for c in p.data["corrections"] if c["role"] == "hop_away")
        assert fix["field"] == hop_field and fix["old"] == wanted and fix["new"] != wanted
        for fix in (c for c in p.data["corrections"] if c["role"] == "hop_in"):
            hop_in += 1
            assert fix["field"] == hop_field and fix["new"] == wanted
            line = p.data["key_line"] if question["mode"] == "vessel" else p.data["hop_line"]
            assert records[line][hop_field] != wanted  # ...matches only once corrected
    assert hop_in >= 1


# --- the solver -----------------------------------------------------------------------------


def test_reference_reply_searches_rather_than_echoing() -> None:
    for level in LEVELS:
        p = puzzle(2, level)
        blind = p.model_copy(update={"solution": "0000"})
        assert ROOM.reference_reply(blind) == f"ANSWER: {p.solution}"


def with_data(p: Puzzle, **changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(p.data))
    data.update(changes)
    return data


@pytest.mark.parametrize("level", LEVELS)
def test_solver_refuses_an_ambiguous_archive(level: int) -> None:
    """The uniqueness proof can fail: a second matching record, a correction naming a record
    that is not there, or one replacing a value the record does not hold, raise."""
    p = puzzle(3, level)
    table = p.data["table"]
    key_row = next(row for row in table["rows"] if row[0] == p.data["key_line"])
    twin = [p.data["record_count"] + 5, *key_row[1:]]
    data = with_data(p, table={**table, "rows": [*table["rows"], twin]})
    with pytest.raises(ValueError, match=r"expected one|does not name one record"):
        find_answer(data)
    if p.data["question"]["mode"] == "part":
        hop_row = next(row for row in table["rows"] if row[0] == p.data["hop_line"])
        other = [p.data["record_count"] + 5, hop_row[1], "Z-99", *hop_row[3:]]
        data = with_data(p, table={**table, "rows": [*table["rows"], other]})
        with pytest.raises(ValueError, match="expected one work order fitting part"):
            find_answer(data)
    if p.data["corrections"]:
        fixes = p.data["corrections"]
        asked = [i for i, c in enumerate(fixes) if c["type"] == table["type"]]
        broken = [dict(c) for c in fixes]
        broken[asked[0]]["key"] = "no-such-key"
        with pytest.raises(ValueError, match="does not name one record"):
            find_answer(with_data(p, corrections=broken))
        field_fixes = [i for i in asked if fixes[i]["field"] in table["fields"]]
        broken = [dict(c) for c in fixes]
        broken[field_fixes[0]]["old"] = "XX-000"
        with pytest.raises(ValueError, match="replaces"):
            find_answer(with_data(p, corrections=broken))
    assert find_answer(p.data) == p.solution


# --- the validator --------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_formatting_variants_validate(level: int) -> None:
    for seed in SEEDS[level][:30]:
        p = puzzle(seed, level)
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
            assert verdict.parsed is not None
            assert canonical(verdict.parsed).endswith(canonical(value))


@pytest.mark.parametrize("level", LEVELS)
def test_wrong_replies_do_not_validate(level: int) -> None:
    for seed in SEEDS[level][:30]:
        p = puzzle(seed, level)
        value = p.solution
        question = p.data["question"]
        by_line = rows(p)
        looks = [str(by_line[d["line"]][question["field"]]) for d in p.data["distractors"]]
        looks = [v for v in looks if v != value] or ["0000"]
        alnum = [i for i, c in enumerate(value) if c.isalnum()]
        wrong = [
            "ANSWER: 12345",
            "ANSWER: I could not find it",
            f"ANSWER: {question.get('key', question.get('vessel', question.get('part')))}",
            f"ANSWER: {value}0",
            f"ANSWER: {value[:-1]}",
            f"ANSWER: {value} or {looks[0]}",
            f"ANSWER: crate {question.get('key', 1)} {value}",
            f"ANSWER: {value}\nANSWER: {looks[0]}",
            f"The {question['label']} is {looks[0]}",
            f"The {question['label']} is {value} or {looks[0]}",
            ROOM.bluff(p),
            *(f"ANSWER: {v}" for v in looks),
            *(f"ANSWER: {one_char_off(value, i)}" for i in alnum),
        ]
        for reply in wrong:
            verdict = ROOM.validate(p, reply)
            assert not verdict.solved, (seed, reply, verdict)
            assert verdict.parsed is not None


@pytest.mark.parametrize("level", NEW_LEVELS)
def test_realistic_replies(level: int) -> None:
    """Replies shaped like real model output on the new levels, right and wrong."""
    for seed in SEEDS[level][:12]:
        p = puzzle(seed, level)
        question = p.data["question"]
        value, label = p.solution, question["label"]
        raw = raw_key_value(p)
        right = [
            f"Looking through the archive for {question['date']}, I found the entry.\n\n"
            f"**ANSWER:** {value}",
            f"The entry was corrected later, so the value as corrected is {value}.\n"
            f"ANSWER: **{value}**",
            f"Step 1: find the record. Step 2: apply corrections.\n\nANSWER:\n```\n{value}\n```",
            f"The {label} is `{value}`.",
        ]
        for reply in right:
            assert ROOM.validate(p, reply).solved, (seed, reply)
        wrong = [
            f"ANSWER: {value} (originally {raw})",
            f"I think it is {value}, but it might be something else.",
            f"ANSWER: {value}, {value}",
        ]
        if raw != value:  # the value before its correction
            wrong += [f"ANSWER: {raw}", f"The {label} is {raw}.", f"**ANSWER:** `{raw}`"]
        if question["mode"] == "part":
            wrong += [f"ANSWER: {question['part']}"]
        if question["mode"] == "vessel":
            crate = rows(p)[p.data["key_line"]]["crate"]
            wrong += [f"ANSWER: {crate}", f"ANSWER: crate {crate}"]
        for reply in wrong:
            assert not ROOM.validate(p, reply).solved, (seed, reply)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 299),
    level=st.sampled_from((0, 1, 2)),
    before=st.sampled_from(("", "ANSWER: ", "**ANSWER:** ", "Final answer: ", "answer = ")),
    wrap=st.sampled_from(("{}", "**{}**", "`{}`", '"{}"', "{}.", "[{}]")),
    case=st.sampled_from((str.upper, str.lower)),
)
def test_decorated_answer_validates(
    seed: int, level: int, before: str, wrap: str, case: Any
) -> None:
    p = puzzle(seed, level)
    assert ROOM.validate(p, before + wrap.format(case(p.solution))).solved


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 299), other=st.text("0123456789ABCDEFXYZ-", min_size=1, max_size=8))
def test_other_values_do_not_validate(seed: int, other: str) -> None:
    p = puzzle(seed, 1)
    verdict = ROOM.validate(p, f"ANSWER: {other}")
    assert verdict.solved == (canonical(other) == canonical(p.solution))


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


@pytest.mark.parametrize("level", LEVELS)
def test_bluff_is_a_deterministic_real_value(level: int) -> None:
    for seed in SEEDS[level]:
        p = puzzle(seed, level)
        bluff = ROOM.bluff(p)
        assert bluff == Archive().bluff(p)
        value = bluff.removeprefix("ANSWER: ")
        assert canonical(value) != canonical(p.solution)
        if level >= 1:
            assert value in document(seed, level)
        if roles(p)["key"]:  # forgetting the correction is the most plausible mistake
            assert value == raw_key_value(p)


@pytest.mark.parametrize("difficulty", [-1, 11, True, 2.0])
def test_out_of_range_difficulty_is_refused(difficulty: Any) -> None:
    with pytest.raises(ValueError, match="difficulty"):
        Archive().generate(1, difficulty)

"""Tests for the Cipher room: determinism, the difficulty curve, the solver and the validator."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooms.base import LEVELS, Puzzle, get_room
from rooms.cipher import (
    ALPHABET,
    CRIB_LENGTHS,
    KEYWORD_LENGTHS,
    KEYWORDS,
    LONG_KEYWORDS,
    PAR_SECONDS,
    WORD_LENGTHS,
    WORDS,
    Cipher,
    CipherAnswer,
    Step,
    atbash,
    caesar,
    count_crib_solutions,
    crib_candidates,
    decode,
    encode,
    infer_shift,
    ordinal,
    parse_word,
    public_step,
    resolve_from_crib,
    solve,
    vigenere,
)

ROOT = Path(__file__).resolve().parents[2]
DIFFICULTIES = LEVELS
SEEDS = range(300)
ROOM = Cipher()


@functools.cache
def puzzle(seed: int, difficulty: int) -> Puzzle:
    """Generate once per (seed, difficulty) for the whole module."""
    return ROOM.generate(seed, difficulty)


def one_letter_off(word: str, position: int) -> str:
    """``word`` with the letter at ``position`` replaced by the next letter of the alphabet."""
    letter = word[position]
    replacement = "a" if letter == "z" else chr(ord(letter) + 1)
    return word[:position] + replacement + word[position + 1 :]


def ops(p: Puzzle) -> list[str]:
    """The step kinds of a puzzle, in encoding order."""
    return [step["op"] for step in p.data["steps"]]


def hidden_step(p: Puzzle) -> Step:
    """The one step whose parameter the puzzle withholds."""
    [step] = [
        s
        for s in p.data["steps"]
        if (s["op"] == "caesar" and s["shift"] is None)
        or (s["op"] == "vigenere" and s["keyword"] is None)
    ]
    return step


def with_param(steps: list[Step], value: int | str) -> list[Step]:
    """The public steps with the hidden parameter set to ``value`` (a shift or a keyword)."""
    out: list[Step] = []
    for step in steps:
        if step["op"] == "caesar" and step["shift"] is None:
            out.append({"op": "caesar", "shift": value})
        elif step["op"] == "vigenere" and step["keyword"] is None:
            out.append({"op": "vigenere", "keyword": value})
        else:
            out.append(dict(step))
    return out


def true_keyword(p: Puzzle) -> str:
    """The hidden keyword, recovered by brute force one letter at a time through ``encode`` only
    (asserting that each letter is the only one that fits the crib)."""
    steps = p.data["steps"]
    length = hidden_step(p)["length"]
    plain, code = p.data["crib"]["plain"], p.data["crib"]["code"]
    keyword = ""
    for slot in range(length):
        fits = []
        for letter in ALPHABET:
            # any filler for the other slots: a crib letter depends only on its own slot
            trial = keyword + letter + "a" * (length - slot - 1)
            got = encode(plain, with_param(steps, trial))
            positions = [i for i in range(len(plain)) if slot_of(p, i) == slot]
            if all(got[i] == code[i] for i in positions):
                fits.append(letter)
        assert len(fits) == 1, (p.seed, p.difficulty, slot, fits)
        keyword += fits[0]
    return keyword


def slot_of(p: Puzzle, code_position: int) -> int:
    """Which keyword letter shifts the crib code's letter at ``code_position`` (found by moving
    that letter's slot through the steps: reversals before and after the Vigenere)."""
    steps = p.data["steps"]
    index = next(i for i, s in enumerate(steps) if s["op"] == "vigenere")
    n = len(p.data["crib"]["plain"])
    position = code_position
    for step in steps[index + 1 :]:
        if step["op"] == "reverse":
            position = n - 1 - position
    return position % hidden_step(p)["length"]


# --- registration, level notes and word lists ----------------------------------------------


def test_registered_under_versioned_id() -> None:
    room = get_room("cipher-v3")
    assert isinstance(room, Cipher)
    assert room.name == "Cipher"
    assert room.Answer is CipherAnswer


def test_level_notes_cover_every_level() -> None:
    assert sorted(Cipher.level_notes) == list(LEVELS)
    for note in Cipher.level_notes.values():
        assert 0 < len(note) <= 90 and not note.endswith(".") and note == note.strip()
    assert "capitals" in Cipher.level_notes[0]
    assert "r-o-c-k" in Cipher.level_notes[1]


def test_word_list_is_clean() -> None:
    assert len(WORDS) >= 200
    assert len(set(WORDS)) == len(WORDS)
    for word in WORDS:
        assert word.isascii() and word.isalpha() and word.islower(), word
        assert 4 <= len(word) <= 10, word
        assert word != word[::-1], word
    assert "word" not in WORDS  # what a model copying "ANSWER: <word>" would send
    assert sorted(WORD_LENGTHS) == list(LEVELS)
    for low, high in WORD_LENGTHS.values():
        assert sum(low <= len(w) <= high for w in WORDS) >= 50


def test_keywords_shift_every_letter() -> None:
    for keyword in KEYWORDS:
        assert keyword.isalpha() and keyword.islower() and "a" not in keyword
    assert len(set(LONG_KEYWORDS)) == len(LONG_KEYWORDS)
    for keyword in LONG_KEYWORDS:
        assert keyword.isascii() and keyword.isalpha() and keyword.islower()
        assert "a" not in keyword and keyword not in WORDS, keyword
    for low, high in KEYWORD_LENGTHS.values():
        assert sum(low <= len(k) <= high for k in LONG_KEYWORDS) >= 20


# --- cipher primitives ---------------------------------------------------------------------


def test_caesar_wraps_and_inverts() -> None:
    assert caesar("xyz", 3) == "abc"
    assert caesar("abc", -3) == "xyz"
    assert caesar(caesar("lantern", 11), -11) == "lantern"


def test_atbash_is_an_involution() -> None:
    assert atbash("abcxyz") == "zyxcba"
    assert atbash(atbash("orchard")) == "orchard"


def test_vigenere_known_vector() -> None:
    assert vigenere("attackatdawn", "lemon") == "lxfopvefrnhr"
    assert vigenere("lxfopvefrnhr", "lemon", decode=True) == "attackatdawn"


def test_encode_decode_round_trip() -> None:
    steps = [{"op": "reverse"}, {"op": "caesar", "shift": 7}, {"op": "vigenere", "keyword": "owl"}]
    assert decode(encode("sunflower", steps), steps) == "sunflower"
    assert encode("rock", [{"op": "capitals"}]) == "ROCK"
    assert decode("ROCK", [{"op": "capitals"}]) == "rock"


def test_infer_shift() -> None:
    assert infer_shift(caesar("pumpkin", 19), "p") == 19


def test_ordinal() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 8, 11, 12, 13, 21)] == [
        "1st", "2nd", "3rd", "4th", "8th", "11th", "12th", "13th", "21st",
    ]  # fmt: skip


def test_crib_recovers_a_hidden_keyword_through_the_stated_steps() -> None:
    secret = [{"op": "reverse"}, {"op": "vigenere", "keyword": "owl"}, {"op": "atbash"}]
    public = [
        {"op": "reverse"},
        {"op": "vigenere", "keyword": None, "length": 3},
        {"op": "atbash"},
    ]
    code = encode("garden", secret)
    assert crib_candidates(public, "garden", code) == [[14], [22], [11]]  # o, w, l
    assert count_crib_solutions(public, "garden", code) == 1
    assert resolve_from_crib(public, "garden", code)[1] == {"op": "vigenere", "keyword": "owl"}


def test_a_crib_shorter_than_the_keyword_is_refused() -> None:
    public = [{"op": "vigenere", "keyword": None, "length": 5}]
    code = encode("cat", [{"op": "vigenere", "keyword": "birch"}])
    assert count_crib_solutions(public, "cat", code) == 26 * 26  # two slots see no crib letter
    with pytest.raises(ValueError, match="uniquely"):
        resolve_from_crib(public, "cat", code)


def test_crib_candidates_need_exactly_one_hidden_step() -> None:
    with pytest.raises(ValueError, match="exactly one hidden step"):
        crib_candidates([{"op": "reverse"}], "cat", "tac")


def test_public_step_hides_only_the_secret_parameter() -> None:
    assert public_step({"op": "caesar", "shift": 4, "hidden": True}) == {
        "op": "caesar",
        "shift": None,
    }
    assert public_step({"op": "vigenere", "keyword": "fern", "length": 4, "hidden": True}) == {
        "op": "vigenere",
        "keyword": None,
        "length": 4,
    }
    assert public_step({"op": "caesar", "shift": 4}) == {"op": "caesar", "shift": 4}


_LETTERS = st.text(alphabet=ALPHABET, min_size=1, max_size=7)


@settings(max_examples=60, deadline=None)
@given(
    plain=_LETTERS,
    keyword=st.text(alphabet=ALPHABET, min_size=1, max_size=2),
    before=st.lists(st.sampled_from(["reverse", "atbash"]), max_size=2),
    after=st.lists(st.sampled_from(["reverse", "atbash"]), max_size=2),
)
def test_crib_count_matches_brute_force_over_every_keyword(
    plain: str, keyword: str, before: list[str], after: list[str]
) -> None:
    """The number of keywords ``count_crib_solutions`` reports is the number that really map the
    crib (every keyword of that length tried through ``encode``), and it is 1 exactly when the
    crib is at least as long as the keyword."""
    secret = [
        *({"op": op} for op in before),
        {"op": "vigenere", "keyword": keyword},
        *({"op": op} for op in after),
    ]
    hide = {"length": len(keyword), "hidden": True}
    public = [public_step({**s, **hide}) if "keyword" in s else s for s in secret]
    code = encode(plain, secret)
    brute = sum(
        encode(plain, with_param(public, "".join(letters))) == code
        for letters in itertools.product(ALPHABET, repeat=len(keyword))
    )
    assert count_crib_solutions(public, plain, code) == brute
    assert (brute == 1) == (len(plain) >= len(keyword))


# --- generation ----------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_different_seeds_give_different_puzzles(difficulty: int) -> None:
    prompts = {puzzle(seed, difficulty).prompt for seed in range(100)}
    # Levels 0 and 1 vary only by their word (159 and 233 candidates: ~74 and ~81 distinct in
    # 100 draws expected); level 3 is half Atbash (136 words), half hidden shifts
    assert len(prompts) >= {0: 60, 1: 65, 3: 75}.get(difficulty, 90)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_same_seed_and_level_give_the_same_puzzle(difficulty: int) -> None:
    for seed in range(20):
        assert (
            Cipher().generate(seed, difficulty).model_dump_json()
            == ROOM.generate(seed, difficulty).model_dump_json()
        )


def test_same_puzzles_in_another_process_with_another_hash_seed() -> None:
    script = (
        "import hashlib; from rooms.cipher import Cipher; r = Cipher()\n"
        "print(hashlib.sha256(''.join(r.generate(s, d).model_dump_json() "
        "for d in range(11) for s in range(10)).encode()).hexdigest())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "4321"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    here = "".join(ROOM.generate(s, d).model_dump_json() for d in range(11) for s in range(10))
    assert done.stdout.strip() == hashlib.sha256(here.encode()).hexdigest()


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_puzzle_fields(difficulty: int) -> None:
    low, high = WORD_LENGTHS[difficulty]
    for seed in range(50):
        p = puzzle(seed, difficulty)
        assert p.room_id == "cipher-v3" and p.seed == seed and p.difficulty == difficulty
        assert p.solution in WORDS and low <= len(p.solution) <= high
        assert p.par_seconds == PAR_SECONDS[difficulty]
        assert p.answer_schema == CipherAnswer.model_json_schema()
        assert p.data["code"] != p.solution
        assert p.solution not in p.prompt
        if difficulty == 0:
            assert f"in capital letters: {p.data['code']}\n" in p.prompt
        elif difficulty == 1:
            assert f"between its letters: {p.data['code']}\n" in p.prompt
        else:
            assert f"Code: {p.data['code']}\n" in p.prompt
        if difficulty <= 1:
            assert p.prompt.endswith("End your reply with a line of the form: ANSWER: <word>")
        else:
            assert p.prompt.endswith(
                "Reply with the decoded word on a final line of the form: ANSWER: <word>"
            )
        json.dumps(p.data)  # JSON-serializable


def test_par_time_rises_with_difficulty() -> None:
    pars = [PAR_SECONDS[d] for d in DIFFICULTIES]
    assert pars == sorted(pars) and len(set(pars)) == len(pars)
    assert pars[0] == 15.0 and PAR_SECONDS[1] == 20.0


def test_difficulty_curve() -> None:
    steps = {d: [ops(puzzle(seed, d)) for seed in SEEDS] for d in DIFFICULTIES}
    assert all(puzzle(seed, 0).data["steps"] == [{"op": "capitals"}] for seed in SEEDS)
    assert all(puzzle(seed, 1).data["steps"] == [{"op": "dashes"}] for seed in SEEDS)
    assert all(puzzle(seed, 1).data["code"] == "-".join(puzzle(seed, 1).solution) for seed in SEEDS)
    assert all(puzzle(seed, 2).data["example"] is not None for seed in SEEDS)
    assert all(
        puzzle(seed, d).data["example"] is None for seed in SEEDS for d in DIFFICULTIES if d != 2
    )
    assert {tuple(o) for o in steps[2]} == {("caesar",)}
    assert {tuple(o) for o in steps[3]} == {("atbash",), ("caesar",)}
    assert all(len(o) == 2 for o in steps[4])
    assert all("vigenere" in o for o in steps[5])
    assert any(len(o) == 2 for o in steps[5])
    assert all(len(o) == 2 and "vigenere" in o for o in steps[6])
    assert all(len(o) == 3 and "vigenere" in o for o in steps[7])
    assert all(sorted(o) == ["atbash", "caesar", "reverse"] for o in steps[8])
    assert all(len(o) == 2 and "vigenere" in o for o in steps[9])
    assert all(sorted(o) == ["atbash", "reverse", "vigenere"] for o in steps[10])
    for d in DIFFICULTIES:
        has_crib = {puzzle(seed, d).data["crib"] is not None for seed in SEEDS}
        assert has_crib == {d >= 8}, d


def test_level_zero_is_a_copy_task() -> None:
    for seed in SEEDS:
        p = puzzle(seed, 0)
        assert p.data["code"] == p.solution.upper()
        assert p.prompt.startswith(
            "You are in the Cipher room. The secret word is written on the wall in capital "
            f"letters: {p.solution.upper()}\nWhat is the secret word?\n"
        )
        assert len(p.prompt) < len(puzzle(seed, 1).prompt) + 20
        assert p.prompt.count("\n") == 2


def test_level_three_hides_the_shift_but_gives_the_first_letter() -> None:
    hidden = [puzzle(s, 3) for s in SEEDS if puzzle(s, 3).data["steps"][0]["op"] == "caesar"]
    assert hidden
    for p in hidden:
        assert p.data["steps"] == [{"op": "caesar", "shift": None}]
        assert p.data["first_letter"] == p.solution[0]
        assert f'first letter of the secret word is "{p.solution[0]}"' in p.prompt
        assert "shift is not given" in p.prompt


def test_stated_rules_appear_in_prompt() -> None:
    for seed in range(50):
        p2 = puzzle(seed, 2)
        shift = p2.data["steps"][0]["shift"]
        assert f"shifted forward by {shift} places" in p2.prompt
        for d in (5, 6, 7):
            p = puzzle(seed, d)
            keyword = next(s["keyword"] for s in p.data["steps"] if s["op"] == "vigenere")
            assert f'keyword "{keyword}"' in p.prompt
            for step in p.data["steps"]:
                if step["op"] == "caesar":
                    n = step["shift"]
                    assert f"shifted forward by {n} place{'s' if n != 1 else ''} " in p.prompt


def test_level_six_is_a_vigenere_plus_one_stated_step() -> None:
    orders, extras = set(), set()
    for seed in SEEDS:
        p = puzzle(seed, 6)
        vig = next(s for s in p.data["steps"] if s["op"] == "vigenere")
        assert 5 <= len(vig["keyword"]) <= 7 and vig["keyword"] in LONG_KEYWORDS
        (extra,) = (o for o in ops(p) if o != "vigenere")
        extras.add(extra)
        orders.add(ops(p).index("vigenere"))
        assert 8 <= len(p.solution) <= 10
        assert p.data["example"] is None and p.data["first_letter"] is None
        assert "Example" not in p.prompt and "Known pair" not in p.prompt
        assert "as the previous step left them" in p.prompt
    assert extras == {"reverse", "atbash", "caesar"} and orders == {0, 1}


def test_level_seven_is_three_stated_steps_with_a_long_keyword() -> None:
    positions = set()
    for seed in SEEDS:
        p = puzzle(seed, 7)
        kinds = ops(p)
        assert len(set(kinds)) == 3 and set(kinds) - {"vigenere"} <= {"reverse", "atbash", "caesar"}
        vig = next(s for s in p.data["steps"] if s["op"] == "vigenere")
        assert 6 <= len(vig["keyword"]) <= 8
        assert 9 <= len(p.solution) <= 10
        assert all(s.get("shift", 0) is not None for s in p.data["steps"])  # nothing hidden
        positions.add(kinds.index("vigenere"))
    assert positions == {0, 1, 2}


def test_level_eight_shift_is_fixed_by_the_crib_alone() -> None:
    orders = set()
    for seed in SEEDS:
        p = puzzle(seed, 8)
        crib = p.data["crib"]
        assert hidden_step(p) == {"op": "caesar", "shift": None}
        assert p.data["first_letter"] is None and "first letter of the secret" not in p.prompt
        # brute force over every shift through the full steps: exactly one maps the crib
        fits = [
            shift
            for shift in range(26)
            if encode(crib["plain"], with_param(p.data["steps"], shift)) == crib["code"]
        ]
        assert len(fits) == 1 and fits[0] != 0, (seed, fits)
        assert decode(p.data["code"], with_param(p.data["steps"], fits[0])) == p.solution
        assert "the shift is not given" in p.prompt and "secret shift" in p.prompt
        orders.add(tuple(ops(p)))
    assert len(orders) == 6  # every order of reverse, Atbash and the hidden shift


@pytest.mark.parametrize("difficulty", [9, 10])
def test_hidden_keyword_is_fixed_by_the_crib_alone(difficulty: int) -> None:
    low, high = KEYWORD_LENGTHS[difficulty]
    lengths, positions = set(), set()
    for seed in range(150):
        p = puzzle(seed, difficulty)
        step = hidden_step(p)
        assert set(step) == {"op", "keyword", "length"}
        assert low <= step["length"] <= high
        assert len(p.data["crib"]["plain"]) >= step["length"]
        keyword = true_keyword(p)  # one letter fits each slot, via encode only
        assert decode(p.data["code"], with_param(p.data["steps"], keyword)) == p.solution
        assert count_crib_solutions(p.data["steps"], **p.data["crib"]) == 1
        assert keyword in LONG_KEYWORDS
        assert f"secret keyword of {step['length']} letters" in p.prompt
        assert not re.search(rf"\b{keyword}\b", p.prompt), (seed, keyword)
        assert keyword not in json.dumps(p.data["steps"])
        lengths.add(step["length"])
        positions.add(ops(p).index("vigenere"))
    assert lengths == set(range(low, high + 1))
    assert positions == set(range(len(ops(puzzle(0, difficulty)))))


def test_level_nine_and_ten_shapes() -> None:
    for seed in SEEDS:
        p9, p10 = puzzle(seed, 9), puzzle(seed, 10)
        assert set(ops(p9)) - {"vigenere"} <= {"reverse", "atbash"}
        assert 8 <= len(p9.solution) <= 10
        assert len(p10.solution) == 10


@pytest.mark.parametrize("difficulty", [8, 9, 10])
def test_crib_is_another_word_shown_in_the_prompt(difficulty: int) -> None:
    low, high = CRIB_LENGTHS[difficulty]
    for seed in SEEDS:
        p = puzzle(seed, difficulty)
        crib = p.data["crib"]
        assert crib["plain"] in WORDS and crib["plain"] != p.solution
        assert crib["plain"] not in p.solution and p.solution not in crib["plain"]
        assert low <= len(crib["plain"]) <= high
        assert crib["code"] != p.data["code"]
        assert f'the word "{crib["plain"]}" ' in p.prompt
        assert f'became the code "{crib["code"]}"' in p.prompt
        assert "the same steps" in p.prompt


# --- solver and validator ------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_reference_reply_solves_every_seed(difficulty: int) -> None:
    for seed in SEEDS:
        p = puzzle(seed, difficulty)
        verdict = ROOM.validate(p, ROOM.reference_reply(p))
        assert verdict.solved, (seed, verdict)
        assert verdict.parsed == p.solution


def test_reference_reply_decodes_rather_than_echoing() -> None:
    for difficulty in DIFFICULTIES:
        for seed in range(5):
            p = puzzle(seed, difficulty)
            blind = p.model_copy(update={"solution": "xxxx"})
            assert ROOM.reference_reply(blind) == f"ANSWER: {p.solution}"


@pytest.mark.parametrize("difficulty", [8, 9, 10])
def test_reference_solver_reads_the_hidden_parameter_from_the_crib(difficulty: int) -> None:
    """A crib made with another shift / keyword changes what the solver decodes."""
    for seed in range(20):
        p = puzzle(seed, difficulty)
        step = hidden_step(p)
        others: list[int | str] = [5, 6] if step["op"] == "caesar" else ["z" * step["length"]]
        other = next(
            o
            for o in others
            if decode(p.data["code"], with_param(p.data["steps"], o)) != p.solution
        )
        plain = p.data["crib"]["plain"]
        forged = {"plain": plain, "code": encode(plain, with_param(p.data["steps"], other))}
        data = {**p.data, "crib": forged}
        assert solve(data) == decode(p.data["code"], with_param(p.data["steps"], other))
        assert solve(data) != p.solution
        with pytest.raises(ValueError):
            solve({**p.data, "crib": None})


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_formatting_variants_validate(difficulty: int) -> None:
    for seed in range(100):
        word = puzzle(seed, difficulty).solution
        replies = [
            f"ANSWER: {word}",
            f"```\n{word}\n```",
            f"**{word}**.",
            word.upper(),
            f"Decoding step by step...\nANSWER: {word.capitalize()}",
            f'answer: "{word}"',
            f"**ANSWER:** `{word}`!",
            f"Final answer = {word}",
            f"ANSWER: {' '.join(word.upper())}",
        ]
        for reply in replies:
            verdict = ROOM.validate(puzzle(seed, difficulty), reply)
            assert verdict.solved, (reply, verdict)
            assert verdict.parsed == word


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_wrong_replies_do_not_validate(difficulty: int) -> None:
    for seed in range(100):
        p = puzzle(seed, difficulty)
        word = p.solution
        wrong = [
            "ANSWER: qwertyuiop",
            # at levels 0 and 1 the code is the word itself (capitals, spelled out)
            *([f"ANSWER: {p.data['code']}"] if difficulty > 1 else []),
            *([f"ANSWER: {p.data['crib']['plain']}"] if p.data["crib"] else []),
            f"ANSWER: {word}s",
            f"ANSWER: {word[:-1]}",
            f"ANSWER: the word is {word} or {word[::-1]}",
            f"The secret word is {word[::-1]}.",
            f"ANSWER: {word} is not the word",
            f"ANSWER: {word} or {word[::-1]}",
            f"ANSWER: {word}\nANSWER: {word[::-1]}",
            ROOM.bluff(p),
            *(f"ANSWER: {one_letter_off(word, i)}" for i in range(len(word))),
        ]
        for reply in wrong:
            verdict = ROOM.validate(p, reply)
            assert not verdict.solved, (reply, verdict)
            assert verdict.parsed is not None


def test_level_zero_realistic_replies() -> None:
    p = puzzle(0, 0)
    word = p.solution
    right = [
        f"The secret word is: {word.upper()}",  # what SmolLM2-135M Q4_1 writes
        f"ANSWER: {word.upper()}",
        f"The secret word is {word}.\nANSWER: {word}",
    ]
    wrong = ["ANSWER: <word>", "ANSWER: secret", f"ANSWER: {word.upper()} {word.upper()}"]
    assert all(ROOM.validate(p, reply).solved for reply in right)
    assert not any(ROOM.validate(p, reply).solved for reply in wrong)


@pytest.mark.parametrize("difficulty", [6, 7, 8, 9, 10])
def test_realistic_replies_at_the_hard_levels(difficulty: int) -> None:
    for seed in range(10):
        p = puzzle(seed, difficulty)
        word, code = p.solution, p.data["code"]
        crib = p.data["crib"]
        # a solver that forgot to undo the last stated step, or undid it twice
        half_done = decode(code, [solve_steps(p)[-1]])
        right = [
            f"Undo step 3, then 2, then 1.\n\n**ANSWER: {word.upper()}**",
            f"Working backwards from `{code}` I get {word}.\nThe secret word is **{word}**.",
            f"Step by step:\n1. ...\n2. ...\n\nANSWER:\n```\n{word}\n```",
        ]
        wrong = [
            f"After undoing the steps I get {half_done}.\nANSWER: {half_done}",
            f"ANSWER: {code}",
        ]
        if crib is not None:
            hidden = hidden_step(p)
            param = "shift" if hidden["op"] == "caesar" else "keyword"
            right.append(f"The {param} from the known pair checks out.\nANSWER: {word}")
            wrong.append(f'The known word is "{crib["plain"]}".\nANSWER: {crib["plain"]}')
            if hidden["op"] == "vigenere":
                keyword = true_keyword(p)
                wrong.append(f"The keyword is {keyword}.\nANSWER: {keyword}")
                wrong.append(f"ANSWER: {word} (keyword {keyword})")
        for reply in right:
            assert ROOM.validate(p, reply).solved, (reply, p.solution)
        for reply in wrong:
            if half_done == word:
                continue
            assert not ROOM.validate(p, reply).solved, (reply, p.solution)


def solve_steps(p: Puzzle) -> list[Step]:
    """The puzzle's steps with any hidden parameter filled in from its crib."""
    crib = p.data["crib"]
    if crib is None:
        return list(p.data["steps"])
    return resolve_from_crib(p.data["steps"], crib["plain"], crib["code"])


@pytest.mark.parametrize(
    "template",
    [
        'The secret word is "{w}".',
        "The secret word is: {w}",
        "So the decoded word is {w}.",
        "ANSWER: the word is {w}",
        '"{c}" decodes to "{w}"',
        "{w} is the secret word.",
        "I worked it out.\nThe answer is {w}.",
    ],
)
@pytest.mark.parametrize("difficulty", [2, 10])
def test_a_sentence_naming_the_answer_is_peeled(template: str, difficulty: int) -> None:
    p = puzzle(4, difficulty)
    reply = template.format(w=p.solution, c=p.data["code"])
    verdict = ROOM.validate(p, reply)
    assert verdict.solved and verdict.parsed == p.solution, (reply, verdict)


def test_a_label_glued_to_the_value_is_not_peeled() -> None:
    p = puzzle(4, 2)
    verdict = ROOM.validate(p, f"ANSWER: word{p.solution}")
    assert not verdict.solved


@pytest.mark.parametrize("reply", ["", "   ", "\n\n", "```\n```", "**", '""'])
@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_empty_reply_parses_to_none(reply: str, difficulty: int) -> None:
    verdict = ROOM.validate(puzzle(0, difficulty), reply)
    assert not verdict.solved
    assert verdict.parsed is None


def test_unsolved_verdict_names_expected_and_got() -> None:
    p = puzzle(3, 2)
    verdict = ROOM.validate(p, "ANSWER: nope")
    assert verdict.parsed == "nope"
    assert p.solution in verdict.reason and "nope" in verdict.reason
    assert verdict.details["expected"] == p.solution


def test_parse_word_joins_only_single_letters() -> None:
    assert parse_word("ANSWER: l-a-m-p") == "lamp"
    assert parse_word("ANSWER: red lamp") == "red lamp"


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_bluff_is_a_deterministic_plausible_wrong_word(difficulty: int) -> None:
    for seed in SEEDS:
        p = puzzle(seed, difficulty)
        bluff = ROOM.bluff(p)
        assert bluff == Cipher().bluff(p)
        assert bluff.startswith("ANSWER: ")
        word = bluff.removeprefix("ANSWER: ")
        assert word in WORDS and len(word) == len(p.solution) and word != p.solution
        assert not ROOM.validate(p, bluff).solved


def test_prompts_stay_small() -> None:
    for difficulty in DIFFICULTIES:
        longest = max(len(puzzle(seed, difficulty).prompt) for seed in range(20))
        assert longest < 2000, (difficulty, longest)
        assert ROOM.prompt_tokens(difficulty) <= longest // 4 + 1


@pytest.mark.parametrize("difficulty", [-1, 11])
def test_out_of_range_difficulty_is_refused(difficulty: int) -> None:
    with pytest.raises(ValueError, match="difficulty"):
        Cipher().generate(1, difficulty)

"""Tests for the Cipher room: determinism, the difficulty curve, the solver and the validator."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from rooms.base import Puzzle, get_room
from rooms.cipher import (
    KEYWORDS,
    PAR_SECONDS,
    WORD_LENGTHS,
    WORDS,
    Cipher,
    CipherAnswer,
    atbash,
    caesar,
    decode,
    encode,
    infer_shift,
    parse_word,
    vigenere,
)

ROOT = Path(__file__).resolve().parents[2]
DIFFICULTIES = (1, 2, 3, 4, 5)
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


# --- registration and word list ------------------------------------------------------------


def test_registered_under_versioned_id() -> None:
    room = get_room("cipher-v2")
    assert isinstance(room, Cipher)
    assert room.name == "Cipher"
    assert room.Answer is CipherAnswer


def test_word_list_is_clean() -> None:
    assert len(WORDS) >= 200
    assert len(set(WORDS)) == len(WORDS)
    for word in WORDS:
        assert word.isascii() and word.isalpha() and word.islower(), word
        assert 4 <= len(word) <= 10, word
        assert word != word[::-1], word
    assert "word" not in WORDS  # what a model copying "ANSWER: <word>" would send
    for low, high in WORD_LENGTHS.values():
        assert sum(low <= len(w) <= high for w in WORDS) >= 50


def test_keywords_shift_every_letter() -> None:
    for keyword in KEYWORDS:
        assert keyword.isalpha() and keyword.islower() and "a" not in keyword


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


def test_infer_shift() -> None:
    assert infer_shift(caesar("pumpkin", 19), "p") == 19


# --- generation ----------------------------------------------------------------------------


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_different_seeds_give_different_puzzles(difficulty: int) -> None:
    prompts = {puzzle(seed, difficulty).prompt for seed in range(100)}
    # Level 1 varies only by its word (233 of 4-6 letters: ~81 distinct in 100 draws expected)
    assert len(prompts) >= (80 if difficulty == 1 else 90)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_puzzle_fields(difficulty: int) -> None:
    low, high = WORD_LENGTHS[difficulty]
    for seed in range(50):
        p = puzzle(seed, difficulty)
        assert p.room_id == "cipher-v2" and p.seed == seed and p.difficulty == difficulty
        assert p.solution in WORDS and low <= len(p.solution) <= high
        assert p.par_seconds == PAR_SECONDS[difficulty]
        assert p.answer_schema == CipherAnswer.model_json_schema()
        assert p.data["code"] != p.solution
        assert p.solution not in p.prompt
        if difficulty == 1:
            assert f"between its letters: {p.data['code']}\n" in p.prompt
            assert p.prompt.endswith("End your reply with a line of the form: ANSWER: <word>")
        else:
            assert f"Code: {p.data['code']}\n" in p.prompt
            assert p.prompt.endswith(
                "Reply with the decoded word on a final line of the form: ANSWER: <word>"
            )
        json.dumps(p.data)  # JSON-serializable


def test_par_time_rises_with_difficulty() -> None:
    pars = [PAR_SECONDS[d] for d in DIFFICULTIES]
    assert pars == sorted(pars) and pars[0] == 20.0


def test_difficulty_curve() -> None:
    ops = {
        d: [[s["op"] for s in puzzle(seed, d).data["steps"]] for seed in SEEDS]
        for d in DIFFICULTIES
    }
    assert all(puzzle(seed, 1).data["steps"] == [{"op": "dashes"}] for seed in SEEDS)
    assert all(puzzle(seed, 1).data["code"] == "-".join(puzzle(seed, 1).solution) for seed in SEEDS)
    assert all(puzzle(seed, 2).data["example"] is not None for seed in SEEDS)
    assert all(puzzle(seed, d).data["example"] is None for seed in SEEDS for d in (1, 3, 4, 5))
    assert {tuple(o) for o in ops[2]} == {("caesar",)}
    assert {tuple(o) for o in ops[3]} == {("atbash",), ("caesar",)}
    assert all(len(o) == 2 for o in ops[4])
    assert all("vigenere" in o for o in ops[5])
    assert any(len(o) == 2 for o in ops[5])


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
        p5 = puzzle(seed, 5)
        keyword = next(s["keyword"] for s in p5.data["steps"] if s["op"] == "vigenere")
        assert f'keyword "{keyword}"' in p5.prompt


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
        p = puzzle(1, difficulty)
        blind = p.model_copy(update={"solution": "xxxx"})
        assert ROOM.reference_reply(blind) == f"ANSWER: {p.solution}"


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_formatting_variants_validate(difficulty: int) -> None:
    for seed in SEEDS:
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
    for seed in SEEDS:
        p = puzzle(seed, difficulty)
        word = p.solution
        wrong = [
            "ANSWER: qwertyuiop",
            # at level 1 the code is the word spelled out, which counts as the word
            *([f"ANSWER: {p.data['code']}"] if difficulty > 1 else []),
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
def test_a_sentence_naming_the_answer_is_peeled(template: str) -> None:
    p = puzzle(4, 2)
    reply = template.format(w=p.solution, c=p.data["code"])
    verdict = ROOM.validate(p, reply)
    assert verdict.solved and verdict.parsed == p.solution, (reply, verdict)


def test_a_label_glued_to_the_value_is_not_peeled() -> None:
    p = puzzle(4, 2)
    verdict = ROOM.validate(p, f"ANSWER: word{p.solution}")
    assert not verdict.solved


@pytest.mark.parametrize("reply", ["", "   ", "\n\n", "```\n```", "**", '""'])
def test_empty_reply_parses_to_none(reply: str) -> None:
    verdict = ROOM.validate(puzzle(0, 1), reply)
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


@pytest.mark.parametrize("difficulty", [0, 6])
def test_out_of_range_difficulty_is_refused(difficulty: int) -> None:
    with pytest.raises(ValueError, match="difficulty"):
        Cipher().generate(1, difficulty)

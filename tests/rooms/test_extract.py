"""``unlabel``: a sentence naming the answer is peeled off, nothing else is."""

from __future__ import annotations

import pytest

from rooms.extract import peel_any_label, unlabel

NOUNS = ("answer", "secret word", "word", "badge number")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("The secret word is apple.", "apple"),
        ('the secret word is: "apple"', "apple"),
        ("So, the final answer is 42", "42"),
        ("The badge number is 4821.", "4821"),
        ("Badge number: 4821", "4821"),
        ("apple is the secret word", "apple"),
        ("I thought about it. The answer is apple.", "apple"),
        ("answer apple", "apple"),
    ],
)
def test_peels_a_naming_sentence(text: str, want: str) -> None:
    assert unlabel(text, NOUNS) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("apple", "apple"),
        ("wordapple", "wordapple"),  # a label glued to the value is no label
        ("the key is apple", "the key is apple"),  # not one of this room's nouns
        ("The word is apple or pear", "apple or pear"),  # the claim is kept whole
        ("I think apple", "i think apple"),
    ],
)
def test_leaves_the_claim_unchanged(text: str, want: str) -> None:
    assert unlabel(text, NOUNS) == want


def test_a_label_with_any_noun_and_a_colon_is_peeled_off() -> None:
    assert peel_any_label("The secret word is: Amber Hall -> Old Library") == (
        "Amber Hall -> Old Library"
    )
    assert peel_any_label("So, the route from A to B is: A -> C") == "A -> C"
    assert peel_any_label("My answer is:  fjord ") == "fjord"
    for untouched in ("The secret word is TULIP.", "the answer: x", "There is: nothing",
                      "The 3 things are: a", "rock or lock"):  # fmt: skip
        assert peel_any_label(untouched) == untouched
    # the value must still be right: the label goes, nothing else does
    assert unlabel("The secret word is: rock or lock", ("word",)) == "rock or lock"
    assert unlabel("The route is: rock", ("word",)) == "rock"

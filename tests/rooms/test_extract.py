"""``unlabel``: a sentence naming the answer is peeled off, nothing else is."""

from __future__ import annotations

import pytest

from rooms.extract import unlabel

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

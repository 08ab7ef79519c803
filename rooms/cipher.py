"""Cipher room: decode a hidden English word from a stated (or hinted) encoding rule.

Difficulty curve:

1. reversal or Caesar shift by 1, rule stated, one worked example, 4-5 letter words;
2. Caesar shift by k (stated), one worked example, 5-6 letters;
3. Atbash (stated) or Caesar with an unstated shift and the first plaintext letter as a hint;
4. two stated steps (e.g. reverse then shift), to be undone in reverse order;
5. Vigenere with a stated keyword, sometimes combined with a reversal or an Atbash step.

Encodings are described as a list of steps (``{"op": "caesar", "shift": 3}``...) stored on the
puzzle; the reference solver undoes them one by one.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

from pydantic import BaseModel

from rooms.base import (
    Puzzle,
    Room,
    Verdict,
    check_difficulty,
    register_room,
    room_key,
    seed_for,
)
from rooms.extract import answer_text, normalize, unlabel

ALPHABET = "abcdefghijklmnopqrstuvwxyz"

Step = dict[str, Any]
"""One encoding step: ``{"op": "reverse" | "atbash" | "caesar" | "vigenere", ...params}``."""

WORDS: tuple[str, ...] = (
    # 4 letters
    "bird", "boat", "book", "cake", "coat", "corn", "desk", "duck", "farm",
    "fish", "flag", "frog", "gate", "gift", "goat", "gold", "hand", "hill", "home",
    "horn", "kite", "lake", "lamp", "leaf", "lion", "milk", "moon", "nest", "oven",
    "park", "pear", "rain", "ring", "road", "rock", "rope", "salt", "sand", "ship",
    "shoe", "snow", "soap", "sock", "star", "tent", "tree", "wolf", "yard", "king",
    "bell", "drum", "harp", "iron", "jump", "knot", "mint", "nail", "palm", "pine",
    "pond", "rose", "seed", "silk", "tide", "vase", "wind", "wing", "fork", "cart",
    # 5 letters
    "apple", "beach", "bread", "brick", "brush", "candy", "chair", "chalk", "cloud", "clock",
    "crown", "dance", "dream", "eagle", "earth", "fence", "field", "flame", "flute", "frost",
    "ghost", "glass", "grape", "grass", "heart", "honey", "horse", "house", "juice", "knife",
    "lemon", "light", "maple", "melon", "money", "mouse", "music", "night", "ocean", "olive",
    "paint", "paper", "peach", "pearl", "piano", "plant", "plate", "queen", "river", "robin",
    "salad", "scarf", "sheep", "shell", "smile", "snake", "spoon", "storm", "stone", "sugar",
    "table", "tiger", "toast", "tooth", "torch", "towel", "train", "truck", "water", "whale",
    "wheel", "zebra", "bench", "cabin", "cliff", "coral", "daisy", "feast", "jelly", "lodge",
    "medal", "nurse", "orbit", "pilot", "quilt", "radio", "sword", "thumb", "tulip", "pasta",
    # 6 letters
    "animal", "basket", "bottle", "bridge", "button", "camera", "candle", "carpet", "castle",
    "cherry", "circle", "coffee", "cookie", "dragon", "engine", "father", "flower", "forest",
    "garden", "guitar", "hammer", "island", "jacket", "kettle", "ladder", "lizard", "marble",
    "monkey", "mother", "orange", "parrot", "pencil", "pepper", "pillow", "planet",
    "pocket", "potato", "rabbit", "rocket", "saddle", "silver", "spider", "summer", "sunset",
    "ticket", "tomato", "turtle", "velvet", "violin", "wallet", "window", "winter", "yellow",
    "anchor", "banana", "beetle", "canvas", "copper", "desert", "falcon", "helmet", "lagoon",
    "meadow", "needle", "oyster", "puzzle", "ribbon", "shovel", "statue", "tunnel", "walnut",
    "carrot", "muffin", "bucket",
    # 7 letters
    "balloon", "blanket", "cabinet", "captain", "chicken", "compass", "cottage", "crystal",
    "diamond", "dolphin", "feather", "giraffe", "harvest", "holiday", "kitchen", "lantern",
    "library", "machine", "mailbox", "morning", "mustard", "network", "octopus", "orchard",
    "painter", "pumpkin", "pyramid", "rainbow", "science", "seaweed", "soldier", "station",
    "teacher", "thunder", "tractor", "trumpet", "unicorn", "village", "volcano", "weather",
    "whistle", "blossom", "cartoon", "chimney", "curtain", "fortune", "freedom", "gallery",
    "journey", "lobster", "mineral", "oatmeal", "panther", "penguin", "picture", "printer",
    "sparrow", "tadpole", "kingdom",
    # 8 letters
    "airplane", "backpack", "barbecue", "birthday", "building", "calendar",
    "cardigan", "champion", "children", "chipmunk", "computer", "daughter", "dinosaur",
    "elephant", "envelope", "festival", "football", "hospital", "kangaroo", "keyboard",
    "language", "mountain", "notebook", "painting", "pavement", "question", "sandwich",
    "shoulder", "skeleton", "squirrel", "stranger", "sunlight", "tortoise", "treasure",
    "umbrella", "universe", "vacation", "woodland", "workshop", "marathon", "necklace",
    "peaceful", "scissors", "snowball", "starfish", "lemonade",
    # 9 letters
    "adventure", "astronaut", "blueberry", "butterfly", "carpenter", "chocolate", "crocodile",
    "detective", "dandelion", "fireplace", "fireworks", "hamburger", "honeycomb", "invention",
    "jellyfish", "newspaper", "pineapple", "raspberry", "sunflower", "telephone", "waterfall",
    "whirlpool", "wonderful", "blackbird", "breakfast", "classroom", "furniture", "grassland",
    "harmonica", "lightning", "marmalade", "moonlight", "orchestra", "parachute", "signature",
    "snowflake", "spaceship", "submarine", "vegetable", "wallpaper", "snowstorm", "dragonfly",
    "scarecrow",
    # 10 letters
    "strawberry", "lighthouse", "tambourine", "binoculars", "friendship", "helicopter",
    "playground", "rhinoceros", "skateboard", "toothbrush", "watermelon", "microscope",
    "motorcycle", "photograph", "scoreboard", "sunglasses", "thermostat", "typewriter",
    "woodpecker", "blackboard", "chandelier", "earthquake", "foundation", "lumberjack",
    "silverware", "tablecloth", "timekeeper", "windshield",
)  # fmt: skip
"""Candidate secret words: common English, 4-10 lowercase ASCII letters, no palindromes.

None of them occurs in the fixed prompt text (so "door", "mirror", "alphabet" are out)."""

EXAMPLE_WORDS: tuple[str, ...] = (
    "cat", "dog", "sun", "hat", "cup", "pen", "box", "map", "fox", "bus", "key", "jam",
)  # fmt: skip
"""Three-letter words for worked examples (never a secret word, which has 4+ letters)."""

KEYWORDS: tuple[str, ...] = (
    "lemon", "frost", "tiger", "river", "stone", "quill", "cloud", "north", "ember", "spice",
    "night", "moth", "owl", "fern", "dusk", "comet", "birch", "velvet", "prism", "lotus",
)  # fmt: skip
"""Vigenere keywords (level 5)."""

WORD_LENGTHS: dict[int, tuple[int, int]] = {1: (4, 6), 2: (5, 6), 3: (6, 7), 4: (6, 8), 5: (7, 10)}
"""Secret word length range per difficulty."""

PAR_SECONDS: dict[int, float] = {1: 20.0, 2: 30.0, 3: 45.0, 4: 60.0, 5: 90.0}
"""Par time per difficulty."""

_LETTERS_ONLY = re.compile(r"[a-z]+")


def reverse(text: str) -> str:
    """The letters in reverse order."""
    return text[::-1]


def caesar(text: str, shift: int) -> str:
    """Shift each letter forward by ``shift`` places, wrapping from z to a."""
    return "".join(ALPHABET[(ALPHABET.index(c) + shift) % 26] for c in text)


def atbash(text: str) -> str:
    """Replace each letter by its mirror in the alphabet (a<->z, b<->y...); self-inverse."""
    return "".join(ALPHABET[25 - ALPHABET.index(c)] for c in text)


def vigenere(text: str, keyword: str, *, decode: bool = False) -> str:
    """Shift the i-th letter by the position (a=0) of the i-th keyword letter, keyword repeating."""
    sign = -1 if decode else 1
    return "".join(
        caesar(c, sign * ALPHABET.index(keyword[i % len(keyword)])) for i, c in enumerate(text)
    )


def dashed(text: str) -> str:
    """``rock`` -> ``r-o-c-k``: a dash between every two letters (level 1)."""
    return "-".join(text)


def apply_step(text: str, step: Step) -> str:
    """Encode ``text`` with one step."""
    op = step["op"]
    if op == "dashes":
        return dashed(text)
    if op == "reverse":
        return reverse(text)
    if op == "atbash":
        return atbash(text)
    if op == "caesar":
        return caesar(text, int(step["shift"]))
    if op == "vigenere":
        return vigenere(text, str(step["keyword"]))
    raise ValueError(f"unknown cipher step {op!r}")


def undo_step(text: str, step: Step) -> str:
    """Decode ``text`` through one step (its shift must be known)."""
    op = step["op"]
    if op == "caesar":
        return caesar(text, -int(step["shift"]))
    if op == "vigenere":
        return vigenere(text, str(step["keyword"]), decode=True)
    if op == "dashes":
        return text.replace("-", "")
    return apply_step(text, step)  # reverse and atbash are their own inverses


def encode(word: str, steps: list[Step]) -> str:
    """Apply the steps in order."""
    for step in steps:
        word = apply_step(word, step)
    return word


def decode(code: str, steps: list[Step]) -> str:
    """Undo the steps in reverse order."""
    for step in reversed(steps):
        code = undo_step(code, step)
    return code


def infer_shift(code: str, first_letter: str) -> int:
    """The Caesar shift that turns ``first_letter`` into the first letter of ``code``."""
    return (ALPHABET.index(code[0]) - ALPHABET.index(first_letter)) % 26


def describe_step(step: Step) -> str:
    """One encoding step in plain English (the encoding direction)."""
    op = step["op"]
    if op == "dashes":
        return "a dash was written between every two letters"
    if op == "reverse":
        return "the letters were written in reverse order (last letter first)"
    if op == "atbash":
        return (
            "every letter was replaced by its mirror letter in the alphabet "
            "(a<->z, b<->y, c<->x, d<->w, and so on: the alphabet read backwards)"
        )
    if op == "caesar":
        shift = int(step["shift"])
        return (
            f"every letter was shifted forward by {shift} place{'s' if shift != 1 else ''} "
            f"in the alphabet, wrapping around from z back to a "
            f"(a->{caesar('a', shift)}, b->{caesar('b', shift)}, z->{caesar('z', shift)})"
        )
    if op == "vigenere":
        keyword = str(step["keyword"])
        shifts = ", ".join(f"{c}={ALPHABET.index(c)}" for c in keyword)
        return (
            f'a Vigenere cipher with the keyword "{keyword}" was applied: the 1st letter was '
            f"shifted forward in the alphabet by the position of the keyword's 1st letter, the "
            f"2nd by the keyword's 2nd letter, and so on, repeating the keyword as needed "
            f"(positions: a=0, b=1, ..., z=25; here {shifts}; shifts wrap from z back to a)"
        )
    raise ValueError(f"unknown cipher step {op!r}")


def choose_steps(rng: random.Random, difficulty: int) -> tuple[list[Step], bool]:
    """The encoding steps for a level, and whether the (single Caesar) shift is hidden."""
    if difficulty == 1:
        return [{"op": "dashes"}], False
    if difficulty == 2:
        return [{"op": "caesar", "shift": rng.randint(2, 25)}], False
    if difficulty == 3:
        if rng.random() < 0.5:
            return [{"op": "atbash"}], False
        return [{"op": "caesar", "shift": rng.randint(1, 25)}], True
    if difficulty == 4:
        shift = rng.randint(1, 25)
        combos: list[list[Step]] = [
            [{"op": "reverse"}, {"op": "caesar", "shift": shift}],
            [{"op": "caesar", "shift": shift}, {"op": "reverse"}],
            [{"op": "atbash"}, {"op": "caesar", "shift": shift}],
            [{"op": "caesar", "shift": shift}, {"op": "atbash"}],
            [{"op": "reverse"}, {"op": "atbash"}],
        ]
        return rng.choice(combos), False
    keyword = rng.choice(KEYWORDS)
    vig: Step = {"op": "vigenere", "keyword": keyword}
    combos5: list[list[Step]] = [
        [vig],
        [vig],
        [{"op": "reverse"}, vig],
        [vig, {"op": "reverse"}],
        [{"op": "atbash"}, vig],
    ]
    return rng.choice(combos5), False


def choose_word(rng: random.Random, difficulty: int) -> str:
    """A secret word whose length suits the level."""
    low, high = WORD_LENGTHS[difficulty]
    return rng.choice([w for w in WORDS if low <= len(w) <= high])


def spaced(text: str) -> str:
    """``abc`` -> ``a b c`` (helps small tokenizers see single letters)."""
    return " ".join(text)


def build_prompt(
    code: str, steps: list[Step], first_letter: str | None, example: dict[str, str] | None
) -> str:
    """The text shown to the contestant."""
    if steps == [{"op": "dashes"}]:
        return level_one_prompt(code)
    lines = [
        "You are in the Cipher room. The exit door opens with a secret English word, "
        "which is written on the wall in code.",
        "",
        f"Code: {code}",
        f"(letters: {spaced(code)})",
        "",
    ]
    if first_letter is not None:
        lines += [
            "Rule: every letter of the secret word was shifted forward by the same secret "
            "number of places in the alphabet, wrapping around from z back to a (a Caesar "
            "cipher). The shift is not given.",
            f'Hint: the first letter of the secret word is "{first_letter}".',
            "To decode, work out the shift from the hint, then shift every letter back by it.",
        ]
    elif len(steps) == 1:
        lines.append(f"Rule: {describe_step(steps[0])}.")
        lines.append(f"To decode, {decode_instruction(steps[0])}.")
    else:
        lines.append("Rule: the secret word was encoded in several steps, in this order:")
        lines += [f"{i}. {sentence(describe_step(step))}." for i, step in enumerate(steps, 1)]
        lines.append("To decode, undo the steps in reverse order, starting with the last one.")
    if example is not None:
        lines.append(f'Example: the code "{example["code"]}" decodes to "{example["plain"]}".')
    if any(step["op"] in {"caesar", "vigenere"} for step in steps):
        lines.append(f"Alphabet: {ALPHABET}")
    lines += [
        "",
        "What is the secret word?",
        "Reply with the decoded word on a final line of the form: ANSWER: <word>",
    ]
    return "\n".join(lines)


def level_one_prompt(code: str) -> str:
    """Level 1 is a reading check: the word with dashes between its letters, asked for last.

    Kept this short on purpose. SmolLM2-135M (Q4_1) decoded 0 of 20 level-1 codes of cipher-v1
    (a reversed word or a shift by one, with a worked example it mostly copied back) and 16 of 20
    of these; a format line before the code, or an example, took it back to 0-2 of 20.
    """
    return (
        "You are in the Cipher room. The secret word is written on the wall with dashes between "
        f"its letters: {code}\n"
        "What is the secret word, without the dashes?\n"
        "End your reply with a line of the form: ANSWER: <word>"
    )


def sentence(text: str) -> str:
    """Upper-case the first character only (``str.capitalize`` would lower the rest)."""
    return text[:1].upper() + text[1:]


def decode_instruction(step: Step) -> str:
    """How to undo one step, in plain English."""
    op = step["op"]
    if op == "dashes":
        return "remove the dashes"
    if op == "reverse":
        return "read the code backwards, from its last letter to its first"
    if op == "atbash":
        return "replace every letter by its mirror letter again (the rule is its own inverse)"
    if op == "caesar":
        shift = int(step["shift"])
        if shift == 1:
            return "replace every letter by the letter just before it in the alphabet (b->a, a->z)"
        return f"shift every letter back by {shift} places"
    return "shift every letter back by its keyword letter's position instead of forward"


ANSWER_LABELS: tuple[str, ...] = (
    "answer",
    "word",
    "secret word",
    "decoded word",
    "code word",
    "solution",
    "password",
    "plaintext",
)
"""What a reply may call its answer (``The secret word is "apple".``): peeled off by ``unlabel``."""

_DECODES_TO = re.compile(
    r"^(?:the\s+)?(?:code\s+)?\S+\s+(?:decodes|translates|reads)\s+(?:back\s+)?(?:to|into|as)\s+(?P<word>.+)$"
)
"""``the code "usbjo" decodes to "train"``: the word after "decodes to" is the answer."""


def parse_word(reply: str) -> str | None:
    """The answer word from a reply, normalized; spelled-out letters (``a p p l e``) are joined.

    A sentence naming the answer is peeled off (``The secret word is "apple".``,
    ``"qmmb" decodes to "apple"``); the content left must still be exactly the word.
    """
    text = unlabel(answer_text(reply), ANSWER_LABELS)
    decoded = _DECODES_TO.match(text)
    if decoded is not None:
        text = normalize(decoded.group("word"))
    if not text:
        return None
    tokens = re.split(r"[\s\-]+", text)
    if len(tokens) > 1 and all(len(t) == 1 for t in tokens):
        return "".join(tokens)
    return text


class CipherAnswer(BaseModel):
    """A parsed Cipher answer."""

    word: str


@register_room
class Cipher(Room):
    """Decode a hidden word; the rule is stated (or hinted) in the prompt."""

    id: ClassVar[str] = "cipher-v2"
    name: ClassVar[str] = "Cipher"
    Answer: ClassVar[type[BaseModel]] = CipherAnswer

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """Pick a word and an encoding for the level; same seed and difficulty, same puzzle."""
        check_difficulty(difficulty)
        rng = self.rng(seed, difficulty)
        steps, hidden = choose_steps(rng, difficulty)
        word = choose_word(rng, difficulty)
        code = encode(word, steps)
        while code == word:  # e.g. "wizard" under reverse+atbash
            word = choose_word(rng, difficulty)
            code = encode(word, steps)
        example: dict[str, str] | None = None
        if difficulty == 2:
            plain = rng.choice(EXAMPLE_WORDS)
            example = {"plain": plain, "code": encode(plain, steps)}
        first_letter = word[0] if hidden else None
        public_steps = [{"op": "caesar", "shift": None}] if hidden else steps
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=build_prompt(code, steps, first_letter, example),
            solution=word,
            par_seconds=PAR_SECONDS[difficulty],
            key=room_key(self.id, seed, difficulty),
            data={
                "code": code,
                "steps": public_steps,
                "first_letter": first_letter,
                "example": example,
                "length": len(word),
            },
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Verdict:
        """Solved iff the extracted word equals the secret word (case and decoration ignored)."""
        parsed = parse_word(reply)
        if parsed is None:
            return Verdict(solved=False, parsed=None, reason="no answer found in the reply")
        details = {"expected": puzzle.solution}
        if parsed == puzzle.solution:
            return Verdict(
                solved=True, parsed=parsed, reason="decoded word matches", details=details
            )
        if not _LETTERS_ONLY.fullmatch(parsed):
            reason = f"expected the single word {puzzle.solution!r}, got {parsed!r}"
        else:
            reason = f"expected {puzzle.solution!r}, got {parsed!r}"
        return Verdict(solved=False, parsed=parsed, reason=reason, details=details)

    def reference_reply(self, puzzle: Puzzle) -> str:
        """Decode the code with the stated steps (inferring a hidden shift from the hint)."""
        code = str(puzzle.data["code"])
        steps: list[Step] = [dict(step) for step in puzzle.data["steps"]]
        first_letter = puzzle.data.get("first_letter")
        for step in steps:
            if step["op"] == "caesar" and step.get("shift") is None:
                if first_letter is None or len(steps) != 1:
                    raise ValueError("a hidden shift needs a first-letter hint and a single step")
                step["shift"] = infer_shift(code, str(first_letter))
        return f"ANSWER: {decode(code, steps)}"

    def bluff(self, puzzle: Puzzle) -> str:
        """A real word of the same length (same first letter if possible), not the answer."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        answer = puzzle.solution
        same_length = [w for w in WORDS if len(w) == len(answer) and w != answer]
        same_start = [w for w in same_length if w[0] == answer[0]]
        return f"ANSWER: {rng.choice(same_start or same_length)}"

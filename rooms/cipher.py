"""Cipher room: decode a hidden English word from a stated (or inferable) encoding rule.

Difficulty curve:

0. a copy task: the word written plainly in capital letters (``ROCK``), nothing to decode;
1. the word spelled with dashes between its letters (``r-o-c-k``), 4-6 letters;
2. Caesar shift by k (stated), one worked example, 5-6 letters;
3. Atbash (stated) or Caesar with an unstated shift and the first plaintext letter as a hint;
4. two stated steps (e.g. reverse then shift), to be undone in reverse order;
5. Vigenere with a stated keyword, sometimes combined with a reversal or an Atbash step;
6. Vigenere with a stated 5-7 letter keyword plus one stated reverse, Atbash or Caesar step
   (before or after it), 8-10 letters, no worked example;
7. three stated steps: a Vigenere with a 6-8 letter keyword and two of reverse / Atbash /
   Caesar, in any order, 9-10 letters;
8. a Caesar shift that is not given (no first-letter hint) between or around a stated reverse
   and a stated Atbash; the shift must be inferred from a known pair (a crib: a plain word and
   its code under the same steps), 9-10 letters;
9. a Vigenere whose keyword is hidden (only its length, 4-5, is given) plus one stated reverse
   or Atbash step; the keyword is inferred from a crib at least as long as the keyword,
   8-10 letters;
10. a hidden Vigenere keyword of stated length 6-8 plus a stated reverse and a stated Atbash
    (before and/or after it, so the crib must be pushed through the stated steps first),
    10 letters.

Encodings are described as a list of steps (``{"op": "caesar", "shift": 3}``...) stored on the
puzzle; a hidden parameter is stored as ``None`` (``{"op": "vigenere", "keyword": None,
"length": 6}``). The reference solver infers a hidden parameter from the crib in the puzzle data
(letter by letter, after undoing the stated steps around it) and then undoes the steps one by
one. The generator proves that the crib fixes the hidden parameter: exactly one shift (one
keyword) maps the crib's plain word to its code.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any, ClassVar

from pydantic import BaseModel

from rooms.base import (
    Judgement,
    Puzzle,
    Room,
    check_difficulty,
    register_room,
    room_key,
    seed_for,
)
from rooms.extract import answer_text, normalize, unlabel

ALPHABET = "abcdefghijklmnopqrstuvwxyz"

Step = dict[str, Any]
"""One encoding step: ``{"op": "capitals" | "dashes" | "reverse" | "atbash" | "caesar" |
"vigenere", ...params}``; ``"hidden": True`` marks a parameter the contestant is not told."""

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
    "basketball", "blackberry", "cheesecake", "chimpanzee", "crossroads", "downstairs",
    "fingernail", "flashlight", "footprints", "greenhouse", "horseshoes", "houseplant",
    "paintbrush", "sandcastle", "spacecraft", "tournament", "trampoline", "underwater",
    "volleyball", "wheelchair", "wildflower", "windowsill", "calculator", "background",
    "dishwasher", "peppermint", "chopsticks", "cornflower", "tablespoon", "toothpaste",
    "blacksmith", "nutcracker", "rainforest", "sweetheart", "wristwatch", "gooseberry",
    "elderberry", "buttermilk", "lemongrass", "mayonnaise",
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

LONG_KEYWORDS: tuple[str, ...] = (
    # 4 letters
    "moth", "fern", "dusk", "wren", "lily", "reed", "onyx", "plum", "husk", "cove",
    "dove", "glen", "mist", "pier", "silo", "tern", "vine", "wick", "yolk", "zinc",
    # 5 letters
    "birch", "comet", "prism", "lotus", "quill", "spice", "north", "ember", "thorn", "flint",
    "mirth", "plume", "quest", "wrist", "chord", "ferry", "glyph", "hinge", "perch", "rhyme",
    # 6 letters
    "bronze", "cobweb", "frozen", "goblin", "hermit", "kernel", "lichen", "mentor", "nimble",
    "orchid", "pewter", "quiver", "riddle", "sphinx", "thrive", "vertex", "zenith", "summit",
    "ginger", "jungle",
    # 7 letters
    "crimson", "eclipse", "fiction", "gremlin", "horizon", "justice", "kindred", "lexicon",
    "mystery", "nucleus", "phoenix", "serpent", "tempest", "whisper", "cyclone", "thimble",
    "trellis", "cobbler", "kestrel",
    # 8 letters
    "cloister", "gemstone", "junction", "treetops", "wildfire", "bluebell", "crescent",
    "pinecone", "shepherd", "silkworm", "windmill", "trombone", "sorcerer", "primrose",
    "fireside", "reindeer", "snowdrop", "foxglove", "mushroom", "woodbine",
)  # fmt: skip
"""Vigenere keywords of levels 6-10 (stated at 6-7, hidden at 9-10), picked by length: no "a"
(every letter shifts) and none a secret word."""

KEYWORD_LENGTHS: dict[int, tuple[int, int]] = {6: (5, 7), 7: (6, 8), 9: (4, 5), 10: (6, 8)}
"""Vigenere keyword length range per level (levels 6-10 that have a Vigenere step)."""

WORD_LENGTHS: dict[int, tuple[int, int]] = {
    0: (4, 5),
    1: (4, 6),
    2: (5, 6),
    3: (6, 7),
    4: (6, 8),
    5: (7, 10),
    6: (8, 10),
    7: (9, 10),
    8: (9, 10),
    9: (8, 10),
    10: (10, 10),
}
"""Secret word length range per difficulty."""

CRIB_LENGTHS: dict[int, tuple[int, int]] = {8: (5, 8), 9: (4, 8), 10: (6, 10)}
"""Crib (known plain word) length range per level; never shorter than the hidden keyword."""

CRIB_LEVELS: tuple[int, ...] = (8, 9, 10)
"""Levels whose hidden parameter is inferred from a crib (a known pair of word and code)."""

PAR_SECONDS: dict[int, float] = {
    0: 15.0,
    1: 20.0,
    2: 30.0,
    3: 45.0,
    4: 60.0,
    5: 90.0,
    6: 120.0,
    7: 150.0,
    8: 180.0,
    9: 240.0,
    10: 300.0,
}
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
    """Encode ``text`` with one step (its parameter must be known)."""
    op = step["op"]
    if op == "capitals":
        return text.upper()
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
    if op == "capitals":
        return text.lower()
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


def is_hidden(step: Step) -> bool:
    """Whether the step's parameter is withheld from the contestant (``None`` in public data)."""
    if step.get("hidden"):
        return True
    return (step["op"] == "caesar" and step.get("shift") is None) or (
        step["op"] == "vigenere" and step.get("keyword") is None
    )


def public_step(step: Step) -> Step:
    """The step as the contestant (and the puzzle data) sees it: a hidden parameter is ``None``;
    a hidden Vigenere keeps its keyword length."""
    if not is_hidden(step):
        return dict(step)
    if step["op"] == "caesar":
        return {"op": "caesar", "shift": None}
    if step["op"] == "vigenere":
        return {"op": "vigenere", "keyword": None, "length": int(step["length"])}
    raise ValueError(f"a {step['op']!r} step has no parameter to hide")


def hidden_period(step: Step) -> int:
    """How many independent shifts a hidden step has: 1 for Caesar, the keyword length for
    Vigenere."""
    if step["op"] == "caesar":
        return 1
    if step["op"] == "vigenere":
        return int(step["length"])
    raise ValueError(f"a {step['op']!r} step has no shifts")


def crib_candidates(steps: list[Step], plain: str, code: str) -> list[list[int]]:
    """For the single hidden step of ``steps``: per shift slot (one for Caesar, one per keyword
    letter for Vigenere), every shift 0-25 under which the crib ``plain`` encodes to ``code``.

    The stated steps are bijections, so the crib fixes the text right before the hidden step
    (the stated steps before it applied to ``plain``) and right after it (the stated steps
    after it undone on ``code``). A slot's shift acts on its own letters only, so the number of
    parameters (shifts or keywords) mapping ``plain`` to ``code`` is the product of the lengths
    of these lists: exactly one iff every list has one entry. A slot no crib letter falls in
    keeps all 26 shifts.
    """
    hidden = [i for i, step in enumerate(steps) if is_hidden(step)]
    if len(hidden) != 1:
        raise ValueError(f"a crib resolves exactly one hidden step, got {len(hidden)}")
    index = hidden[0]
    before = encode(plain, steps[:index])
    after = decode(code, steps[index + 1 :])
    if len(before) != len(after):
        raise ValueError("the crib's word and code differ in length")
    period = hidden_period(steps[index])
    return [
        [
            shift
            for shift in range(26)
            if all(caesar(before[i], shift) == after[i] for i in range(slot, len(before), period))
        ]
        for slot in range(period)
    ]


def count_crib_solutions(steps: list[Step], plain: str, code: str) -> int:
    """How many values of the hidden parameter map the crib ``plain`` to ``code``."""
    return math.prod(len(options) for options in crib_candidates(steps, plain, code))


def resolve_from_crib(steps: list[Step], plain: str, code: str) -> list[Step]:
    """The steps with the hidden parameter filled in from the crib; ValueError unless the crib
    determines it uniquely."""
    candidates = crib_candidates(steps, plain, code)
    if any(len(options) != 1 for options in candidates):
        raise ValueError("the crib does not determine the hidden parameter uniquely")
    shifts = [options[0] for options in candidates]
    resolved: list[Step] = []
    for step in steps:
        if not is_hidden(step):
            resolved.append(dict(step))
        elif step["op"] == "caesar":
            resolved.append({"op": "caesar", "shift": shifts[0]})
        else:
            keyword = "".join(ALPHABET[shift] for shift in shifts)
            resolved.append({"op": "vigenere", "keyword": keyword})
    return resolved


def describe_step(step: Step) -> str:
    """One encoding step in plain English (the encoding direction)."""
    op = step["op"]
    if op == "capitals":
        return "the word was written in capital letters"
    if op == "dashes":
        return "a dash was written between every two letters"
    if op == "reverse":
        return "the letters were written in reverse order (last letter first)"
    if op == "atbash":
        return (
            "every letter was replaced by its mirror letter in the alphabet "
            "(a<->z, b<->y, c<->x, d<->w, and so on: the alphabet read backwards)"
        )
    if op == "caesar" and step.get("shift") is None:
        return (
            "every letter was shifted forward by the same secret number of places in the "
            "alphabet (a number from 1 to 25), wrapping around from z back to a "
            "(a Caesar cipher); the shift is not given"
        )
    if op == "caesar":
        shift = int(step["shift"])
        return (
            f"every letter was shifted forward by {shift} place{'s' if shift != 1 else ''} "
            f"in the alphabet, wrapping around from z back to a "
            f"(a->{caesar('a', shift)}, b->{caesar('b', shift)}, z->{caesar('z', shift)})"
        )
    if op == "vigenere" and step.get("keyword") is None:
        length = int(step["length"])
        return (
            f"a Vigenere cipher with a secret keyword of {length} letters was applied: the 1st "
            f"letter was shifted forward in the alphabet by the position of the keyword's 1st "
            f"letter, the 2nd by the keyword's 2nd letter, and so on; after the keyword's "
            f"{ordinal(length)} letter it starts again from its 1st letter (positions: a=0, "
            f"b=1, ..., z=25; shifts wrap from z back to a). The keyword is not given, and it "
            f"starts from its 1st letter again for every word encoded"
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


def ordinal(n: int) -> str:
    """``1`` -> ``1st``, ``2`` -> ``2nd``, ``7`` -> ``7th``."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n % 100 not in (11, 12, 13) else 0, "th")
    return f"{n}{suffix}"


def choose_steps(rng: random.Random, difficulty: int) -> list[Step]:
    """The encoding steps for a level, with their secret parameters; a step the contestant is
    not told the parameter of is marked ``"hidden": True``."""
    if difficulty == 0:
        return [{"op": "capitals"}]
    if difficulty == 1:
        return [{"op": "dashes"}]
    if difficulty == 2:
        return [{"op": "caesar", "shift": rng.randint(2, 25)}]
    if difficulty == 3:
        if rng.random() < 0.5:
            return [{"op": "atbash"}]
        return [{"op": "caesar", "shift": rng.randint(1, 25), "hidden": True}]
    if difficulty == 4:
        shift = rng.randint(1, 25)
        combos: list[list[Step]] = [
            [{"op": "reverse"}, {"op": "caesar", "shift": shift}],
            [{"op": "caesar", "shift": shift}, {"op": "reverse"}],
            [{"op": "atbash"}, {"op": "caesar", "shift": shift}],
            [{"op": "caesar", "shift": shift}, {"op": "atbash"}],
            [{"op": "reverse"}, {"op": "atbash"}],
        ]
        return rng.choice(combos)
    if difficulty == 5:
        keyword = rng.choice(KEYWORDS)
        vig: Step = {"op": "vigenere", "keyword": keyword}
        combos5: list[list[Step]] = [
            [vig],
            [vig],
            [{"op": "reverse"}, vig],
            [vig, {"op": "reverse"}],
            [{"op": "atbash"}, vig],
        ]
        return rng.choice(combos5)
    if difficulty == 6:
        extra = stated_step(rng, rng.choice(("reverse", "atbash", "caesar")))
        vig = {"op": "vigenere", "keyword": choose_keyword(rng, difficulty)}
        return [extra, vig] if rng.random() < 0.5 else [vig, extra]
    if difficulty == 7:
        ops = rng.sample(("reverse", "atbash", "caesar"), 2)
        steps = [stated_step(rng, op) for op in ops]
        steps.append({"op": "vigenere", "keyword": choose_keyword(rng, difficulty)})
        rng.shuffle(steps)
        return steps
    if difficulty == 8:
        steps = [{"op": "reverse"}, {"op": "atbash"}, stated_step(rng, "caesar")]
        steps[2]["hidden"] = True
        rng.shuffle(steps)
        return steps
    keyword = choose_keyword(rng, difficulty)
    hidden: Step = {"op": "vigenere", "keyword": keyword, "length": len(keyword), "hidden": True}
    if difficulty == 9:
        extra = {"op": rng.choice(("reverse", "atbash"))}
        return [extra, hidden] if rng.random() < 0.5 else [hidden, extra]
    steps = [{"op": "reverse"}, {"op": "atbash"}, hidden]
    rng.shuffle(steps)
    return steps


def stated_step(rng: random.Random, op: str) -> Step:
    """A reverse, Atbash or Caesar step (a Caesar shift drawn from 1-25)."""
    if op == "caesar":
        return {"op": "caesar", "shift": rng.randint(1, 25)}
    return {"op": op}


def choose_keyword(rng: random.Random, difficulty: int) -> str:
    """A Vigenere keyword whose length suits the level (levels 6-10)."""
    low, high = KEYWORD_LENGTHS[difficulty]
    return rng.choice([k for k in LONG_KEYWORDS if low <= len(k) <= high])


def choose_word(rng: random.Random, difficulty: int) -> str:
    """A secret word whose length suits the level."""
    low, high = WORD_LENGTHS[difficulty]
    return rng.choice([w for w in WORDS if low <= len(w) <= high])


def choose_crib(
    rng: random.Random, difficulty: int, word: str, steps: list[Step]
) -> dict[str, str]:
    """A known pair (plain word and its code under ``steps``) that fixes the hidden parameter.

    The crib word is never the secret word and neither contains the other; the pair is kept
    only once ``count_crib_solutions`` proves that exactly one shift or keyword maps it.
    """
    low, high = CRIB_LENGTHS[difficulty]
    public = [public_step(step) for step in steps]
    low = max(low, max(hidden_period(step) for step in public if is_hidden(step)))
    pool = [w for w in WORDS if low <= len(w) <= high and w not in word and word not in w]
    while pool:
        plain = rng.choice(pool)
        code = encode(plain, steps)
        if code != plain and count_crib_solutions(public, plain, code) == 1:
            return {"plain": plain, "code": code}
        pool.remove(plain)
    raise ValueError(f"no crib determines the hidden step of {public}")


def spaced(text: str) -> str:
    """``abc`` -> ``a b c`` (helps small tokenizers see single letters)."""
    return " ".join(text)


STEP_ORDER_NOTE = (
    "Each step works on the letters as the previous step left them (a step's 1st letter is "
    "the leftmost letter at that moment)."
)
"""Said at levels 6-10 when there is a Vigenere step (it can follow a reversal)."""


def build_prompt(
    code: str,
    steps: list[Step],
    first_letter: str | None,
    example: dict[str, str] | None,
    crib: dict[str, str] | None = None,
    difficulty: int = 5,
) -> str:
    """The text shown to the contestant (``steps`` as public: hidden parameters are ``None``)."""
    if steps == [{"op": "capitals"}]:
        return level_zero_prompt(code)
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
        if difficulty >= 6 and any(step["op"] == "vigenere" for step in steps):
            lines.append(STEP_ORDER_NOTE)
        if crib is not None:
            secret = (
                "shift" if any(s["op"] == "caesar" and is_hidden(s) for s in steps) else "keyword"
            )
            lines += [
                f"Known pair: another word, encoded with exactly the same steps and the same "
                f"secret {secret}:",
                f'  the word "{crib["plain"]}" ({spaced(crib["plain"])}) became the code '
                f'"{crib["code"]}" ({spaced(crib["code"])}).',
                f"To decode, first work out the secret {secret} from the known pair, then undo "
                f"the steps in reverse order, starting with the last one.",
            ]
        else:
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


def level_zero_prompt(code: str) -> str:
    """Level 0 is a copy task: the word written plainly in capitals, nothing to decode.

    Shaped like the level-1 prompt (which SmolLM2-135M Q4_1 solves about 2 times in 3): short,
    the word on the first line, the question and the format line last.
    """
    return (
        "You are in the Cipher room. The secret word is written on the wall in capital letters: "
        f"{code}\n"
        "What is the secret word?\n"
        "End your reply with a line of the form: ANSWER: <word>"
    )


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
    """Decode a hidden word; the rule is stated (or must be inferred from a hint or a crib)."""

    id: ClassVar[str] = "cipher-v3"
    name: ClassVar[str] = "Cipher"
    Answer: ClassVar[type[BaseModel]] = CipherAnswer
    level_notes: ClassVar[dict[int, str]] = {
        0: "the word written plainly in capitals (ROCK), to be copied",
        1: "the word spelled with dashes (r-o-c-k)",
        2: "a Caesar shift by a stated amount, with one worked example",
        3: "Atbash, or a Caesar shift that is not given with the first letter as a hint",
        4: "two stated steps (reverse, Atbash, Caesar) to undo in reverse order",
        5: "Vigenere with a stated keyword, sometimes with a reversal or Atbash",
        6: "Vigenere with a stated 5-7 letter keyword plus reverse, Atbash or Caesar; 8-10 letters",
        7: "three stated steps including a Vigenere with a 6-8 letter keyword; 9-10 letters",
        8: "a Caesar shift inferred from a known pair, plus reverse and Atbash; 9-10 letters",
        9: "a hidden 4-5 letter Vigenere keyword inferred from a known pair, plus one step",
        10: "a hidden 6-8 letter Vigenere keyword from a known pair, plus reverse and Atbash",
    }

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """Pick a word and an encoding for the level; same seed and difficulty, same puzzle."""
        check_difficulty(difficulty)
        rng = self.rng(seed, difficulty)
        steps = choose_steps(rng, difficulty)
        word = choose_word(rng, difficulty)
        code = encode(word, steps)
        while code == word:  # e.g. "wizard" under reverse+atbash
            word = choose_word(rng, difficulty)
            code = encode(word, steps)
        example: dict[str, str] | None = None
        if difficulty == 2:
            plain = rng.choice(EXAMPLE_WORDS)
            example = {"plain": plain, "code": encode(plain, steps)}
        crib = choose_crib(rng, difficulty, word, steps) if difficulty in CRIB_LEVELS else None
        first_letter = word[0] if difficulty == 3 and is_hidden(steps[0]) else None
        public_steps = [public_step(step) for step in steps]
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=build_prompt(code, public_steps, first_letter, example, crib, difficulty),
            solution=word,
            par_seconds=PAR_SECONDS[difficulty],
            key=room_key(self.id, seed),
            data={
                "code": code,
                "steps": public_steps,
                "first_letter": first_letter,
                "example": example,
                "crib": crib,
                "length": len(word),
            },
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Judgement:
        """Solved iff the extracted word equals the secret word (case and decoration ignored)."""
        parsed = parse_word(reply)
        if parsed is None:
            return Judgement(solved=False, parsed=None, reason="no answer found in the reply")
        details = {"expected": puzzle.solution}
        if parsed == puzzle.solution:
            return Judgement(
                solved=True, parsed=parsed, reason="decoded word matches", details=details
            )
        if not _LETTERS_ONLY.fullmatch(parsed):
            reason = f"expected the single word {puzzle.solution!r}, got {parsed!r}"
        else:
            reason = f"expected {puzzle.solution!r}, got {parsed!r}"
        return Judgement(solved=False, parsed=parsed, reason=reason, details=details)

    def reference_reply(self, puzzle: Puzzle) -> str:
        """Decode the code from the puzzle data: a hidden shift is inferred from the first-letter
        hint (level 3) or, like a hidden keyword, from the crib (levels 8-10)."""
        return f"ANSWER: {solve(puzzle.data)}"

    def bluff(self, puzzle: Puzzle) -> str:
        """A real word of the same length (same first letter if possible), not the answer."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        answer = puzzle.solution
        same_length = [w for w in WORDS if len(w) == len(answer) and w != answer]
        same_start = [w for w in same_length if w[0] == answer[0]]
        return f"ANSWER: {rng.choice(same_start or same_length)}"


def solve(data: dict[str, Any]) -> str:
    """The secret word from a puzzle's public data alone (code, steps, hint or crib)."""
    code = str(data["code"])
    steps: list[Step] = [dict(step) for step in data["steps"]]
    if not any(is_hidden(step) for step in steps):
        return decode(code, steps)
    crib = data.get("crib")
    if crib is not None:
        return decode(code, resolve_from_crib(steps, str(crib["plain"]), str(crib["code"])))
    first_letter = data.get("first_letter")
    if first_letter is None or len(steps) != 1 or steps[0]["op"] != "caesar":
        raise ValueError("a hidden shift needs a crib, or a first-letter hint and a single step")
    return caesar(code, -infer_shift(code, str(first_letter)))

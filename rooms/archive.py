"""Archive room: find one obscure detail buried in a long generated operations archive.

The archive is a chronological log of a fictional depot: shipping receipts, maintenance work
orders and shift notes. One record (the key) answers the question, e.g. "What badge number
signed for crate 47 on 12 March?"; it sits at a seeded depth. Distractors look like the key but
differ: the same crate on another date, another crate on the same date, a similar crate number
on the same date, or the same crate on another date with a value one character off.

Difficulty curve (document length in approximate tokens, ``len(text) / 4``, kept in
``TARGET_TOKENS``; look-alike records):

- 0: three records (~100 tokens), no distractor; 1: ~300, 1; 2: ~2,000, 3 (the question is put
  before and after the archive at levels 0-2, after it only from level 3);
  3: ~8,000, 6; 4: ~16,000, 10; 5: ~24,000, 16.
- 6: ~32,000, 20, plus **corrections**: later notes amend earlier records ("Correction to the
  entry of 12 March: the badge recorded for crate 47 should read 4821, not 4281"); the answer is
  the value as corrected (usually the key's value is corrected once, sometimes not at all), and
  distractor corrections amend look-alikes, other fields of the key, or random records.
- 7: ~48,000, 24, **multi-hop**: the record is named by another field ("the crate that came in
  on the MV Tern on 12 March"; "exactly one work order fitted part M12-418: what was fitted to
  that same unit on 3 April?"), while corrections name records by crate or unit, so the
  contestant must first find which crate or unit it is.
- 8: ~64,000, 32, plus **near-identical twins** (a look-alike copying the key's line but for its
  date, crate or vessel) and chained corrections (a correction of the corrected value).
- 9: ~96,000, 40, plus corrections that change which record the question names (a record that
  matched the vessel or part is corrected away; the key may match only once corrected).
- 10: ~128,000, 48, all of the above with more corrections.

Every question has exactly one answer, proved at generation time: the reference solver searches
the structured table in ``puzzle.data`` (one row per record of the asked type, not the text),
applies the corrections in order (each must name exactly one earlier record and the value it
holds), resolves the hop and must find exactly one record at each step; a draw that fails is
generated again from a derived seed. Values never collide by construction: badges are 4-digit
numbers (staff badges repeat, the answer is used once), seal codes look like ``QX-739`` and part
numbers like ``M12-418``; no other number in the archive has four digits, and the answer appears
exactly once in the text.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import random
import re
from collections.abc import Callable
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
from rooms.extract import answer_text, unlabel

Record = dict[str, Any]
"""One archive entry: ``type`` (shipment / maintenance / note / correction), ``date``, ``time``,
``day`` (days after the first), fields."""

CHARS_PER_TOKEN = 4
TARGET_TOKENS: dict[int, int] = {
    0: 100, 1: 300, 2: 2_000, 3: 8_000, 4: 16_000, 5: 24_000,
    6: 32_000, 7: 48_000, 8: 64_000, 9: 96_000, 10: 128_000,
}  # fmt: skip
"""Approximate document length per level in ``len(text) / 4`` units (a real tokenizer counts
about 1.5 times as many: see ``Archive.chars_per_token``); level 0 is always three records, the
others are filled up to this length."""

DISTRACTOR_COUNT: dict[int, int] = {
    0: 0, 1: 1, 2: 3, 3: 6, 4: 10, 5: 16, 6: 20, 7: 24, 8: 32, 9: 40, 10: 48,
}  # fmt: skip
"""Look-alike records per level (corrections come on top of these)."""
CORRECTION_DISTRACTORS: dict[int, int] = {level: 0 for level in range(6)} | {
    6: 4, 7: 5, 8: 6, 9: 8, 10: 10,
}  # fmt: skip
"""Corrections that amend a look-alike or another field of the key record."""
NOISE_CORRECTIONS: dict[int, int] = {level: 0 for level in range(6)} | {
    6: 6, 7: 9, 8: 12, 9: 18, 10: 24,
}  # fmt: skip
"""Corrections of random background records (so a correction alone points nowhere)."""
KEY_CORRECTIONS: dict[int, tuple[int, ...]] = {level: (0,) for level in range(6)} | {
    6: (0, 1, 1, 1), 7: (0, 1, 1, 1), 8: (0, 1, 1, 2), 9: (0, 1, 2, 2), 10: (0, 1, 2, 2),
}  # fmt: skip
"""How many times the key's asked value is corrected (drawn uniformly from the tuple): 0 means
only distractor corrections, 2 a correction of the corrected value."""
CORRECTIONS_FROM = 6
"""First level with corrections."""
MULTI_HOP_FROM = 7
"""First level whose question names the record by another field (vessel, or a fitted part)."""
TWINS_FROM = 8
"""First level with near-identical twins of the key record."""
HOP_TRAPS_FROM = 9
"""First level whose corrections change which record matches the question's identifying field."""

PAR_SECONDS: dict[int, float] = {
    0: 20.0, 1: 30.0, 2: 45.0, 3: 90.0, 4: 120.0, 5: 180.0,
    6: 240.0, 7: 330.0, 8: 420.0, 9: 540.0, 10: 660.0,
}  # fmt: skip
ENTRIES_PER_DAY: dict[int, tuple[int, int]] = {
    0: (3, 3), 1: (2, 4), 2: (4, 7), 3: (5, 10), 4: (6, 12), 5: (6, 12),
    6: (6, 12), 7: (8, 14), 8: (8, 14), 9: (10, 16), 10: (12, 18),
}  # fmt: skip
"""Records per day: enough that even level 10 spans well under a year (no date repeats)."""
STAFF_COUNT: dict[int, int] = {
    0: 5, 1: 5, 2: 10, 3: 20, 4: 35, 5: 50, 6: 60, 7: 70, 8: 80, 9: 90, 10: 100,
}  # fmt: skip
CRATE_MAX: dict[int, int] = {0: 99, 1: 99, 2: 199, 3: 499} | {level: 999 for level in range(4, 11)}
"""Crate numbers stay below 1,000 (four-digit numbers are badges)."""
UNIT_MAX: dict[int, int] = {
    0: 9, 1: 9, 2: 20, 3: 30, 4: 40, 5: 40, 6: 40, 7: 50, 8: 60, 9: 70, 10: 80,
}  # fmt: skip
PART_CATALOG: dict[int, int] = {
    0: 6, 1: 6, 2: 12, 3: 25, 4: 40, 5: 60, 6: 60, 7: 70, 8: 80, 9: 100, 10: 120,
}  # fmt: skip
TWIN_SHARE = 0.6
"""Share of the date / key look-alikes that copy the key's whole line (from ``TWINS_FROM``)."""
RETRIES = 20
"""Draws tried per puzzle before giving up (a failed draw is rare: see the tests)."""

DISTRACTOR_CYCLE: dict[str, tuple[str, ...]] = {
    "direct": ("other_date", "same_date", "near_value", "similar_key"),
    "vessel": ("other_date", "same_date", "near_value", "similar_key"),
    "part": ("other_date", "same_date", "near_value", "similar_key", "near_hop"),
}
"""Distractor kinds per question mode, taken in this order (cycling) up to the level's count.

``other_date``: the same crate / unit (vessel mode: the same vessel) on another date;
``same_date``: another crate / unit / vessel on the key's date; ``near_value``: like
``other_date`` with the asked value one character off the answer; ``similar_key``: a confusable
crate / unit (vessel mode: the same vessel name on another kind of boat) on the key's date;
``near_hop``: a work order fitting a part one character off the question's part."""
SAME_DAY_KINDS: frozenset[str] = frozenset({"same_date", "similar_key"})
"""Look-alikes placed on the key's own day (the key's day is widened to hold them)."""
CORRECTION_CYCLE: tuple[str, ...] = (
    "fix_other_field", "fix_other_date", "fix_similar_key", "fix_same_date",
)  # fmt: skip
"""Distractor corrections, in this order (cycling): another field of the key record; the asked
field of an ``other_date`` / ``near_value`` look-alike; of a ``similar_key`` one; of a
``same_date`` one."""

BEGIN_MARK = "=== ARCHIVE START ==="
END_MARK = "=== ARCHIVE END ==="

MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
"""Month names (not ``strftime``, which depends on the locale)."""

QUESTION_KINDS: dict[str, dict[str, str]] = {
    "crate_badge": {"record": "shipment", "field": "badge", "label": "badge number"},
    "crate_seal": {"record": "shipment", "field": "seal", "label": "seal code"},
    "unit_part": {"record": "maintenance", "field": "part", "label": "part number"},
    "unit_badge": {"record": "maintenance", "field": "badge", "label": "badge number"},
}
"""What can be asked: the record type searched, the field returned, the answer's name."""

FACILITIES: tuple[str, ...] = (
    "Harrowgate Depot", "Saltmarsh Freight Yard", "Corvid Point Terminal", "Eastwick Stores",
    "Blackwater Logistics Hub", "Fenmoor Supply Station", "Gullhaven Docks", "Ironbridge Annex",
)  # fmt: skip
VESSELS: tuple[str, ...] = (
    "MV Kestrel", "MV Tern", "barge Lydia", "coaster Wren", "MV Halcyon", "barge Osprey",
    "MV Northern Lark", "coaster Brant", "MV Peregrine", "barge Marigold", "MV Solent Star",
    "coaster Dunlin", "rail shuttle Ferris", "Fenmoor road convoy", "MV Grey Heron",
)  # fmt: skip
CONTENTS: tuple[str, ...] = (
    "machine parts", "dry rations", "rope and netting", "lamp oil", "medical supplies",
    "copper wire", "canned fish", "spare uniforms", "paint tins", "glassware", "seed grain",
    "bolts and fasteners", "printer paper", "signal flares", "water filters", "timber offcuts",
    "battery packs", "tinned fruit", "welding rods", "tarpaulins", "radio spares", "salt",
    "cleaning fluid", "hand tools", "coffee sacks", "insulation rolls", "gauge glass",
)  # fmt: skip
REMARKS: tuple[str, ...] = (
    "", "", "", "", " Two corner boards split; contents unharmed.", " Paperwork stamped late.",
    " Lid re-nailed on the quay.", " Moved straight to cold storage.", " Label partly torn.",
    " Stacked in the overflow bay.", " Customs slip attached.", " Slight damp on one side.",
)  # fmt: skip
UNIT_KINDS: tuple[tuple[str, str], ...] = (
    ("pump", "P"), ("generator", "G"), ("compressor", "C"), ("conveyor", "V"),
    ("boiler", "B"), ("chiller", "H"), ("crane", "K"), ("forklift", "F"),
)  # fmt: skip
ACTIONS: dict[str, tuple[str, ...]] = {
    "pump": ("replaced the worn impeller", "renewed the shaft seal", "changed the inlet strainer"),
    "generator": (
        "replaced the voltage regulator", "changed the fuel filter", "renewed the starter motor",
    ),
    "compressor": (
        "fitted a new pressure valve", "replaced the intake filter", "renewed the piston rings",
    ),
    "conveyor": ("changed the drive belt", "replaced a seized roller", "renewed a motor coupling"),
    "boiler": ("replaced the thermostat", "fitted a new burner nozzle", "swapped a cracked gasket"),
    "chiller": (
        "replaced the condenser fan", "renewed the expansion valve", "changed the dryer filter",
    ),
    "crane": ("replaced the hoist brake pads", "renewed a rope clamp", "fitted a new limit switch"),
    "forklift": ("changed the hydraulic hose", "renewed the brake pads", "replaced the mast chain"),
}  # fmt: skip
"""Plausible repairs per unit kind."""
NOTE_DETAILS: tuple[str, ...] = (
    "forklift rota unchanged", "spill kit restocked", "two pallets re-stacked below the line",
    "loading lights at the north gate still flickering", "radio channel 3 noisy again",
    "gate log reconciled with the manifest book", "new hire shown the fire exits",
    "quay edge markings repainted", "overflow bay swept and cleared",
)  # fmt: skip
WEATHER: tuple[str, ...] = (
    "heavy rain from the west", "sea fog until mid-morning", "strong gusts on the quay",
    "hail showers", "bright and calm", "sleet turning to snow", "drizzle all afternoon",
)  # fmt: skip
AGENDA: tuple[str, ...] = (
    "overtime budget, the broken gate barrier and the winter rota",
    "dock congestion and the late barge schedule", "stock count discrepancies in the dry store",
    "fire drill results and the new sign-in sheets", "forklift training and fuel use",
    "the leaking roof over the overflow bay", "holiday cover and the night-shift handover",
)  # fmt: skip

SHIPMENT_TEMPLATES: tuple[str, ...] = (
    "{date}, {time}. Crate {crate} ({contents}, {weight} kg) arrived at Dock {dock} on the "
    "{origin}. Seal {seal} checked intact; signed for by badge {badge}.{remark}",
    "{date}, {time}. Received at Dock {dock} from the {origin}: crate {crate}, {contents}, "
    "gross weight {weight} kg. Seal {seal}. Signed for by badge {badge}.{remark}",
    "{date}, {time}. Dock {dock} unloaded crate {crate} ({contents}) from the {origin}; scale "
    "reading {weight} kg, seal {seal} logged. Badge {badge} signed for the crate.{remark}",
    "{date}, {time}. Crate {crate} of {contents} ({weight} kg) came in on the {origin} and went "
    "to Dock {dock}; seal {seal} recorded; badge {badge} signed for it.{remark}",
)
MAINTENANCE_TEMPLATES: tuple[str, ...] = (
    "{date}, {time}. Maintenance on {kind} {unit}: {action}. Part {part} fitted. Work signed "
    "off by badge {badge}.",
    "{date}, {time}. {Kind} {unit} taken out of service for {hours} hours; {action}, fitting "
    "part {part}. Signed off by badge {badge}.",
    "{date}, {time}. Work order closed for {kind} {unit}: {action} (part {part}). Badge "
    "{badge} signed off the work.",
)
NOTE_TEMPLATES: tuple[str, ...] = (
    "{date}, {time}. Shift handover at Dock {dock}: supervisor badge {b1} handed over to badge "
    "{b2}; {detail}.",
    "{date}, {time}. Safety walk by badge {b1}: {detail}.",
    "{date}, {time}. Weather note: {weather}; outdoor work at Dock {dock} paused for {minutes} "
    "minutes.",
    "{date}, {time}. Minutes of the daily stand-up (chair: badge {b1}, notes: badge {b2}): "
    "discussed {agenda}. Next review at {time2}.",
)

VESSEL_TYPES: tuple[str, ...] = ("MV", "barge", "coaster")
VESSEL_NAMES: tuple[str, ...] = (
    "Kestrel", "Tern", "Lydia", "Wren", "Halcyon", "Osprey", "Northern Lark", "Brant",
    "Peregrine", "Marigold", "Solent Star", "Dunlin", "Grey Heron",
)  # fmt: skip
VESSEL_FLEET: tuple[str, ...] = tuple(f"{t} {n}" for n in VESSEL_NAMES for t in VESSEL_TYPES)
"""The boats of the multi-hop levels: every name sails as an MV, a barge and a coaster, so
"MV Tern" has look-alikes ("barge Tern") all through the archive."""

SHIPMENT_CORRECTIONS: tuple[str, ...] = (
    "{date}, {time}. Correction to the entry of {ref_date}: the {what} recorded for crate {key} "
    "should read {new}, not {old}.",
    "{date}, {time}. Records office: the receipt of {ref_date} for crate {key} gave the {what} "
    "as {old} in error; it should read {new}.",
    "{date}, {time}. Amendment to the log of {ref_date}, crate {key}: for {what} {old} read {new}.",
)
MAINTENANCE_CORRECTIONS: tuple[str, ...] = (
    "{date}, {time}. Correction to the work order of {ref_date} for {kind} {key}: the {what} "
    "should read {new}, not {old}.",
    "{date}, {time}. Records office: the work order of {ref_date} on {kind} {key} gave the "
    "{what} as {old} in error; it should read {new}.",
    "{date}, {time}. Amendment to the log of {ref_date}, {kind} {key}: for {what} {old} read "
    "{new}.",
)
FIELD_WORDS: dict[str, str] = {
    "badge": "badge",
    "seal": "seal",
    "origin": "vessel",
    "part": "part number",
}
"""How a correction names the field it amends."""
CORRECTABLE: dict[str, tuple[str, ...]] = {
    "shipment": ("badge", "seal"),
    "maintenance": ("badge", "part"),
}
"""Fields ordinary corrections amend (a shipment's vessel is corrected only by hop traps)."""
KEY_FIELD: dict[str, str] = {"shipment": "crate", "maintenance": "unit"}
"""The field naming what a record is about (crate number or unit id)."""
SHIPMENT_LOOKS: tuple[str, ...] = ("contents", "weight", "dock", "origin", "remark", "style")
MAINTENANCE_LOOKS: tuple[str, ...] = ("action", "hours", "style")
"""Descriptive fields a near-identical twin copies from the key record."""

_LABEL = re.compile(
    r"^(?:(?:badge|seal|part)(?:[ \t]+(?:number|no\.?|code|id))?|number|no\.?|code)"
    r"(?:[ \t]*[#:][ \t]*|[ \t]+)",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s\-_./#]+")
_LEADING_ZERO = re.compile(r"(?<!\d)0")
ANSWER_LABELS: tuple[str, ...] = (
    "answer",
    "exit code",
    "badge number",
    "badge",
    "seal code",
    "seal",
    "part number",
    "part",
    "number",
    "code",
    "value",
)
"""What a reply may call its answer (``The badge number is 4821.``): peeled off by ``unlabel``."""


class _Retry(Exception):
    """This draw cannot be completed or proved unique: draw again from a derived seed."""


def format_date(day: dt.date) -> str:
    """``12 March`` (locale-independent)."""
    return f"{day.day} {MONTHS[day.month - 1]}"


def format_time(minutes: int) -> str:
    """Minutes after midnight -> ``HH:MM``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def random_seal(rng: random.Random) -> str:
    """A seal code like ``QX-739``."""
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(100, 999)}"


def random_part(rng: random.Random) -> str:
    """A part number like ``M12-418``."""
    return f"{rng.choice('ABDEHKMRSTW')}{rng.randint(10, 99)}-{rng.randint(100, 999)}"


def near_value(rng: random.Random, value: str, avoid: set[str]) -> str:
    """``value`` with exactly one letter or digit changed (same shape, no group starting with 0),
    not in ``avoid``."""
    positions = [i for i, c in enumerate(value) if c.isalnum()]
    while True:
        i = rng.choice(positions)
        pool = "0123456789" if value[i].isdigit() else "ABDEHKMRSTWXYZ"
        if value[i].isdigit() and (i == 0 or not value[i - 1].isdigit()):
            pool = "123456789"
        c = rng.choice(pool)
        candidate = value[:i] + c + value[i + 1 :]
        if candidate != value and candidate not in avoid:
            return candidate


def transposed(rng: random.Random, value: str, avoid: set[str]) -> str:
    """``value`` with two neighbouring letters or digits swapped (``4821`` -> ``4281``), not in
    ``avoid``; one character changed instead when no swap qualifies."""
    options = []
    for i in range(len(value) - 1):
        a, b = value[i], value[i + 1]
        if a != b and a.isalnum() and b.isalnum() and a.isdigit() == b.isdigit():
            candidate = value[:i] + b + a + value[i + 2 :]
            if candidate not in avoid and not _LEADING_ZERO.search(candidate):
                options.append(candidate)
    return rng.choice(options) if options else near_value(rng, value, avoid)


def similar_crates(crate: int, crate_max: int) -> list[int]:
    """Crate numbers easy to confuse with ``crate`` (digits swapped, +-1, extra digit...)."""
    text = str(crate)
    candidates = [int(text[::-1]), crate + 1, crate - 1, crate + 10, crate - 10, int("1" + text)]
    candidates.append(int(text + text[-1]))
    return sorted({c for c in candidates if 1 <= c <= crate_max and c != crate})


def similar_units(unit: str, unit_max: int) -> list[str]:
    """Unit ids easy to confuse with ``unit`` (``P-12`` -> ``P-21``, ``P-13``, ``G-12``...)."""
    prefix, number = unit.split("-")
    n = int(number)
    numbers = {int(number[::-1]), n + 1, n - 1, n + 2, n - 2, n + 10, n - 10}
    same_kind = [f"{prefix}-{m}" for m in sorted(numbers) if 1 <= m <= unit_max and m != n]
    other_kind = [f"{p}-{n}" for _, p in UNIT_KINDS if p != prefix]
    return same_kind + other_kind[:2]


def lookalike_vessels(vessel: str) -> list[str]:
    """The same name on the other kinds of boat (``MV Tern`` -> ``barge Tern``, ``coaster
    Tern``); empty for a vessel outside the multi-hop fleet."""
    kind, _, name = vessel.partition(" ")
    if kind not in VESSEL_TYPES or name not in VESSEL_NAMES:
        return []
    return [f"{t} {name}" for t in VESSEL_TYPES if t != kind]


def unit_kind_name(unit: str) -> str:
    """``P-12`` -> ``pump``."""
    prefix = unit.split("-")[0]
    return next(name for name, p in UNIT_KINDS if p == prefix)


def render(record: Record) -> str:
    """One record as a line of the archive."""
    kind = record["type"]
    if kind == "shipment":
        return SHIPMENT_TEMPLATES[record["style"]].format(**record)
    if kind == "maintenance":
        name = unit_kind_name(record["unit"])
        return MAINTENANCE_TEMPLATES[record["style"]].format(
            kind=name, Kind=name.capitalize(), **record
        )
    if kind == "correction":
        what = FIELD_WORDS[record["field"]]
        if record["target"] == "shipment":
            return SHIPMENT_CORRECTIONS[record["style"]].format(what=what, **record)
        name = unit_kind_name(record["key"])
        return MAINTENANCE_CORRECTIONS[record["style"]].format(what=what, kind=name, **record)
    return NOTE_TEMPLATES[record["style"]].format(**record)


def table_fields(record_type: str, field: str, mode: str) -> tuple[str, ...]:
    """Columns of ``data["table"]``, the searchable table of the question's record type: ``line``
    (the record's position in the archive, 0-based), date, crate / unit, the asked field, and the
    field a multi-hop question names the record by (``origin`` or ``part``). Other fields cannot
    change the answer, so they are left out to keep the data small."""
    fields = ("line", "date", KEY_FIELD[record_type], field)
    hop = {"vessel": "origin", "part": "part"}.get(mode)
    return fields + ((hop,) if hop is not None and hop != field else ())


def question_mode(difficulty: int, record_type: str) -> str:
    """How the question names its record: ``direct`` (crate / unit and date) below
    ``MULTI_HOP_FROM``, then ``vessel`` (shipments: boat and date) or ``part`` (work orders: the
    unit that one work order fitted a given part to, and a date)."""
    if difficulty < MULTI_HOP_FROM:
        return "direct"
    return "vessel" if record_type == "shipment" else "part"


class _Maker:
    """Draws records for one puzzle (holds the rng, the level's pools and the reserved values)."""

    def __init__(self, rng: random.Random, difficulty: int) -> None:
        self.rng = rng
        self.difficulty = difficulty
        self.staff = [str(b) for b in rng.sample(range(1000, 10000), STAFF_COUNT[difficulty])]
        catalog: set[str] = set()
        while len(catalog) < PART_CATALOG[difficulty]:
            catalog.add(random_part(rng))
        self.catalog = sorted(catalog)
        self.vessels = VESSELS if difficulty < MULTI_HOP_FROM else VESSEL_FLEET
        self.reserved: set[str] = set()
        """Values that filler records must not use (the answer, near misses, corrections)."""
        self.seals: set[str] = set()
        """Seal codes already drawn for records."""
        self.avoid_crate: int | None = None
        self.avoid_unit: str | None = None

    def taken(self) -> set[str]:
        """Every value a fresh value must differ from."""
        return self.reserved | self.seals | set(self.staff) | set(self.catalog)

    def variant(self, value: str) -> str:
        """A fresh look-alike of ``value`` (two neighbours swapped, or one character changed),
        reserved so nothing else uses it."""
        avoid = self.taken() | {value}
        if self.rng.random() < 0.5:
            new = transposed(self.rng, value, avoid)
        else:
            new = near_value(self.rng, value, avoid)
        self.reserved.add(new)
        return new

    def near(self, value: str) -> str:
        """A fresh value one character off ``value``, reserved."""
        new = near_value(self.rng, value, self.taken() | {value})
        self.reserved.add(new)
        return new

    def fresh(self, field: str) -> str:
        """A value for ``field`` that no record uses (a badge outside the staff, a seal never
        drawn, a part outside the catalog), reserved."""
        rng = self.rng
        taken = self.taken()
        while True:
            if field == "badge":
                value = str(rng.randint(1000, 9999))
            elif field == "seal":
                value = random_seal(rng)
            else:
                value = random_part(rng)
            if value not in taken:
                self.reserved.add(value)
                return value

    def crate(self) -> int:
        """A crate number for a filler record (never the key crate)."""
        while True:
            crate = self.rng.randint(1, CRATE_MAX[self.difficulty])
            if crate != self.avoid_crate:
                return crate

    def unit(self) -> str:
        """A unit id like ``P-12`` for a filler record (never the key unit)."""
        while True:
            _, prefix = self.rng.choice(UNIT_KINDS)
            unit = f"{prefix}-{self.rng.randint(1, UNIT_MAX[self.difficulty])}"
            if unit != self.avoid_unit:
                return unit

    def seal(self) -> str:
        """A seal code that is neither reserved nor already drawn."""
        while True:
            seal = random_seal(self.rng)
            if seal not in self.reserved and seal not in self.seals:
                self.seals.add(seal)
                return seal

    def shipment(self, slot: Record, crate: int | None = None) -> Record:
        """A shipping receipt at ``slot``'s date and time (for ``crate``, or a non-key crate)."""
        rng = self.rng
        return {
            "type": "shipment",
            **when(slot),
            "crate": self.crate() if crate is None else crate,
            "contents": rng.choice(CONTENTS),
            "weight": f"{rng.randint(20, 950)}.{rng.randint(0, 9)}",
            "dock": rng.randint(1, 12),
            "origin": rng.choice(self.vessels),
            "seal": self.seal(),
            "badge": rng.choice(self.staff),
            "remark": rng.choice(REMARKS),
            "style": rng.randrange(len(SHIPMENT_TEMPLATES)),
        }

    def maintenance(self, slot: Record, unit: str | None = None) -> Record:
        """A maintenance work order at ``slot``'s date and time (for ``unit``, or a non-key
        unit)."""
        rng = self.rng
        unit = self.unit() if unit is None else unit
        return {
            "type": "maintenance",
            **when(slot),
            "unit": unit,
            "action": rng.choice(ACTIONS[unit_kind_name(unit)]),
            "part": rng.choice(self.catalog),
            "hours": rng.randint(2, 9),
            "badge": rng.choice(self.staff),
            "style": rng.randrange(len(MAINTENANCE_TEMPLATES)),
        }

    def note(self, slot: Record) -> Record:
        """A shift note: handover, safety walk, weather or stand-up minutes (no crate/unit)."""
        rng = self.rng
        b1, b2 = rng.sample(self.staff, 2)
        return {
            "type": "note",
            **when(slot),
            "dock": rng.randint(1, 12),
            "b1": b1,
            "b2": b2,
            "detail": rng.choice(NOTE_DETAILS),
            "weather": rng.choice(WEATHER),
            "minutes": rng.choice((15, 20, 30, 40, 45, 60, 90)),
            "agenda": rng.choice(AGENDA),
            "time2": f"{rng.randint(7, 20):02d}:{rng.choice((0, 15, 30, 45)):02d}",
            "style": rng.randrange(len(NOTE_TEMPLATES)),
        }

    def filler(self, slot: Record) -> Record:
        """A random background record: half receipts, 30 % work orders, 20 % notes."""
        roll = self.rng.random()
        if roll < 0.5:
            return self.shipment(slot)
        if roll < 0.8:
            return self.maintenance(slot)
        return self.note(slot)

    def keyed(self, record_type: str, slot: Record, key: int | str) -> Record:
        """A record of the question's type for crate/unit ``key``."""
        if record_type == "shipment":
            return self.shipment(slot, crate=int(key))
        return self.maintenance(slot, unit=str(key))

    def other_key(self, record_type: str) -> int | str:
        """A crate / unit that is not the key's."""
        return self.crate() if record_type == "shipment" else self.unit()


def when(slot: Record) -> Record:
    """The date, time and day of a record (a new record takes over its slot's)."""
    return {"date": slot["date"], "time": slot["time"], "day": slot["day"]}


def header(facility: str, volume: int) -> str:
    """The archive's title block."""
    return (
        f"{facility.upper()} - OPERATIONS ARCHIVE, VOLUME {volume}\n"
        "Shipping receipts, maintenance work orders and shift notes, in chronological order. "
        "All times are local. Each crate is signed for by the badge of the receiving clerk; "
        "each work order is signed off by the badge of the technician.\n"
    )


def short_header(facility: str) -> str:
    """The one-line title of a level-0 log."""
    return f"{facility.upper()} - OPERATIONS LOG\n"


def day_times(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct sorted times of day between 06:00 and 21:55."""
    return [format_time(m) for m in sorted(rng.sample(range(6 * 60, 22 * 60, 5), count))]


def day_slots(rng: random.Random, start: dt.date, day: int, count: int) -> list[Record]:
    """Empty slots (date, time, day) for ``count`` records on day ``day`` after ``start``."""
    date = format_date(start + dt.timedelta(days=day))
    return [{"date": date, "time": t, "day": day} for t in day_times(rng, count)]


def filler_records(maker: _Maker, start: dt.date, budget: int) -> list[Record]:
    """Records day by day until their rendered length reaches ``budget`` characters."""
    low, high = ENTRIES_PER_DAY[maker.difficulty]
    records: list[Record] = []
    used = 0
    day = 0
    while used < budget:
        for slot in day_slots(maker.rng, start, day, maker.rng.randint(low, high)):
            record = maker.filler(slot)
            records.append(record)
            used += len(render(record)) + 1
            if used >= budget:
                break
        day += 1
    return records


def level_zero_records(maker: _Maker, start: dt.date) -> list[Record]:
    """Three background records on one day, each in its plainest form (the key replaces one)."""
    records = [maker.filler(slot) for slot in day_slots(maker.rng, start, 0, 3)]
    for record in records:
        record["style"] = 0
        record["remark"] = ""
    return records


def widen_day(
    maker: _Maker, start: dt.date, records: list[Record], day: int, total: int
) -> list[Record]:
    """``records`` with day ``day`` holding at least ``total`` records (new background records
    added, the day's times drawn again so they stay distinct and sorted)."""
    indexes = [i for i, r in enumerate(records) if r["day"] == day]
    if len(indexes) >= total:
        return records
    first, last = indexes[0], indexes[-1] + 1
    slots = day_slots(maker.rng, start, day, total)
    extra = [maker.filler(slot) for slot in slots[len(indexes) :]]
    day_records = records[first:last] + extra
    for record, slot in zip(day_records, slots, strict=True):
        record.update(when(slot))
    return records[:first] + day_records + records[last:]


def distractor_plan(mode: str, count: int) -> list[str]:
    """The distractor kinds for a level, in placement order."""
    cycle = DISTRACTOR_CYCLE[mode]
    return [cycle[i % len(cycle)] for i in range(count)]


def correction_plan(count: int) -> list[str]:
    """The distractor corrections for a level, in placement order."""
    return [CORRECTION_CYCLE[i % len(CORRECTION_CYCLE)] for i in range(count)]


def question_text(kind: str, question: dict[str, Any]) -> str:
    """The question, naming the record the way its mode does."""
    mode, date = question["mode"], question["date"]
    if mode == "vessel":
        crate = f"the crate that came in on the {question['vessel']} on {date}"
        if kind == "crate_badge":
            return f"What badge number signed for {crate}?"
        return f"What seal code was recorded for {crate}?"
    if mode == "part":
        hop = f"Exactly one work order in the archive fitted part {question['part']}."
        if kind == "unit_part":
            return f"{hop} What part number was fitted to that same unit on {date}?"
        return f"{hop} What badge number signed off the work on that same unit on {date}?"
    key = question["key"]
    if kind == "crate_badge":
        return f"What badge number signed for crate {key} on {date}?"
    if kind == "crate_seal":
        return f"What seal code was recorded for crate {key} on {date}?"
    name = unit_kind_name(key)
    if kind == "unit_part":
        return f"What part number was fitted to {name} {key} on {date}?"
    return f"What badge number signed off the work on {name} {key} on {date}?"


CORRECTION_RULE = (
    "Some entries are amended by later corrections (a correction names the entry by its date and "
    "crate or unit, and the value it replaces). Read every value as corrected, including the "
    "details the question identifies the record by."
)
"""The rule stated in the prompt from ``CORRECTIONS_FROM``."""


def build_prompt(
    facility: str, document: str, question: str, label: str, both: bool, corrections: bool
) -> str:
    """The text shown to the contestant (question before the archive too when ``both``; the
    correction rule before the archive and with the question when ``corrections``)."""
    intro = (
        "You are in the Archive room. The exit code is one detail buried in the "
        f"{facility} operations archive below."
    )
    parts = [intro]
    if corrections:
        parts.append(CORRECTION_RULE)
    if both:
        parts.append(f"Question: {question}")
    rule = "\nGive the value as corrected by any later correction." if corrections else ""
    parts += [
        f"{BEGIN_MARK}\n{document}\n{END_MARK}",
        f"Question: {question}{rule}\nReply with the {label} only, on a final line of the form: "
        f"ANSWER: <{label}>",
    ]
    return "\n\n".join(parts)


def archive_document(prompt: str) -> str:
    """The archive text of a prompt (between the start and end marks)."""
    start = prompt.index(BEGIN_MARK) + len(BEGIN_MARK) + 1
    return prompt[start : prompt.index(END_MARK) - 1]


def canonical(value: str) -> str:
    """Comparison form of an answer: upper case, separators (space, hyphen, ``#``...) removed."""
    return _SEPARATORS.sub("", value).upper()


def table_rows(table: dict[str, Any]) -> list[Record]:
    """The rows of ``data["table"]`` as records (field name -> value)."""
    fields = table["fields"]
    return [dict(zip(fields, row, strict=True)) for row in table["rows"]]


def apply_corrections(
    records: list[Record], corrections: list[dict[str, Any]], record_type: str
) -> list[Record]:
    """Copies of ``records`` (all of one type, each with its ``line``) with the corrections of
    that type applied in archive order.

    ValueError unless every such correction names exactly one record (by date and crate / unit),
    that record comes before the correction, and it holds the value the correction replaces (a
    correction of a field the records do not carry is checked for its record only).
    """
    key_field = KEY_FIELD[record_type]
    out = [dict(record) for record in records]
    index: dict[tuple[str, str], list[Record]] = {}
    for record in out:
        index.setdefault((record["date"], str(record[key_field])), []).append(record)
    for fix in sorted(corrections, key=lambda c: c["line"]):
        if fix["type"] != record_type:
            continue
        targets = index.get((fix["ref_date"], str(fix["key"])), [])
        if len(targets) != 1 or targets[0]["line"] > fix["line"]:
            raise ValueError(f"the correction at line {fix['line']} does not name one record")
        target = targets[0]
        if fix["field"] not in target:
            continue
        if str(target[fix["field"]]) != str(fix["old"]):
            raise ValueError(
                f"the correction at line {fix['line']} replaces {fix['old']!r}, "
                f"but the record holds {target[fix['field']]!r}"
            )
        target[fix["field"]] = fix["new"]
    return out


def only(matches: list[Record], what: str) -> Record:
    """The single record of ``matches``; ValueError when there are none or several."""
    if len(matches) != 1:
        raise ValueError(f"expected one {what}, found {len(matches)}")
    return matches[0]


def resolve(records: list[Record], question: dict[str, Any], record_type: str) -> Record:
    """The record the question names, searched in ``records`` (already corrected): by crate /
    unit and date, by vessel and date, or by the unit of the one work order fitting a part, then
    that unit's work order on the date. Every step must match exactly one record."""
    date, mode = question["date"], question["mode"]
    if mode == "vessel":
        return only(
            [r for r in records if r["date"] == date and r["origin"] == question["vessel"]],
            f"shipment on the {question['vessel']} on {date}",
        )
    if mode == "part":
        hop = only(
            [r for r in records if r["part"] == question["part"]],
            f"work order fitting part {question['part']}",
        )
        return only(
            [r for r in records if r["date"] == date and r["unit"] == hop["unit"]],
            f"work order on {hop['unit']} on {date}",
        )
    key_field = KEY_FIELD[record_type]
    return only(
        [r for r in records if r["date"] == date and r[key_field] == question["key"]],
        f"{record_type} for {question['key']} on {date}",
    )


def find_record(data: dict[str, Any]) -> Record:
    """The asked record as corrected, found from the puzzle's structured data alone."""
    table = data["table"]
    records = apply_corrections(table_rows(table), data["corrections"], table["type"])
    return resolve(records, data["question"], table["type"])


def find_answer(data: dict[str, Any]) -> str:
    """Search the table, apply the corrections, resolve the question: the asked value."""
    return str(find_record(data)[data["question"]["field"]])


class _Builder:
    """One draw of a puzzle: background records, the key, look-alikes and corrections."""

    def __init__(self, rng: random.Random, difficulty: int) -> None:
        self.rng = rng
        self.difficulty = difficulty
        self.maker = _Maker(rng, difficulty)
        self.facility = rng.choice(FACILITIES)
        self.volume = rng.randint(2, 19)
        self.start = dt.date(2031, 1, 1) + dt.timedelta(days=rng.randrange(0, 200))
        self.kind = rng.choice(sorted(QUESTION_KINDS))
        spec = QUESTION_KINDS[self.kind]
        self.record_type = spec["record"]
        self.field = spec["field"]
        self.label = spec["label"]
        self.mode = question_mode(difficulty, self.record_type)
        self.key: int | str = 0
        self.answer = ""
        self.vessel = ""
        self.hop_part = ""
        self.records: list[Record] = []
        self.free: list[int] = []
        self.days: list[int] = []
        """Each slot's day (ascending)."""
        """Slots that background records still hold (a placement takes one over)."""
        self.pairs: dict[tuple[str, str, str], int] = {}
        """How many records of a type share a date and crate / unit."""
        self.key_index = 0
        self.hop_index: int | None = None
        self.distractors: list[dict[str, Any]] = []
        self.fixes: list[int] = []
        """Lines of the correction records."""
        self.current: dict[tuple[int, str], str] = {}
        """A record's field as corrected so far (line, field) -> value."""
        self.last_fix: dict[tuple[int, str], int] = {}
        """The line of the latest correction of (line, field)."""

    # --- slots -----------------------------------------------------------------------------

    @staticmethod
    def pair_of(record: Record) -> tuple[str, str, str] | None:
        """(type, date, crate / unit) of a receipt or work order, else None."""
        field = KEY_FIELD.get(record["type"])
        return None if field is None else (record["type"], record["date"], str(record[field]))

    def count(self, record: Record, step: int) -> None:
        """Add ``step`` to the count of ``record``'s (type, date, crate / unit)."""
        pair = self.pair_of(record)
        if pair is not None:
            self.pairs[pair] = self.pairs.get(pair, 0) + step

    def unique(self, index: int) -> bool:
        """Whether record ``index`` is a receipt or work order no other record shares its date
        and crate / unit with (so a correction can name it)."""
        pair = self.pair_of(self.records[index])
        return pair is not None and self.pairs.get(pair) == 1

    def unused(self, date: str, key: int | str) -> bool:
        """Whether no record of the question's type has this date and crate / unit yet."""
        return self.pairs.get((self.record_type, date, str(key)), 0) == 0

    def put(self, index: int, record: Record) -> int:
        """Put ``record`` in slot ``index`` (it takes the slot's date and time)."""
        record.update(when(self.records[index]))
        self.count(self.records[index], -1)
        self.count(record, +1)
        self.records[index] = record
        self.take(index)
        return index

    def take(self, index: int) -> None:
        """Remove slot ``index`` from the free slots (if it is there)."""
        at = bisect.bisect_left(self.free, index)
        if at < len(self.free) and self.free[at] == index:
            del self.free[at]

    def day_span(self, day: int) -> tuple[int, int]:
        """The slots of day ``day``: ``range(*day_span(day))`` (records are in date order)."""
        return bisect.bisect_left(self.days, day), bisect.bisect_right(self.days, day)

    def pick(self, wanted: Callable[[int], bool], low: int = 0, high: int | None = None) -> int:
        """A random free slot in ``range(low, high)`` satisfying ``wanted`` (a failed draw when
        there is none): a few random tries first, then a scan."""
        high = len(self.records) if high is None else high
        first = bisect.bisect_left(self.free, low)
        stop = bisect.bisect_left(self.free, high)
        if stop - first > 64:
            for _ in range(32):
                index = self.free[self.rng.randrange(first, stop)]
                if wanted(index):
                    return index
        options = [i for i in self.free[first:stop] if wanted(i)]
        if not options:
            raise _Retry("no free slot")
        return self.rng.choice(options)

    def key_day(self) -> int:
        """The day the key record is on."""
        return int(self.records[self.key_index]["day"])

    def key_date(self) -> str:
        """The date the key record is on (``12 March``)."""
        return str(self.records[self.key_index]["date"])

    def hop_day(self) -> int | None:
        """Part mode: the day of the work order fitting the question's part (else None)."""
        return None if self.hop_index is None else int(self.records[self.hop_index]["day"])

    def other_day_slot(self, key: int | str | None, near: bool) -> int:
        """A free slot on another day than the key's (and the hop record's) where ``key`` (if
        given) has no record yet; within three days of the key when ``near`` and possible."""
        barred = {self.key_day(), self.hop_day()}
        records = self.records

        def fits(i: int) -> bool:
            return records[i]["day"] not in barred and (
                key is None or self.unused(records[i]["date"], key)
            )

        if near:
            low = self.day_span(self.key_day() - 3)[0]
            high = self.day_span(self.key_day() + 3)[1]
            with contextlib.suppress(_Retry):
                return self.pick(fits, low, high)
        return self.pick(fits)

    def unused_key(self, date: str, pool: list[Any] | None = None) -> int | str | None:
        """A crate / unit with no record on ``date``: from ``pool`` in random order (None when
        all are used), or a random non-key one."""
        if pool is None:
            while True:
                key = self.maker.other_key(self.record_type)
                if self.unused(date, key):
                    return key
        options = [k for k in pool if self.unused(date, k)]
        return self.rng.choice(options) if options else None

    def similar_pool(self) -> list[Any]:
        """Crates / units easy to confuse with the key's."""
        if self.record_type == "shipment":
            return list(similar_crates(int(self.key), CRATE_MAX[self.difficulty]))
        return list(similar_units(str(self.key), UNIT_MAX[self.difficulty]))

    # --- the draw --------------------------------------------------------------------------

    def build(self) -> tuple[str, dict[str, Any]]:
        """Draw everything; returns the archive text and the puzzle data (proved unique)."""
        rng, maker, level = self.rng, self.maker, self.difficulty
        if self.record_type == "shipment":
            self.key = rng.randint(1, CRATE_MAX[level])
            maker.avoid_crate = int(self.key)
        else:
            self.key = maker.unit()
            maker.avoid_unit = str(self.key)
        self.answer = maker.fresh(self.field)
        chain = [self.answer]
        for _ in range(rng.choice(KEY_CORRECTIONS[level])):
            chain.insert(0, maker.variant(chain[0]))
        if self.mode == "part":
            self.hop_part = maker.fresh("part")

        plan = distractor_plan(self.mode, DISTRACTOR_COUNT[level])
        head = self.lay_out(plan)
        key_record = maker.keyed(self.record_type, self.records[self.key_index], self.key)
        key_record[self.field] = chain[0]
        self.put(self.key_index, key_record)
        self.vessel = str(key_record["origin"]) if self.mode == "vessel" else ""
        if self.mode == "part":
            self.place_hop_record()
        for kind in plan:
            self.place_distractor(kind)
        if self.mode == "vessel":
            self.repair_vessels()
        if level >= HOP_TRAPS_FROM:
            self.place_hop_traps()
        for value in chain[1:]:
            self.correct(self.key_index, self.field, value, "key")
        for kind in correction_plan(CORRECTION_DISTRACTORS[level]):
            self.place_fix(kind)
        for _ in range(NOISE_CORRECTIONS[level]):
            self.place_noise()

        document = head + "\n" + "\n".join(render(r) for r in self.records)
        data = self.data(document)
        self.verify(data)
        return document, data

    def lay_out(self, plan: list[str]) -> str:
        """The background records and the key's slot (its day widened to hold the same-day
        look-alikes); returns the title block."""
        rng, maker, level = self.rng, self.maker, self.difficulty
        if level == 0:
            self.records = level_zero_records(maker, self.start)
            self.key_index = rng.randrange(len(self.records))
            head = short_header(self.facility)
        else:
            head = header(self.facility, self.volume)
            budget = TARGET_TOKENS[level] * CHARS_PER_TOKEN - len(head)
            records = filler_records(maker, self.start, budget)
            depth = rng.uniform(0.05, 0.95)
            day = records[min(len(records) - 1, int(depth * len(records)))]["day"]
            same_day = sum(kind in SAME_DAY_KINDS for kind in plan)
            same_day += 1 if level >= HOP_TRAPS_FROM else 0
            margin = 3 if same_day else 0  # a few background records stay on the key's day
            records = widen_day(maker, self.start, records, day, 1 + same_day + margin)
            self.records = records
            self.key_index = rng.choice([i for i, r in enumerate(records) if r["day"] == day])
        if self.records[-1]["day"] >= 365:
            raise RuntimeError("the archive spans a year: its dates would repeat")
        self.free = list(range(len(self.records)))
        self.days = [int(record["day"]) for record in self.records]
        for record in self.records:
            self.count(record, +1)
        return head

    def place_hop_record(self) -> None:
        """Part mode: the one work order fitting the question's part, on the key unit on
        another day."""
        day = self.key_day()
        index = self.pick(lambda i: self.records[i]["day"] != day)
        record = self.maker.maintenance(self.records[index], unit=str(self.key))
        record["part"] = self.hop_part
        self.hop_index = self.put(index, record)

    def place_distractor(self, kind: str) -> None:
        """One look-alike record of ``kind`` (see ``DISTRACTOR_CYCLE``)."""
        rng, maker = self.rng, self.maker
        twin = (
            self.difficulty >= TWINS_FROM
            and kind in {"other_date", "near_value", "similar_key"}
            and rng.random() < TWIN_SHARE
        )
        if kind in SAME_DAY_KINDS:
            day = self.key_day()
            index = self.pick(lambda i: True, *self.day_span(day))
            date = self.key_date()
            pool = self.similar_pool() if kind == "similar_key" else None
            other = None
            if twin and pool and self.record_type == "maintenance":  # a twin keeps the kind
                prefix = str(self.key).split("-")[0]
                other = self.unused_key(date, [u for u in pool if u.split("-")[0] == prefix])
            other = other or self.unused_key(date, pool)
            if other is None:  # every confusable crate / unit is taken on that day
                kind, other = "same_date", self.unused_key(date)
            assert other is not None
            if self.record_type == "maintenance":  # another kind of unit: another action
                twin = twin and str(other).split("-")[0] == str(self.key).split("-")[0]
            twin = twin and kind == "similar_key"
            record = maker.keyed(self.record_type, self.records[index], other)
            if self.mode == "vessel" and kind == "similar_key":
                record["origin"] = rng.choice(lookalike_vessels(self.vessel))
        elif kind == "near_hop":
            record, index = self.near_hop_record()
        else:
            same_key = self.mode != "vessel" or rng.random() < 0.5
            index = self.other_day_slot(self.key if same_key else None, near=twin)
            slot = self.records[index]
            key = self.key if same_key else self.unused_key(str(slot["date"]))
            assert key is not None
            record = maker.keyed(self.record_type, slot, key)
            if self.mode == "vessel":
                record["origin"] = self.vessel
            if kind == "near_value":
                record[self.field] = maker.near(self.answer)
        if twin:
            self.copy_looks(record)
        self.put(index, record)
        self.distractors.append({"line": index, "kind": kind, "twin": twin})

    def copy_looks(self, record: Record) -> None:
        """Make ``record`` a near-identical twin of the key's line (its own date, crate / unit,
        vessel in vessel mode, and values kept)."""
        key_record = self.records[self.key_index]
        if record["type"] == "shipment":
            for field in SHIPMENT_LOOKS:
                if field != "origin" or self.mode != "vessel":
                    record[field] = key_record[field]
            return
        same_kind = record["unit"].split("-")[0] == key_record["unit"].split("-")[0]
        for field in MAINTENANCE_LOOKS:
            if field != "action" or same_kind:
                record[field] = key_record[field]

    def near_hop_record(self) -> tuple[Record, int]:
        """Part mode: a work order fitting a part one character off the question's, on a unit
        that also has a look-alike work order on the key's day when possible."""
        barred = {self.key_day(), self.hop_day()}
        same_day = [
            str(self.records[d["line"]]["unit"])
            for d in self.distractors
            if d["kind"] in SAME_DAY_KINDS
        ]
        unit = self.rng.choice(same_day) if same_day else self.maker.unit()
        index = self.pick(
            lambda i: (
                self.records[i]["day"] not in barred and self.unused(self.records[i]["date"], unit)
            )
        )
        record = self.maker.maintenance(self.records[index], unit=unit)
        record["part"] = self.maker.near(self.hop_part)
        return record, index

    def repair_vessels(self) -> None:
        """Vessel mode: no other receipt of the key's day names the key's vessel."""
        day = self.key_day()
        others = [v for v in self.maker.vessels if v != self.vessel]
        for i, record in enumerate(self.records):
            if (
                i != self.key_index
                and record["type"] == "shipment"
                and record["day"] == day
                and record["origin"] == self.vessel
            ):
                record["origin"] = self.rng.choice(others)

    def place_hop_traps(self) -> None:
        """Corrections that change which record the question's identifying field names: one
        record matching it is corrected away; half the time the key (vessel mode) or the hop
        record (part mode) matches only once corrected."""
        rng, maker = self.rng, self.maker
        if self.mode == "vessel":
            day, date = self.key_day(), self.key_date()
            index = self.pick(lambda i: True, *self.day_span(day))
            crate = self.unused_key(date, self.similar_pool()) or self.unused_key(date)
            assert crate is not None
            record = maker.shipment(self.records[index], crate=int(crate))
            record["origin"] = self.vessel
            self.put(index, record)
            self.distractors.append({"line": index, "kind": "hop_away", "twin": False})
            others = lookalike_vessels(self.vessel) or [
                v for v in maker.vessels if v != self.vessel
            ]
            self.correct(index, "origin", rng.choice(others), "hop_away")
            if rng.random() < 0.5:
                key_record = self.records[self.key_index]
                key_record["origin"] = rng.choice(others)
                self.correct(self.key_index, "origin", self.vessel, "hop_in")
            return
        if self.mode != "part" or self.hop_index is None:
            return
        barred = {self.key_day()}
        unit = maker.unit()
        index = self.pick(
            lambda i: (
                self.records[i]["day"] not in barred and self.unused(self.records[i]["date"], unit)
            )
        )
        record = maker.maintenance(self.records[index], unit=unit)
        record["part"] = self.hop_part
        self.put(index, record)
        self.distractors.append({"line": index, "kind": "hop_away", "twin": False})
        self.correct(index, "part", rng.choice(maker.catalog), "hop_away")
        if rng.random() < 0.5:
            self.records[self.hop_index]["part"] = maker.near(self.hop_part)
            self.correct(self.hop_index, "part", self.hop_part, "hop_in")

    def correct(self, index: int, field: str, new: str, role: str) -> None:
        """A correction of record ``index``'s ``field`` to ``new``, in a free slot after the
        record and after its field's previous correction (it replaces the value as corrected
        so far)."""
        target = self.records[index]
        after = self.last_fix.get((index, field), index)
        slot = self.pick(lambda i: True, after + 1)
        old = self.current.get((index, field), str(target[field]))
        fix = {
            "type": "correction",
            "target": target["type"],
            "ref_date": target["date"],
            "key": target[KEY_FIELD[target["type"]]],
            "field": field,
            "new": new,
            "old": old,
            "role": role,
            "style": self.rng.randrange(len(SHIPMENT_CORRECTIONS)),
        }
        self.put(slot, fix)
        self.current[(index, field)] = new
        self.last_fix[(index, field)] = slot
        self.fixes.append(slot)

    def followable(self, index: int, field: str) -> bool:
        """Whether a correction of (``index``, ``field``) can still be placed: a free slot comes
        after the record and after that field's latest correction."""
        return bool(self.free) and self.last_fix.get((index, field), index) < self.free[-1]

    def place_fix(self, kind: str) -> None:
        """One distractor correction (see ``CORRECTION_CYCLE``); when no look-alike of the
        wanted kind can take one, another field of the key, else any look-alike."""
        wanted = {
            "fix_other_date": {"other_date", "near_value"},
            "fix_similar_key": {"similar_key"},
            "fix_same_date": {"same_date"},
        }.get(kind, set())
        lookalikes = [
            d for d in self.distractors if self.unique(d["line"]) and d["kind"] != "hop_away"
        ]
        other_field = next(f for f in CORRECTABLE[self.record_type] if f != self.field)
        choices = [
            [(kind, d["line"], self.field) for d in lookalikes if d["kind"] in wanted],
            [("fix_other_field", self.key_index, other_field)],
            [("fix_" + d["kind"], d["line"], self.field) for d in lookalikes],
        ]
        for options in choices:
            options = [o for o in options if self.followable(o[1], o[2])]
            if options:
                kind, index, field = self.rng.choice(options)
                value = self.current.get((index, field), str(self.records[index][field]))
                self.correct(index, field, self.maker.variant(value), kind)
                return
        raise _Retry("no record left to correct")

    def place_noise(self) -> None:
        """A correction of a random background receipt or work order (a staff badge, a new seal,
        a catalogue part)."""
        records, maker = self.records, self.maker
        index = self.pick(self.unique, 0, self.free[-1])  # a free slot must follow it
        self.take(index)
        record = records[index]
        field = self.rng.choice(CORRECTABLE[record["type"]])
        old = str(record[field])
        if field == "badge":
            new = self.rng.choice([b for b in maker.staff if b != old])
        elif field == "seal":
            new = maker.seal()
        else:
            new = self.rng.choice([p for p in maker.catalog if p != old])
        self.correct(index, field, new, "noise")

    # --- the result ------------------------------------------------------------------------

    def data(self, document: str) -> dict[str, Any]:
        """The structured puzzle: the question, the table of its record type, corrections."""
        question: dict[str, Any] = {
            "kind": self.kind,
            "mode": self.mode,
            "date": self.key_date(),
            "field": self.field,
            "label": self.label,
        }
        if self.mode == "vessel":
            question["vessel"] = self.vessel
        elif self.mode == "part":
            question["part"] = self.hop_part
        else:
            question["key"] = self.key
        question["text"] = question_text(self.kind, question)
        fields = table_fields(self.record_type, self.field, self.mode)
        rows = [
            [i if f == "line" else r[f] for f in fields]
            for i, r in enumerate(self.records)
            if r["type"] == self.record_type
        ]
        fixes = [
            {
                "line": i,
                "date": self.records[i]["date"],
                "type": self.records[i]["target"],
                **{f: self.records[i][f] for f in ("ref_date", "key", "field", "new", "old")},
                "role": self.records[i]["role"],
            }
            for i in sorted(self.fixes)
        ]
        return {
            "facility": self.facility,
            "question": question,
            "table": {"type": self.record_type, "fields": list(fields), "rows": rows},
            "corrections": fixes,
            "record_count": len(self.records),
            "key_line": self.key_index,
            "hop_line": self.hop_index,
            "depth": round(self.key_index / max(1, len(self.records) - 1), 4),
            "distractors": sorted(self.distractors, key=lambda d: d["line"]),
            "target_tokens": TARGET_TOKENS[self.difficulty],
            "document_chars": len(document),
        }

    def verify(self, data: dict[str, Any]) -> None:
        """Prove the draw: every correction (of either record type) names exactly one earlier
        record and the value it holds, and the reference solver, from ``data`` alone, finds
        exactly one record at each step: the key, with the intended answer."""
        try:
            for record_type in KEY_FIELD:
                rows = [
                    {"line": i, **r} for i, r in enumerate(self.records) if r["type"] == record_type
                ]
                apply_corrections(rows, data["corrections"], record_type)
            found = find_record(data)
        except ValueError as exc:
            raise _Retry(str(exc)) from exc
        if found["line"] != self.key_index or str(found[self.field]) != self.answer:
            raise _Retry("the solver found another record")


class ArchiveAnswer(BaseModel):
    """A parsed Archive answer."""

    value: str


@register_room
class Archive(Room):
    """Answer a question about one record buried in a long generated archive."""

    id: ClassVar[str] = "archive-v3"
    name: ClassVar[str] = "Archive"
    Answer: ClassVar[type[BaseModel]] = ArchiveAnswer
    chars_per_token: ClassVar[float] = 2.6
    """Measured: SmolLM2's tokenizer counts about one token per 2.6 characters of this archive
    (digits and codes split finely), not one per 4."""
    level_notes: ClassVar[dict[int, str]] = {
        0: "three records (~150 tokens), the question before and after them",
        1: "a ~450-token archive, the question before and after it, 1 look-alike record",
        2: "a ~3,000-token archive, the question before and after it, 3 look-alikes",
        3: "a ~12,000-token archive, the question after it only, 6 look-alikes",
        4: "a ~25,000-token archive, 10 look-alikes (same crate other day, one digit off...)",
        5: "a ~37,000-token archive, 16 look-alikes",
        6: "~50,000 tokens, 20 look-alikes; later notes correct records: answer as corrected",
        7: "~75,000 tokens, 24 look-alikes, corrections; record named by its vessel or a part",
        8: "~100,000 tokens, 32 look-alikes with near-identical twins; chained corrections",
        9: "~150,000 tokens, 40 look-alikes; corrections change which record matches",
        10: "~200,000 tokens, 48 look-alikes, all of the above with more corrections",
    }

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """Build the archive, bury the key record at a seeded depth, add look-alikes and
        corrections, and prove the answer unique (a draw that fails is made again from a
        derived seed)."""
        check_difficulty(difficulty)
        for attempt in range(RETRIES):
            rng = (
                self.rng(seed, difficulty)
                if attempt == 0
                else random.Random(seed_for(self.id, seed, difficulty, "attempt", attempt))
            )
            builder = _Builder(rng, difficulty)
            try:
                document, data = builder.build()
            except _Retry:
                continue
            data["attempt"] = attempt
            question = data["question"]
            prompt = build_prompt(
                builder.facility,
                document,
                question["text"],
                question["label"],
                both=difficulty <= 2,
                corrections=difficulty >= CORRECTIONS_FROM,
            )
            return self.make_puzzle(
                seed,
                difficulty,
                prompt=prompt,
                solution=builder.answer,
                par_seconds=PAR_SECONDS[difficulty],
                key=room_key(self.id, seed),
                data=data,
            )
        raise RuntimeError(f"no provable archive for seed {seed} at level {difficulty}")

    def validate(self, puzzle: Puzzle, reply: str) -> Judgement:
        """Solved iff the extracted value equals the asked detail (case and separators aside).

        A leading label naming the field (``badge 4821``, ``Seal code: QX-739``) is tolerated, and
        so is a sentence naming the answer (``The badge number is 4821.``); anything else around
        the value is not.
        """
        text = unlabel(answer_text(reply), ANSWER_LABELS)
        if not text:
            return Judgement(solved=False, parsed=None, reason="no answer found in the reply")
        expected = canonical(puzzle.solution)
        details = {"expected": puzzle.solution}
        unlabeled = _LABEL.sub("", text, count=1)
        if expected in {canonical(text), canonical(unlabeled)}:
            return Judgement(solved=True, parsed=text, reason="detail matches", details=details)
        return Judgement(
            solved=False,
            parsed=text,
            reason=f"expected {puzzle.solution!r}, got {text!r}",
            details=details,
        )

    def reference_reply(self, puzzle: Puzzle) -> str:
        """Search the table, apply the corrections, resolve the hop: the asked value."""
        return f"ANSWER: {find_answer(puzzle.data)}"

    def bluff(self, puzzle: Puzzle) -> str:
        """A real wrong value from the archive: the key's value before its corrections when it
        was corrected, else a look-alike's value (another record's, or one character off the
        answer, when there is no look-alike)."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        data = puzzle.data
        field = data["question"]["field"]
        rows = {row["line"]: row for row in table_rows(data["table"])}
        expected = canonical(puzzle.solution)

        def wrong(values: list[str]) -> list[str]:
            return [v for v in values if canonical(v) != expected]

        raw = wrong([str(rows[data["key_line"]][field])])
        if raw:
            return f"ANSWER: {raw[0]}"
        lines = [d["line"] for d in data["distractors"]] or sorted(rows)
        values = wrong([str(rows[line][field]) for line in lines if line in rows])
        if values:
            return f"ANSWER: {rng.choice(values)}"
        return f"ANSWER: {near_value(rng, puzzle.solution, {puzzle.solution})}"

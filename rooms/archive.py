"""Archive room: find one obscure detail buried in a long generated operations archive.

The archive is a chronological log of a fictional depot: shipping receipts, maintenance work
orders and shift notes. One record (the key) answers the question, e.g. "What badge number
signed for crate 47 on 12 March?"; it sits at a seeded depth. Distractors look like the key but
differ: the same crate on another date, another crate on the same date, a similar crate number
on the same date, or the same crate on another date with a value one character off.

Difficulty curve (document length in approximate tokens, ``len(text) / 4``; distractors):
1: ~500, 1; 2: ~2,000, 3; 3: ~8,000, 6; 4: ~20,000, 10; 5: ~32,000, 16. The question is put
before and after the archive at levels 1-2, after it only from level 3.

Values never collide by construction: badges are 4-digit numbers (staff badges repeat, the
answer badge is used once), seal codes look like ``QX-739`` and part numbers like ``M12-418``;
no other number in the archive has four digits.
"""

from __future__ import annotations

import datetime as dt
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
from rooms.extract import answer_text, unlabel

Record = dict[str, Any]
"""One archive entry: ``type`` (shipment / maintenance / note), ``date``, ``time``, fields."""

CHARS_PER_TOKEN = 4
TARGET_TOKENS: dict[int, int] = {1: 300, 2: 2_000, 3: 8_000, 4: 20_000, 5: 32_000}
"""Approximate document length per difficulty, in tokens (``len(text) / 4``)."""

DISTRACTOR_COUNT: dict[int, int] = {1: 1, 2: 3, 3: 6, 4: 10, 5: 16}
PAR_SECONDS: dict[int, float] = {1: 30.0, 2: 45.0, 3: 90.0, 4: 150.0, 5: 240.0}
ENTRIES_PER_DAY: dict[int, tuple[int, int]] = {
    1: (2, 4),
    2: (4, 7),
    3: (5, 10),
    4: (6, 12),
    5: (6, 12),
}
STAFF_COUNT: dict[int, int] = {1: 5, 2: 10, 3: 20, 4: 35, 5: 50}
CRATE_MAX: dict[int, int] = {1: 99, 2: 199, 3: 499, 4: 999, 5: 999}
UNIT_MAX: dict[int, int] = {1: 9, 2: 20, 3: 30, 4: 40, 5: 40}
PART_CATALOG: dict[int, int] = {1: 6, 2: 12, 3: 25, 4: 40, 5: 60}

DISTRACTOR_CYCLE: tuple[str, ...] = ("other_date", "same_date", "near_value", "similar_key")
"""Distractor kinds, taken in this order (cycling) up to the level's count."""

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

_LABEL = re.compile(
    r"^(?:(?:badge|seal|part)(?:[ \t]+(?:number|no\.?|code|id))?|number|no\.?|code)"
    r"(?:[ \t]*[#:][ \t]*|[ \t]+)",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s\-_./#]+")
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
    """``value`` with exactly one letter or digit changed (same shape), not in ``avoid``."""
    positions = [i for i, c in enumerate(value) if c.isalnum()]
    while True:
        i = rng.choice(positions)
        pool = "0123456789" if value[i].isdigit() else "ABDEHKMRSTWXYZ"
        if value[i].isdigit() and i == 0:
            pool = "123456789"
        c = rng.choice(pool)
        candidate = value[:i] + c + value[i + 1 :]
        if candidate != value and candidate not in avoid:
            return candidate


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
    numbers = {int(number[::-1]), n + 1, n - 1}
    same_kind = [f"{prefix}-{m}" for m in sorted(numbers) if 1 <= m <= unit_max and m != n]
    other_kind = [f"{p}-{n}" for _, p in UNIT_KINDS if p != prefix]
    return same_kind + other_kind[:2]


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
    return NOTE_TEMPLATES[record["style"]].format(**record)


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
        self.reserved: set[str] = set()
        """Values that filler records must not use (the answer and near-miss values)."""
        self.avoid_crate: int | None = None
        self.avoid_unit: str | None = None

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
        """A seal code that is not reserved (the answer and near misses)."""
        while True:
            seal = random_seal(self.rng)
            if seal not in self.reserved:
                return seal

    def shipment(self, date: str, time: str, crate: int | None = None) -> Record:
        """A shipping receipt (for ``crate``, or a random non-key crate)."""
        rng = self.rng
        return {
            "type": "shipment",
            "date": date,
            "time": time,
            "crate": self.crate() if crate is None else crate,
            "contents": rng.choice(CONTENTS),
            "weight": f"{rng.randint(20, 950)}.{rng.randint(0, 9)}",
            "dock": rng.randint(1, 12),
            "origin": rng.choice(VESSELS),
            "seal": self.seal(),
            "badge": rng.choice(self.staff),
            "remark": rng.choice(REMARKS),
            "style": rng.randrange(len(SHIPMENT_TEMPLATES)),
        }

    def maintenance(self, date: str, time: str, unit: str | None = None) -> Record:
        """A maintenance work order (for ``unit``, or a random non-key unit)."""
        rng = self.rng
        unit = self.unit() if unit is None else unit
        return {
            "type": "maintenance",
            "date": date,
            "time": time,
            "unit": unit,
            "action": rng.choice(ACTIONS[unit_kind_name(unit)]),
            "part": rng.choice(self.catalog),
            "hours": rng.randint(2, 9),
            "badge": rng.choice(self.staff),
            "style": rng.randrange(len(MAINTENANCE_TEMPLATES)),
        }

    def note(self, date: str, time: str) -> Record:
        """A shift note: handover, safety walk, weather or stand-up minutes (no crate/unit)."""
        rng = self.rng
        b1, b2 = rng.sample(self.staff, 2)
        return {
            "type": "note",
            "date": date,
            "time": time,
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

    def filler(self, date: str, time: str) -> Record:
        """A random background record: half receipts, 30 % work orders, 20 % notes."""
        roll = self.rng.random()
        if roll < 0.5:
            return self.shipment(date, time)
        if roll < 0.8:
            return self.maintenance(date, time)
        return self.note(date, time)

    def keyed(self, record_type: str, date: str, time: str, key: int | str) -> Record:
        """A record of the question's type for crate/unit ``key``."""
        if record_type == "shipment":
            return self.shipment(date, time, crate=int(key))
        return self.maintenance(date, time, unit=str(key))


def header(facility: str, volume: int) -> str:
    """The archive's title block."""
    return (
        f"{facility.upper()} - OPERATIONS ARCHIVE, VOLUME {volume}\n"
        "Shipping receipts, maintenance work orders and shift notes, in chronological order. "
        "All times are local. Each crate is signed for by the badge of the receiving clerk; "
        "each work order is signed off by the badge of the technician.\n"
    )


def day_times(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct sorted times of day between 06:00 and 21:55."""
    return [format_time(m) for m in sorted(rng.sample(range(6 * 60, 22 * 60, 5), count))]


def filler_records(maker: _Maker, start: dt.date, budget: int) -> list[Record]:
    """Records day by day until their rendered length reaches ``budget`` characters."""
    low, high = ENTRIES_PER_DAY[maker.difficulty]
    records: list[Record] = []
    used = 0
    day = start
    while used < budget:
        date = format_date(day)
        for time in day_times(maker.rng, maker.rng.randint(low, high)):
            record = maker.filler(date, time)
            records.append(record)
            used += len(render(record)) + 1
            if used >= budget:
                break
        day += dt.timedelta(days=1)
    return records


def distractor_plan(count: int) -> list[str]:
    """The distractor kinds for a level, in placement order."""
    return [DISTRACTOR_CYCLE[i % len(DISTRACTOR_CYCLE)] for i in range(count)]


def question_text(kind: str, record: Record) -> str:
    """The question about the key record."""
    date = record["date"]
    if kind == "crate_badge":
        return f"What badge number signed for crate {record['crate']} on {date}?"
    if kind == "crate_seal":
        return f"What seal code was recorded for crate {record['crate']} on {date}?"
    name = unit_kind_name(record["unit"])
    if kind == "unit_part":
        return f"What part number was fitted to {name} {record['unit']} on {date}?"
    return f"What badge number signed off the work on {name} {record['unit']} on {date}?"


def build_prompt(facility: str, document: str, question: str, label: str, both: bool) -> str:
    """The text shown to the contestant (question before the archive too when ``both``)."""
    intro = (
        "You are in the Archive room. The exit code is one detail buried in the "
        f"{facility} operations archive below."
    )
    parts = [intro]
    if both:
        parts.append(f"Question: {question}")
    parts += [
        f"{BEGIN_MARK}\n{document}\n{END_MARK}",
        f"Question: {question}\nReply with the {label} only, on a final line of the form: "
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


KEY_FIELD: dict[str, str] = {"shipment": "crate", "maintenance": "unit"}
"""The field naming what a record is about (crate number or unit id)."""

SEARCH_FIELDS: dict[str, tuple[str, ...]] = {
    "shipment": ("date", "time", "crate", "badge", "seal"),
    "maintenance": ("date", "time", "unit", "badge", "part"),
}
"""Fields kept in ``data["records"]``, the searchable table of the question's record type."""


def searchable(records: list[Record], record_type: str) -> list[Record]:
    """The records of one type as a compact table; ``line`` is the record's position (0-based)."""
    fields = SEARCH_FIELDS[record_type]
    return [
        {"line": i, **{f: r[f] for f in fields}}
        for i, r in enumerate(records)
        if r["type"] == record_type
    ]


def find_answer(records: list[Record], question: dict[str, Any]) -> str:
    """Search the records for the one the question asks about and return the asked field."""
    key_field = KEY_FIELD[QUESTION_KINDS[question["kind"]]["record"]]
    matches = [
        r for r in records if r["date"] == question["date"] and r[key_field] == question["key"]
    ]
    if len(matches) != 1:
        raise ValueError(f"expected one matching record, found {len(matches)}")
    return str(matches[0][question["field"]])


class ArchiveAnswer(BaseModel):
    """A parsed Archive answer."""

    value: str


@register_room
class Archive(Room):
    """Answer a question about one record buried in a long generated archive."""

    id: ClassVar[str] = "archive-v2"
    name: ClassVar[str] = "Archive"
    Answer: ClassVar[type[BaseModel]] = ArchiveAnswer

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """Build the archive, bury the key record at a seeded depth, add distractors."""
        check_difficulty(difficulty)
        rng = self.rng(seed, difficulty)
        maker = _Maker(rng, difficulty)
        facility = rng.choice(FACILITIES)
        volume = rng.randint(2, 19)
        start = dt.date(2031, 1, 1) + dt.timedelta(days=rng.randrange(0, 200))
        kind = rng.choice(sorted(QUESTION_KINDS))
        spec = QUESTION_KINDS[kind]
        key: int | str
        if spec["record"] == "shipment":
            key = rng.randint(1, CRATE_MAX[difficulty])
            maker.avoid_crate = key
        else:
            key = maker.unit()
            maker.avoid_unit = key
        answer = self._answer_value(maker, spec["field"])
        maker.reserved.add(answer)

        head = header(facility, volume)
        budget = TARGET_TOKENS[difficulty] * CHARS_PER_TOKEN - len(head)
        records = filler_records(maker, start, budget)

        depth = rng.uniform(0.05, 0.95)
        key_index = min(len(records) - 1, int(depth * len(records)))
        slot = records[key_index]
        key_record = maker.keyed(spec["record"], slot["date"], slot["time"], key)
        key_record[spec["field"]] = answer
        records[key_index] = key_record

        distractors = self._place_distractors(
            maker, records, key_index, spec, key, answer, DISTRACTOR_COUNT[difficulty]
        )
        document = head + "\n" + "\n".join(render(r) for r in records)
        question = question_text(kind, key_record)
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=build_prompt(facility, document, question, spec["label"], difficulty <= 2),
            solution=answer,
            par_seconds=PAR_SECONDS[difficulty],
            key=room_key(self.id, seed, difficulty),
            data={
                "facility": facility,
                "question": {
                    "kind": kind,
                    "key": key,
                    "date": key_record["date"],
                    "text": question,
                    "field": spec["field"],
                    "label": spec["label"],
                },
                "records": searchable(records, spec["record"]),
                "record_count": len(records),
                "key_line": key_index,
                "depth": round(key_index / max(1, len(records) - 1), 4),
                "distractors": distractors,
                "target_tokens": TARGET_TOKENS[difficulty],
                "document_chars": len(document),
            },
        )

    @staticmethod
    def _answer_value(maker: _Maker, field: str) -> str:
        """A fresh value for the asked field that no filler record uses."""
        rng = maker.rng
        if field == "badge":
            while True:
                badge = str(rng.randint(1000, 9999))
                if badge not in maker.staff:
                    return badge
        if field == "seal":
            return random_seal(rng)
        while True:
            part = random_part(rng)
            if part not in maker.catalog:
                return part

    @staticmethod
    def _place_distractors(
        maker: _Maker,
        records: list[Record],
        key_index: int,
        spec: dict[str, str],
        key: int | str,
        answer: str,
        count: int,
    ) -> list[dict[str, Any]]:
        """Overwrite other slots with look-alike records; returns ``[{line, kind}, ...]``."""
        rng = maker.rng
        key_date = records[key_index]["date"]
        free = [i for i in range(len(records)) if i != key_index]
        placed: list[dict[str, Any]] = []
        similar: list[int | str]
        if spec["record"] == "shipment":
            similar = list(similar_crates(int(key), CRATE_MAX[maker.difficulty]))
        else:
            similar = list(similar_units(str(key), UNIT_MAX[maker.difficulty]))
        in_use = (
            {str(r.get(spec["field"])) for r in records} | set(maker.staff) | set(maker.catalog)
        )
        for wanted in distractor_plan(count):
            kind = wanted
            same_day = [i for i in free if records[i]["date"] == key_date]
            other_day = [i for i in free if records[i]["date"] != key_date]
            if kind in {"same_date", "similar_key"} and not same_day:
                kind = "other_date"
            if kind == "similar_key" and not similar:
                kind = "same_date"
            if kind in {"other_date", "near_value"} and not other_day:
                kind = "same_date" if same_day else ""
            if not kind:
                break
            index = rng.choice(same_day if kind in {"same_date", "similar_key"} else other_day)
            free.remove(index)
            slot = records[index]
            if kind == "same_date":
                other = maker.crate() if spec["record"] == "shipment" else maker.unit()
                record = maker.keyed(spec["record"], slot["date"], slot["time"], other)
            elif kind == "similar_key":
                record = maker.keyed(
                    spec["record"], slot["date"], slot["time"], rng.choice(similar)
                )
            else:
                record = maker.keyed(spec["record"], slot["date"], slot["time"], key)
            if kind == "near_value":
                value = near_value(rng, answer, maker.reserved | in_use)
                maker.reserved.add(value)
                record[spec["field"]] = value
            records[index] = record
            placed.append({"line": index, "kind": kind})
        return sorted(placed, key=lambda d: d["line"])

    def validate(self, puzzle: Puzzle, reply: str) -> Verdict:
        """Solved iff the extracted value equals the asked detail (case and separators aside).

        A leading label naming the field (``badge 4821``, ``Seal code: QX-739``) is tolerated, and
        so is a sentence naming the answer (``The badge number is 4821.``); anything else around
        the value is not.
        """
        text = unlabel(answer_text(reply), ANSWER_LABELS)
        if not text:
            return Verdict(solved=False, parsed=None, reason="no answer found in the reply")
        expected = canonical(puzzle.solution)
        details = {"expected": puzzle.solution}
        unlabeled = _LABEL.sub("", text, count=1)
        if expected in {canonical(text), canonical(unlabeled)}:
            return Verdict(solved=True, parsed=text, reason="detail matches", details=details)
        return Verdict(
            solved=False,
            parsed=text,
            reason=f"expected {puzzle.solution!r}, got {text!r}",
            details=details,
        )

    def reference_reply(self, puzzle: Puzzle) -> str:
        """Look the record up: the one of the asked type with the asked crate/unit and date."""
        return f"ANSWER: {find_answer(puzzle.data['records'], puzzle.data['question'])}"

    def bluff(self, puzzle: Puzzle) -> str:
        """The asked field of a distractor record (a real value from the archive, but wrong)."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        field = puzzle.data["question"]["field"]
        by_line = {r["line"]: r for r in puzzle.data["records"]}
        values = [str(by_line[d["line"]][field]) for d in puzzle.data["distractors"]]
        wrong = [v for v in values if canonical(v) != canonical(puzzle.solution)]
        return f"ANSWER: {rng.choice(wrong)}"

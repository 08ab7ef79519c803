"""Difficulty profiles: the level each room of a match plays (room id -> level).

A profile is chosen per base model by calibration (``arena/calibration.py``) or given by hand
(``--difficulty N`` for every room, ``--profile FILE.json``). It is part of the comparability
fingerprint: runs on different profiles are never compared. Profiles name versioned room ids
(``cipher-v3``), so a profile made for an older room version is refused, not silently reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rooms import ROOM_ORDER, load_rooms
from rooms.base import MAX_DIFFICULTY, MIN_DIFFICULTY, room_name_of

Profile = dict[str, int]
"""Room id -> level (``rooms.base.LEVELS``) for every room of a match."""


class ProfileError(ValueError):
    """A profile that cannot be played: unknown or outdated rooms, bad levels, missing rooms."""


def uniform(level: int, room_ids: Iterable[str] = ROOM_ORDER) -> Profile:
    """Every room at ``level``."""
    check_level("every room", level)
    return dict.fromkeys(room_ids, level)


def check_level(where: str, level: Any) -> int:
    """``level`` as a level (0-10), or ProfileError naming ``where``."""
    if isinstance(level, bool) or not isinstance(level, int):
        raise ProfileError(f"{where}: the level must be an integer, got {level!r}")
    if not MIN_DIFFICULTY <= level <= MAX_DIFFICULTY:
        raise ProfileError(
            f"{where}: the level must be {MIN_DIFFICULTY}-{MAX_DIFFICULTY}, got {level}"
        )
    return level


def normalize(raw: Mapping[str, Any], room_ids: Iterable[str] = ROOM_ORDER) -> Profile:
    """A complete profile over ``room_ids`` (in their order) from a mapping whose keys are room
    ids (``cipher-v3``) or room names (``cipher``, ``Cipher``). Every room must be given exactly
    once; a key naming another version of a room, or no room at all, is refused."""
    rooms = list(room_ids)
    by_name = {room_name_of(r): r for r in rooms}
    found: Profile = {}
    for key, level in raw.items():
        if not isinstance(key, str):
            raise ProfileError(f"room names must be strings, got {key!r}")
        name = key.strip().casefold()
        room_id = name if name in rooms else by_name.get(name)
        if room_id is None:
            same = by_name.get(room_name_of(name))
            if same is not None:
                raise ProfileError(
                    f"{key!r}: this build plays {same}; a profile for another version of the "
                    "room cannot be reused (calibrate again)"
                )
            raise ProfileError(f"{key!r} is not a room of this match ({', '.join(rooms)})")
        if room_id in found:
            raise ProfileError(f"{room_id} is given twice")
        found[room_id] = check_level(room_id, level)
    missing = [r for r in rooms if r not in found]
    if missing:
        raise ProfileError(f"no level for {', '.join(missing)}")
    return {r: found[r] for r in rooms}


def names_this_build(raw: Mapping[str, Any], room_ids: Iterable[str] = ROOM_ORDER) -> bool:
    """Whether any key of ``raw`` is a room of this build, by id or by name."""
    rooms = list(room_ids)
    names = {room_name_of(r) for r in rooms}
    return any(
        isinstance(key, str)
        and (key.strip().casefold() in rooms or key.strip().casefold() in names)
        for key in raw
    )


def load(path: Path, room_ids: Iterable[str] = ROOM_ORDER) -> Profile:
    """A profile from a JSON file: the output of ``python -m arena calibrate`` (its
    ``"profile"``) or a plain ``{room: level}`` object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ProfileError(f"{path} is not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("profile"), dict):
        data = data["profile"]
    if not isinstance(data, dict):
        raise ProfileError(f'{path}: expected {{"room": level, ...}} or a calibration result')
    return normalize(data, room_ids)


def text(profile: Mapping[str, int]) -> str:
    """The canonical one-line form, in the profile's room order: ``cipher-v3=4,map-v2=6,...``
    (the comparability fingerprint compares these)."""
    return ",".join(f"{room}={level}" for room, level in profile.items())


def parse_text(value: str) -> Profile:
    """The inverse of :func:`text`."""
    found: Profile = {}
    for part in value.split(","):
        room, _, level = part.partition("=")
        found[room] = int(level)
    return found


def tag(profile: Mapping[str, int]) -> str:
    """A short stable name for a profile (queue keys): ``p`` and 10 hex digits."""
    return "p" + hashlib.sha256(text(profile).encode()).hexdigest()[:10]


def describe(profile: Mapping[str, int]) -> str:
    """For people: ``Cipher 4 · Map 6 · ...`` (or ``every room at level 1``)."""
    levels = set(profile.values())
    if len(levels) == 1 and list(profile) == list(ROOM_ORDER):
        return f"every room at level {levels.pop()}"
    rooms = load_rooms()
    names = {r: rooms[r].name if r in rooms else r for r in profile}
    return " · ".join(f"{names[r]} {level}" for r, level in profile.items())


def describe_text(value: str | None) -> str | None:
    """:func:`describe` of a profile in its :func:`text` form (None for None or empty)."""
    return describe(parse_text(value)) if value else None


def uniform_level(profile: Mapping[str, int]) -> int | None:
    """The level of every room when they are all equal, else None."""
    levels = set(profile.values())
    return levels.pop() if len(levels) == 1 else None

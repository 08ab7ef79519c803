"""The six rooms of the escape room, played in this order.

Built-ins are listed explicitly (no discovery magic); each module registers its room with
``@register_room`` when imported. ``load_rooms()`` imports them once.
"""

from __future__ import annotations

import importlib

from rooms.base import Judgement, Puzzle, Room, get_room, register_room, registered_rooms

BUILTIN_MODULES: tuple[str, ...] = (
    "rooms.cipher",
    "rooms.map",
    "rooms.mechanism",
    "rooms.archive",
    "rooms.paradox",
    "rooms.warden",
)
"""Modules holding the built-in rooms."""

ROOM_ORDER: tuple[str, ...] = (
    "cipher-v3",
    "map-v2",
    "mechanism-v3",
    "archive-v3",
    "paradox-v3",
    "warden-v3",
)
"""Versioned ids of the six rooms of a match, in play order (the Warden is last)."""


def load_rooms() -> dict[str, Room]:
    """Import the built-in room modules (idempotent) and return the rooms of a match, in order."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return {room_id: get_room(room_id) for room_id in ROOM_ORDER}


def room_name(room_id: str) -> str:
    """The display name of a room id (the id itself when this build does not know it)."""
    load_rooms()
    try:
        return get_room(room_id).name
    except KeyError:
        return room_id


def level_table() -> str:
    """Every room, every level, one line each, as a Markdown table (the README's level table is
    this text; a test keeps them equal)."""
    lines = ["| room | level | the puzzle at that level |", "|---|---|---|"]
    for room_id, room in load_rooms().items():
        for level, note in sorted(room.level_notes.items()):
            lines.append(f"| {room.name} `{room_id}` | {level} | {note} |")
    return "\n".join(lines)


__all__ = [
    "BUILTIN_MODULES",
    "ROOM_ORDER",
    "Judgement",
    "Puzzle",
    "Room",
    "get_room",
    "level_table",
    "load_rooms",
    "register_room",
    "registered_rooms",
    "room_name",
]

"""Map: find a way through a manor of named rooms described in prose.

The graph (rooms, two-way corridors, one-way doors, locked doors and the keys that open them) is
generated from the seed and told as paragraphs of prose, one per room. The contestant answers with
a path of room names from the entrance to the exit. Any walk that follows real corridors in allowed
directions, and passes a locked door only after entering the room where its key lies, is accepted;
the verdict records whether it was a shortest one. The reference solver is a breadth-first search
over (room, keys held).

Difficulty:

- L0: two rooms joined by one corridor, told in plain sentences (a reading and format check).
- L1: 3 rooms in a chain; L2: 6 rooms with a branch; L3: 12 rooms with dead ends and loops.
- L4: 20 rooms with one-way doors, one of them a tempting wrong-way shortcut; L5: 30 rooms.
- L6: 40 rooms, a designed route of 10-12 rooms, 4-6 loops, 8 one-way doors, 6+ dead ends.
- L7: 50 rooms and a locked door on the way; its key lies in a side room before it.
- L8: 60 rooms, 2 locked doors on the way, 10 one-way doors, 2 decoy doors marked EXIT.
- L9: 80 rooms, 3 locked doors (one off the route, guarding a wing that holds another door's
  key), 3 decoys, 14 one-way doors.
- L10: 100 rooms, 4 locked doors (two locked wings, the key to the second lying in the first),
  4 decoys, 18 one-way doors.

From L7 on every locked door is necessary (without it no walk reaches the exit) and every key lies
off the route, the first before any locked door and each other one behind the door opened just
before it, so the walk must detour (and come back) to fetch the keys one after another.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import deque
from dataclasses import dataclass
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
from rooms.extract import answer_block, json_list, normalize, peel_any_label, strip_decoration

ROOM_NAMES: tuple[str, ...] = (
    "Amber Hall",
    "Old Library",
    "Salt Cellar",
    "Glass Conservatory",
    "Iron Armory",
    "Copper Kitchen",
    "Velvet Parlour",
    "Moonlit Gallery",
    "Sunken Chapel",
    "Clockwork Study",
    "Bone Crypt",
    "Silver Ballroom",
    "Ivy Cloister",
    "Marble Atrium",
    "Dusty Attic",
    "Wine Vault",
    "Painted Nursery",
    "Ember Forge",
    "Crystal Grotto",
    "Brass Observatory",
    "Cedar Orangery",
    "Frozen Pantry",
    "Gilded Salon",
    "Hollow Scullery",
    "Jade Solar",
    "Lantern Larder",
    "Mossy Well",
    "Obsidian Chancel",
    "Pewter Refectory",
    "Quiet Dormitory",
    "Rusty Infirmary",
    "Scarlet Treasury",
    "Tallow Archive",
    "Umber Foyer",
    "Violet Vestibule",
    "Whispering Rotunda",
    "Yellow Belfry",
    "Ashen Cistern",
    "Blue Laboratory",
    "Crooked Workshop",
    "Drowned Greenhouse",
    "Echoing Stable",
    "Faded Smithy",
    "Gloomy Bathhouse",
    "Hidden Courtyard",
    "Ivory Terrace",
    "Juniper Loft",
    "Kestrel Garret",
    "Linen Oratory",
    "Mirror Sacristy",
    "Nutmeg Undercroft",
    "Oak Boathouse",
    "Pearl Chartroom",
    "Raven Aviary",
    "Saffron Menagerie",
    "Thistle Apothecary",
    "Walnut Scriptorium",
    "Coral Guardroom",
    "Granite Throne Room",
    "Harp Music Room",
    "Indigo Tea Room",
    "Cobalt Counting House",
    "Lilac Dressing Room",
    "Tin Lamp Room",
    "Birch Gatehouse",
    "Chalk Schoolroom",
    "Dappled Solarium",
    "Ebony Billiard Room",
    "Fern Pavilion",
    "Garnet Boudoir",
    "Hazel Buttery",
    "Iris Anteroom",
    "Jasper Lodge",
    "Lemon Stillroom",
    "Maple Gunroom",
    "Nickel Strongroom",
    "Olive Morning Room",
    "Plum Card Room",
    "Quartz Vestry",
    "Russet Tack Room",
    "Sable Robing Room",
    "Tawny Kennel",
    "Vine Arbour",
    "Willow Summerhouse",
    "Amethyst Bedchamber",
    "Bramble Potting Shed",
    "Candle Chantry",
    "Elm Lumber Room",
    "Flint Powder Room",
    "Heather Snug",
    "Mulberry Mews",
    "Nettle Herbarium",
    "Onyx Mausoleum",
    "Poppy Sewing Room",
    "Slate Washhouse",
    "Topaz Cabinet",
    "Vellum Reading Room",
    "Wicker Porch",
    "Beech Brewhouse",
    "Fig Dairy",
    "Gold Muniment Room",
    "Honey Apiary",
    "Ochre Laundry",
    "Pine Trophy Room",
    "Rowan Chamber",
    "Sage Bakehouse",
    "Tulip Glasshouse",
    "Wax Chandlery",
    "Zinc Icehouse",
    "Pale Dovecote",
)
"""Distinctive room names (no shared first word, no punctuation, no leading 'The')."""

DIRECTIONS: tuple[str, ...] = (
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "southwest",
    "northwest",
    "southeast",
    "up",
    "down",
)
"""Directions a corridor can leave a room in; pairs of opposites are adjacent."""

MAX_DEGREE = 5
"""At most this many corridors per room, so every corridor gets a direction free at both ends."""

PASSAGE_ADJECTIVES: tuple[str, ...] = (
    "narrow",
    "wide",
    "low",
    "drafty",
    "winding",
    "dim",
    "vaulted",
    "damp",
    "long",
    "short",
    "creaking",
    "tiled",
)
PASSAGES: tuple[str, ...] = ("corridor", "passage", "hallway", "tunnel", "archway", "stairway")
FLAVOR: tuple[str, ...] = (
    "Dust hangs in the air of the {room}.",
    "Candles gutter in iron sconces along the walls of the {room}.",
    "The floorboards of the {room} groan underfoot.",
    "A cold draught stirs the tapestries of the {room}.",
    "Portraits stare down from the walls of the {room}.",
    "Water drips somewhere out of sight in the {room}.",
    "The {room} smells of old paper and candle smoke.",
    "A clock ticks in the {room}, though no clock can be seen.",
    "Cobwebs drape the high corners of the {room}.",
    "Faded rugs cover the stone floor of the {room}.",
    "Moonlight falls through a narrow window into the {room}.",
    "A broken chair lies on its side in the middle of the {room}.",
)
"""Atmosphere: one sentence per room, naming only that room."""

KEY_SIGNS: tuple[str, ...] = ("star", "crown", "serpent", "feather", "lion", "anchor")
"""Signs that mark a locked door and its key (none is the first word of a room name)."""

LOCKED_SENTENCES: tuple[str, ...] = (
    "A locked door marked with a {sign} leads {heading} from the {host} to the {other}.",
    "Heading {heading} out of the {host}, you reach a locked door marked with a {sign}; "
    "beyond it lies the {other}.",
    "The {host} connects to the {other} through a locked door marked with a {sign}, "
    "to the {heading}.",
)
KEY_SENTENCES: tuple[str, ...] = (
    "The {sign} key lies on a table in the {room}; it opens the locked door marked with a {sign}, "
    "between the {a} and the {b}.",
    "A key marked with a {sign} hangs on a hook in the {room}: it is the key to the {sign} door "
    "between the {a} and the {b}.",
)
DECOY_SENTENCES: tuple[str, ...] = (
    "A tall door in the {room} is marked EXIT in red letters, but behind it the doorway is "
    "bricked up and leads nowhere.",
    "In the {room} a sign reading EXIT hangs over a door that opens onto a solid brick wall.",
)


@dataclass(frozen=True)
class Level:
    """Shape of the manor at one difficulty."""

    rooms: int
    """Number of rooms."""
    route: tuple[int, int]
    """Range of rooms on the designed entrance-to-exit route (entrance and exit included)."""
    loops: tuple[int, int]
    """Range of extra two-way corridors that close loops."""
    one_way: int
    """Number of one-way doors (the first is a wrong-way shortcut along the route)."""
    shuffled: bool
    """Paragraphs in random order and corridors told from either end (else in walking order)."""
    flavor: bool
    """Add a sentence of atmosphere to each room."""
    dead_ends: int
    """Minimum number of dead-end rooms (one corridor; not the entrance or the exit)."""
    planned: bool = False
    """Built compartment by compartment (levels 6-10): exactly ``loops`` loops, none of them
    around a locked door, and a shortest walk (locks aside) as long as the designed route."""
    route_locks: int = 0
    """Locked doors on the designed route (every walk to the exit passes them)."""
    side_locks: int = 0
    """Locked doors off the route, each closing a wing that holds the key to another door; they
    come one after another in the order the doors must be opened (keys nested in wings)."""
    decoys: int = 0
    """Dead-end rooms with a door marked EXIT that is bricked up."""

    @property
    def locks(self) -> int:
        """Number of locked doors."""
        return self.route_locks + self.side_locks


LEVELS: dict[int, Level] = {
    0: Level(2, (2, 2), (0, 0), 0, shuffled=False, flavor=False, dead_ends=0),
    1: Level(3, (3, 3), (0, 0), 0, shuffled=False, flavor=False, dead_ends=0),
    2: Level(6, (4, 4), (0, 0), 0, shuffled=False, flavor=True, dead_ends=1),
    3: Level(12, (5, 6), (1, 2), 0, shuffled=True, flavor=True, dead_ends=2),
    4: Level(20, (6, 8), (2, 3), 3, shuffled=True, flavor=True, dead_ends=3),
    5: Level(30, (8, 10), (3, 4), 6, shuffled=True, flavor=True, dead_ends=4),
    6: Level(40, (10, 12), (4, 6), 8, shuffled=True, flavor=True, dead_ends=6, planned=True),
    7: Level(
        50, (11, 13), (5, 7), 9, shuffled=True, flavor=True, dead_ends=7, planned=True,
        route_locks=1,
    ),
    8: Level(
        60, (12, 14), (6, 8), 10, shuffled=True, flavor=True, dead_ends=8, planned=True,
        route_locks=2, decoys=2,
    ),
    9: Level(
        80, (13, 15), (7, 9), 14, shuffled=True, flavor=True, dead_ends=10, planned=True,
        route_locks=2, side_locks=1, decoys=3,
    ),
    10: Level(
        100, (14, 16), (8, 10), 18, shuffled=True, flavor=True, dead_ends=12, planned=True,
        route_locks=2, side_locks=2, decoys=4,
    ),
}  # fmt: skip
PAR_SECONDS: dict[int, float] = {
    0: 20.0,
    1: 25.0,
    2: 40.0,
    3: 75.0,
    4: 120.0,
    5: 180.0,
    6: 240.0,
    7: 300.0,
    8: 360.0,
    9: 480.0,
    10: 600.0,
}
LEVEL_NOTES: dict[int, str] = {
    0: "two rooms joined by one corridor, told in plain sentences",
    1: "3 rooms in a chain, told in walking order",
    2: "6 rooms with a branch, a sentence of atmosphere per room",
    3: "12 rooms with dead ends and loops, paragraphs shuffled",
    4: "20 rooms, 3 one-way doors, one of them a tempting wrong-way shortcut",
    5: "30 rooms with dead ends, loops and 6 one-way doors",
    6: "40 rooms, a route of 10-12 rooms, 4-6 loops, 8 one-way doors, 6+ dead ends",
    7: "50 rooms, a locked door on the way whose key lies in a side room, 9 one-way doors",
    8: "60 rooms, 2 locked doors, 10 one-way doors, 2 decoy doors marked EXIT",
    9: "80 rooms, 3 locked doors (a key behind another locked door), 3 decoys, 14 one-way doors",
    10: "100 rooms, 4 locked doors with keys nested in locked wings, 4 decoys, 18 one-way doors",
}
MAX_ATTEMPTS = 200
LOOP_TRIES = 80
"""Random pairs drawn to place a planned level's loops before giving up on the candidate."""


class MapAnswer(BaseModel):
    """A path: room names from the entrance to the exit, in walking order."""

    path: list[str]


# --- graph -------------------------------------------------------------------------------------


def opposite(direction: str) -> str:
    """The direction back along a corridor (``north`` <-> ``south``, ``up`` <-> ``down``)."""
    index = DIRECTIONS.index(direction)
    return DIRECTIONS[index ^ 1]


def adjacency(data: dict[str, Any]) -> dict[str, list[str]]:
    """Directed moves allowed by the stored corridors: two-way both ways, one-way ``a`` -> ``b``
    (locked doors count as open: see ``solve`` for the walk that honours them)."""
    moves: dict[str, list[str]] = {name: [] for name in data["rooms"]}
    for corridor in data["corridors"]:
        moves[corridor["a"]].append(corridor["b"])
        if not corridor["one_way"]:
            moves[corridor["b"]].append(corridor["a"])
    return moves


def undirected_adjacency(data: dict[str, Any]) -> dict[str, list[str]]:
    """Moves if every door could be opened from both sides (what a careless reader assumes)."""
    moves: dict[str, list[str]] = {name: [] for name in data["rooms"]}
    for corridor in data["corridors"]:
        moves[corridor["a"]].append(corridor["b"])
        moves[corridor["b"]].append(corridor["a"])
    return moves


def shortest_path(moves: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    """Breadth-first search: a shortest list of rooms from ``start`` to ``goal``, or None."""
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if here == goal:
            path = [here]
            while (back := previous[path[-1]]) is not None:
                path.append(back)
            return path[::-1]
        for there in moves[here]:
            if there not in previous:
                previous[there] = here
                queue.append(there)
    return None


def solve(
    data: dict[str, Any], goal: str | None = None, closed: frozenset[str] | None = None
) -> list[str] | None:
    """The reference solver: a shortest walk from the entrance to ``goal`` (default the exit),
    by breadth-first search over (room, keys held), or None.

    One-way doors open only from ``a``; a locked door opens (both ways) once the walker has
    entered the room where its key lies, and a key once picked up stays with the walker. The
    corridor between the two rooms of ``closed``, if given, is treated as walled up.
    """
    bit = {sign: 1 << index for index, sign in enumerate(sorted(data["keys"]))}
    found: dict[str, int] = {}
    for sign, room in data["keys"].items():
        found[room] = found.get(room, 0) | bit[sign]
    moves: dict[str, list[tuple[str, int]]] = {name: [] for name in data["rooms"]}
    for corridor in data["corridors"]:
        a, b = corridor["a"], corridor["b"]
        if closed is not None and frozenset((a, b)) == closed:
            continue
        need = bit[corridor["lock"]] if corridor["lock"] else 0
        moves[a].append((b, need))
        if not corridor["one_way"]:
            moves[b].append((a, need))
    target = data["exit"] if goal is None else goal
    start = (data["entrance"], found.get(data["entrance"], 0))
    previous: dict[tuple[str, int], tuple[str, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if state[0] == target:
            path = [state]
            while (back := previous[path[-1]]) is not None:
                path.append(back)
            return [room for room, _ in reversed(path)]
        here, held = state
        for there, need in moves[here]:
            if need & ~held:
                continue
            step = (there, held | found.get(there, 0))
            if step not in previous:
                previous[step] = state
                queue.append(step)
    return None


def degrees(data: dict[str, Any]) -> dict[str, int]:
    """Number of corridors at each room."""
    degree = dict.fromkeys(data["rooms"], 0)
    for corridor in data["corridors"]:
        degree[corridor["a"]] += 1
        degree[corridor["b"]] += 1
    return degree


def dead_ends(data: dict[str, Any]) -> list[str]:
    """Rooms with a single corridor, other than the entrance and the exit."""
    ends = {data["entrance"], data["exit"]}
    return [name for name, count in degrees(data).items() if count == 1 and name not in ends]


def locked_corridors(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The corridors closed by a locked door."""
    return [corridor for corridor in data["corridors"] if corridor["lock"]]


# --- generation --------------------------------------------------------------------------------


def build_graph(rng: random.Random, level: Level) -> dict[str, Any]:
    """One candidate manor for levels 0-5: a route, branches, loops and one-way doors (may fail
    the checks)."""
    names = rng.sample(ROOM_NAMES, level.rooms)
    route_len = rng.randint(*level.route)
    route = names[:route_len]
    entrance, exit_ = route[0], route[-1]
    degree = dict.fromkeys(names, 0)
    pairs: dict[frozenset[str], dict[str, Any]] = {}

    def connect(a: str, b: str, one_way: bool = False, kind: str = "route") -> None:
        pairs[frozenset((a, b))] = {"a": a, "b": b, "one_way": one_way, "kind": kind}
        degree[a] += 1
        degree[b] += 1

    for a, b in itertools.pairwise(route):
        connect(a, b)
    placed = list(route)
    for name in names[route_len:]:
        hosts = [room for room in placed if room != exit_ and degree[room] < MAX_DEGREE - 1]
        connect(rng.choice(hosts), name, kind="branch")
        placed.append(name)

    if level.one_way:
        i = rng.randint(0, route_len - 3)
        # A wrong-way door from a later room of the route back to an earlier one: ignoring its
        # direction gives a shorter route. It never joins the entrance to the exit directly.
        j = rng.randint(i + 2, route_len - 1 - int(i == 0))
        shortcut = frozenset((route[i], route[j]))
        if shortcut in pairs or max(degree[route[i]], degree[route[j]]) >= MAX_DEGREE:
            return {}
        connect(route[j], route[i], one_way=True, kind="trap")

    for _ in range(rng.randint(*level.loops)):
        a, b = rng.sample(names, 2)
        if (
            frozenset((a, b)) in pairs
            or {a, b} == {entrance, exit_}
            or max(degree[a], degree[b]) >= MAX_DEGREE
        ):
            continue
        connect(a, b, kind="loop")

    corridors = list(pairs.values())
    convertible = [c for c in corridors if not c["one_way"]]
    rng.shuffle(convertible)
    for corridor in convertible[: max(0, level.one_way - 1)]:
        corridor["one_way"] = True
        if corridor["kind"] != "route" and rng.random() < 0.5:
            corridor["a"], corridor["b"] = corridor["b"], corridor["a"]
    rng.shuffle(corridors)
    for corridor in corridors:
        if rng.random() < 0.5 and not corridor["one_way"]:
            corridor["a"], corridor["b"] = corridor["b"], corridor["a"]
    return {
        "rooms": names,
        "entrance": entrance,
        "exit": exit_,
        "corridors": [
            {"a": c["a"], "b": c["b"], "one_way": c["one_way"], "lock": None} for c in corridors
        ],
        "keys": {},
        "decoys": [],
    }


def lock_positions(rng: random.Random, route_len: int, count: int) -> list[int]:
    """Indices ``p`` of the route corridors (``route[p]`` - ``route[p + 1]``) that get a locked
    door: never the first or last corridor, and never two in a row."""
    for _ in range(100):
        positions = sorted(rng.sample(range(1, route_len - 2), count))
        if all(later - earlier >= 2 for earlier, later in itertools.pairwise(positions)):
            return positions
    raise RuntimeError("no room on the route for the locked doors")  # pragma: no cover


def lock_order(rng: random.Random, level: Level) -> list[str]:
    """The order in which the doors must be opened: ``route`` / ``side`` per door. The side
    doors come one after another (each wing holds the key to the next door) and the last door
    is on the route (the one into the exit's part of the manor)."""
    if not level.locks:
        return []
    route_doors = level.route_locks - 1
    where = rng.randint(0, route_doors)
    return ["route"] * where + ["side"] * level.side_locks + ["route"] * (route_doors - where + 1)


class Plan:
    """A planned manor under construction: rooms grouped into compartments that only locked
    doors join (and the one-way trap, which only leads back), so no loop leads around a locked
    door."""

    def __init__(self, rng: random.Random, level: Level) -> None:
        self.rng = rng
        self.level = level
        self.names = rng.sample(ROOM_NAMES, level.rooms)
        self.route = self.names[: rng.randint(*level.route)]
        self.pending = deque(self.names[len(self.route) :])
        self.degree = dict.fromkeys(self.names, 0)
        self.pairs: dict[frozenset[str], dict[str, Any]] = {}
        self.parent: dict[str, str] = {}
        self.compartment: dict[str, int] = {}
        self.keys: dict[str, str] = {}
        self.wing_ends: dict[int, str] = {}
        self.wing_hosts: list[str] = []

    def connect(self, a: str, b: str, kind: str, one_way: bool = False) -> dict[str, Any]:
        """Add a corridor from ``a`` to ``b``."""
        corridor = {"a": a, "b": b, "one_way": one_way, "lock": None, "kind": kind}
        self.pairs[frozenset((a, b))] = corridor
        self.degree[a] += 1
        self.degree[b] += 1
        return corridor

    def hosts(self, compartments: list[int]) -> list[str]:
        """Placed rooms of these compartments that can take one more branch (never the exit)."""
        return [
            room
            for room in self.names
            if self.compartment.get(room) in compartments
            and room != self.route[-1]
            and self.degree[room] < MAX_DEGREE - 1
        ]

    def grow(self, host: str, length: int, compartment: int) -> list[str]:
        """Hang a chain of ``length`` new rooms off ``host``, all in ``compartment``."""
        chain = []
        for _ in range(length):
            room = self.pending.popleft()
            self.connect(host, room, "branch")
            self.parent[room] = host
            self.compartment[room] = compartment
            chain.append(room)
            host = room
        return chain

    def lay_route(self, positions: list[int]) -> None:
        """The route as a chain, its rooms in compartments 0, 1, ... split at ``positions``."""
        zone = 0
        for index, room in enumerate(self.route):
            self.compartment[room] = zone
            zone += index in positions
        for a, b in itertools.pairwise(self.route):
            self.connect(a, b, "route")

    def place_key(self, sign: str, latest: int) -> None:
        """Put the key to ``sign`` off the route in compartment ``latest``: at the end of a wing,
        or at the end of a new side branch of 1-3 rooms."""
        if latest in self.wing_ends:
            self.keys[sign] = self.wing_ends.pop(latest)
            return
        host = self.rng.choice(self.hosts([latest]))
        self.keys[sign] = self.grow(host, self.rng.randint(1, 3), latest)[-1]

    def lock_doors(self, positions: list[int]) -> None:
        """Lock the doors in their opening order: each key lies in the part opened last."""
        order = lock_order(self.rng, self.level)
        signs = self.rng.sample(KEY_SIGNS, len(order))
        opened, latest, route_doors = [0], 0, iter(positions)
        for sign, kind in zip(signs, order, strict=True):
            self.place_key(sign, latest)
            if kind == "route":
                p = next(route_doors)
                self.pairs[frozenset((self.route[p], self.route[p + 1]))]["lock"] = sign
                latest = self.compartment[self.route[p + 1]]
            else:
                latest = len(self.route) + len(opened)  # a fresh compartment id
                host = self.rng.choice(self.hosts(opened))
                self.wing_hosts.append(host)
                wing = self.grow(host, self.rng.randint(1, 3), latest)
                self.pairs[frozenset((host, wing[0]))]["lock"] = sign
                self.wing_ends[latest] = wing[-1]
            opened.append(latest)

    def essential(self) -> set[frozenset[str]]:
        """Corridors on the way from the route to a key or to a wing's door: never one-way."""
        needed = set()
        for room in [*self.keys.values(), *self.wing_hosts]:
            while room in self.parent:
                needed.add(frozenset((room, self.parent[room])))
                room = self.parent[room]
        return needed

    def branch_out(self) -> None:
        """Hang the remaining rooms off random placed rooms, one at a time."""
        while self.pending:
            placed = [room for room in self.names if room in self.compartment]
            host = self.rng.choice(self.hosts(sorted({self.compartment[r] for r in placed})))
            self.grow(host, 1, self.compartment[host])

    def add_trap(self) -> bool:
        """A one-way door from a later room of the route back to an earlier one (ignoring its
        direction gives a shorter route, never entrance to exit directly)."""
        route = self.route
        i = self.rng.randint(0, len(route) - 3)
        j = self.rng.randint(i + 2, len(route) - 1 - int(i == 0))
        if max(self.degree[route[i]], self.degree[route[j]]) >= MAX_DEGREE:
            return False
        self.connect(route[j], route[i], "trap", one_way=True)
        return True

    def add_loops(self) -> bool:
        """Exactly the level's number of loops, each inside one compartment."""
        wanted = self.rng.randint(*self.level.loops)
        ends = {self.route[0], self.route[-1]}
        for _ in range(LOOP_TRIES):
            if wanted == 0:
                return True
            a, b = self.rng.sample(self.names, 2)
            if (
                frozenset((a, b)) in self.pairs
                or {a, b} == ends
                or self.compartment[a] != self.compartment[b]
                or max(self.degree[a], self.degree[b]) >= MAX_DEGREE
            ):
                continue
            self.connect(a, b, "loop")
            wanted -= 1
        return wanted == 0

    def one_way_doors(self) -> None:
        """Turn corridors into one-way doors until the level's count is reached: route doors
        forwards, others either way, never a locked door or one on the way to a key."""
        needed = self.essential()
        corridors = [
            corridor
            for pair, corridor in self.pairs.items()
            if not corridor["one_way"] and not corridor["lock"] and pair not in needed
        ]
        self.rng.shuffle(corridors)
        for corridor in corridors[: self.level.one_way - 1]:
            corridor["one_way"] = True
            if corridor["kind"] != "route" and self.rng.random() < 0.5:
                corridor["a"], corridor["b"] = corridor["b"], corridor["a"]

    def data(self) -> dict[str, Any]:
        """The manor as stored puzzle data (corridors shuffled and told from random ends)."""
        corridors = list(self.pairs.values())
        self.rng.shuffle(corridors)
        for corridor in corridors:
            if self.rng.random() < 0.5 and not corridor["one_way"]:
                corridor["a"], corridor["b"] = corridor["b"], corridor["a"]
        return {
            "rooms": self.names,
            "entrance": self.route[0],
            "exit": self.route[-1],
            "corridors": [
                {key: c[key] for key in ("a", "b", "one_way", "lock")} for c in corridors
            ],
            "keys": dict(self.keys),
            "decoys": [],
        }


def build_planned(rng: random.Random, level: Level) -> dict[str, Any]:
    """One candidate manor for levels 6-10 (may fail the checks): the route split by locked
    doors, keys and locked wings in opening order, branches, a wrong-way trap, loops inside
    compartments, one-way doors and decoy exits."""
    plan = Plan(rng, level)
    positions = lock_positions(rng, len(plan.route), level.route_locks)
    plan.lay_route(positions)
    plan.lock_doors(positions)
    plan.branch_out()
    if not plan.add_trap() or not plan.add_loops():
        return {}
    plan.one_way_doors()
    data = plan.data()
    data["decoys"] = pick_decoys(rng, data, level.decoys)
    return data


def pick_decoys(rng: random.Random, data: dict[str, Any], count: int) -> list[str]:
    """``count`` dead ends without a key that a legal walk reaches, to hold doors marked EXIT
    that lead nowhere (fewer if there are not enough)."""
    if not count:
        return []
    keys = set(data["keys"].values())
    candidates = [room for room in dead_ends(data) if room not in keys]
    rng.shuffle(candidates)
    reached = (room for room in candidates if solve(data, goal=room) is not None)
    return list(itertools.islice(reached, count))


def acceptable(data: dict[str, Any], level: Level) -> bool:
    """Whether a candidate manor has the properties its level promises."""
    if not data:
        return False
    path = solve(data)
    if path is None or len(path) < min(3, level.route[0]):
        return False
    if len(dead_ends(data)) < level.dead_ends:
        return False
    if level.one_way:
        careless = shortest_path(undirected_adjacency(data), data["entrance"], data["exit"])
        one_ways = sum(c["one_way"] for c in data["corridors"])
        if careless is None or len(careless) >= len(path) or one_ways != level.one_way:
            return False
    if level.planned:
        open_path = shortest_path(adjacency(data), data["entrance"], data["exit"])
        if open_path is None or not level.route[0] <= len(open_path) <= level.route[1]:
            return False
        if level.locks and len(open_path) >= len(path):
            return False  # the keys must cost a detour
    locks = locked_corridors(data)
    if len(locks) != level.locks or len(data["decoys"]) != level.decoys:
        return False
    return all(
        solve(data, closed=frozenset((corridor["a"], corridor["b"]))) is None for corridor in locks
    )


def assign_directions(rng: random.Random, data: dict[str, Any]) -> None:
    """Give each corridor a compass direction (from ``a`` to ``b``), unique at both ends."""
    used: dict[str, set[str]] = {name: set() for name in data["rooms"]}
    for corridor in data["corridors"]:
        a, b = corridor["a"], corridor["b"]
        free = [d for d in DIRECTIONS if d not in used[a] and opposite(d) not in used[b]]
        direction = rng.choice(free)
        used[a].add(direction)
        used[b].add(opposite(direction))
        corridor["direction"] = direction


def walking_order(data: dict[str, Any]) -> list[str]:
    """Rooms in breadth-first order from the entrance, ignoring door directions."""
    moves = undirected_adjacency(data)
    order = [data["entrance"]]
    seen = {data["entrance"]}
    queue = deque(order)
    while queue:
        for there in moves[queue.popleft()]:
            if there not in seen:
                seen.add(there)
                order.append(there)
                queue.append(there)
    return order


def corridor_sentence(rng: random.Random, corridor: dict[str, Any], host: str) -> str:
    """One sentence of prose for a corridor, told from the ``host`` end."""
    a, b, direction = corridor["a"], corridor["b"], corridor["direction"]
    if corridor["one_way"]:
        if host == a:
            return rng.choice(
                (
                    f"A one-way door lets you pass from the {a} into the {b}, "
                    f"but it cannot be opened from the {b} side.",
                    f"In the {a}, a heavy one-way door to the {direction} opens into the {b}; "
                    f"it cannot be opened from the {b} side, so there is no way back through it.",
                )
            )
        return rng.choice(
            (
                f"A one-way door lets you pass from the {a} into the {b}, "
                f"but it cannot be opened from the {b} side.",
                f"From the {b} you can see a door leading {opposite(direction)} to the {a}, "
                f"but it is a one-way door that only opens from the {a} side.",
            )
        )
    other = b if host == a else a
    heading = direction if host == a else opposite(direction)
    if corridor["lock"]:
        return rng.choice(LOCKED_SENTENCES).format(
            sign=corridor["lock"], heading=heading, host=host, other=other
        )
    passage = f"{rng.choice(PASSAGE_ADJECTIVES)} {rng.choice(PASSAGES)}"
    return rng.choice(
        (
            f"From the {host}, a {passage} runs {heading} to the {other}.",
            f"A {passage} leads {heading} from the {host} to the {other}.",
            f"Heading {heading} out of the {host}, a {passage} brings you to the {other}.",
            f"The {host} connects to the {other} by a {passage} running {heading}.",
        )
    )


def describe(rng: random.Random, data: dict[str, Any], level: Level) -> list[str]:
    """The manor as paragraphs of prose, one per room that has something to tell."""
    order = walking_order(data)
    rank = {name: index for index, name in enumerate(order)}
    told: dict[str, list[str]] = {name: [] for name in order}
    doors: dict[str, dict[str, Any]] = {}
    for corridor in data["corridors"]:
        ends = (corridor["a"], corridor["b"])
        host = rng.choice(ends) if level.shuffled else min(ends, key=rank.__getitem__)
        told[host].append(corridor_sentence(rng, corridor, host))
        if corridor["lock"]:
            doors[corridor["lock"]] = corridor
    for sign, room in data["keys"].items():
        door = doors[sign]
        told[room].append(
            rng.choice(KEY_SENTENCES).format(sign=sign, room=room, a=door["a"], b=door["b"])
        )
    for room in data["decoys"]:
        told[room].append(rng.choice(DECOY_SENTENCES).format(room=room))
    rooms = list(order)
    if level.shuffled:
        rng.shuffle(rooms)
    paragraphs = []
    for name in rooms:
        sentences = list(told[name])
        if level.flavor:
            sentences.insert(0, rng.choice(FLAVOR).format(room=name))
        if sentences:
            paragraphs.append(" ".join(sentences))
    return paragraphs


def make_prompt(data: dict[str, Any], paragraphs: list[str]) -> str:
    """The full text shown to the contestant, ending with the answer format."""
    entrance, exit_ = data["entrance"], data["exit"]
    answer_line = f"ANSWER: {entrance} -> ... -> {exit_}"
    if len(data["rooms"]) == 2:
        intro = f"You stand in the {entrance}. The way out is through the {exit_}."
        instruction = (
            f"Walk from the {entrance} to the {exit_}. List the rooms in the order you pass "
            "through them, separated by ' -> '. End your reply with one line of the form:\n"
            + answer_line
        )
        return "\n\n".join([intro, *paragraphs, instruction])
    intro = (
        f"You are lost in an old manor of {len(data['rooms'])} rooms. You stand in the "
        f"{entrance}, where you came in. The only way out is through the {exit_}. "
        "Every corridor can be walked in both directions"
        + (
            ", except one-way doors: they can only be passed in the direction described."
            if any(corridor["one_way"] for corridor in data["corridors"])
            else "."
        )
    )
    if data["keys"]:
        intro += (
            " Some doors are locked. Each locked door is marked with a sign, and its key, marked "
            "with the same sign, lies in one of the rooms. You pick up a key as soon as you enter "
            "the room where it lies and keep it from then on; a locked door can be passed, in "
            "both directions, only once you carry its key."
        )
    detour = (
        " If you walk back through a room (to fetch a key, say), list it again each time."
        if data["keys"]
        else ""
    )
    instruction = (
        f"Find a route from the {entrance} to the {exit_}, moving only along the corridors and "
        "doors described above. List the rooms in the order you pass through them, starting "
        f"with the {entrance} and ending with the {exit_}, separated by ' -> '.{detour} "
        "End your reply with one line of the form:\n" + answer_line
    )
    return "\n\n".join([intro, *paragraphs, instruction])


def generate_manor(rng: random.Random, level: Level) -> dict[str, Any]:
    """A manor that passes the level's checks, drawn from ``rng`` (retrying as needed)."""
    build = build_planned if level.planned else build_graph
    for _ in range(MAX_ATTEMPTS):
        data = build(rng, level)
        if acceptable(data, level):
            assign_directions(rng, data)
            return data
    raise RuntimeError("could not generate a manor")  # pragma: no cover


# --- parsing -----------------------------------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s*(?:\d+\s*[.):]|[-*•+]\s|[-=]+>|[→⟶⇒➔➜➝⟹])")
_SEPARATOR = re.compile(r"[-=—–]*>|[→⟶⇒➔➜➝⟹]|\s[-–—]+\s|[,;\n|]")
_ITEM_PREFIX = re.compile(r"^(?:(?:step|room)\s*)?\d+\s*[.):]\s*|^[-*•+]\s*|^(?:then|and)\s+")
_LABEL = re.compile(
    r"^(?:so\s+)?(?:(?:the|my|final|shortest)\s+)*(?:path|route|answer)\s*(?:is\s*:?|[:=]|$)\s*"
)
_PARENTHETICAL = re.compile(r"\s*(?:\([^()]*\)?|\[[^\[\]]*\]?)$")


def clean_item(item: str) -> str:
    """Normalize one path item: decoration, numbering, a leading 'the', a trailing '(note)' or
    '[note]'."""
    text = normalize(item)
    previous = None
    while previous != text:
        previous = text
        text = _ITEM_PREFIX.sub("", text)
        text = _PARENTHETICAL.sub("", text)
        text = strip_decoration(text)
        text = re.sub(r"^the\s+", "", text)
    return text


def parse_path(reply: str) -> list[str]:
    """Normalized room names of the path in a reply (possibly empty)."""
    block = answer_block(reply, _LIST_ITEM, "paragraph")
    items = json_list(block, "path")
    if items is None:
        first, _, rest = block.partition("\n")
        first = peel_any_label(strip_decoration(first))  # 'The secret word is: A -> B'
        first = _LABEL.sub("", strip_decoration(first).casefold())  # 'Path: ...', 'The route is'
        items = _SEPARATOR.split(f"{first}\n{rest}")
    return [cleaned for item in items if (cleaned := clean_item(item))]


def lookup(data: dict[str, Any]) -> dict[str, str]:
    """Normalized room name -> its canonical spelling."""
    return {normalize(name): name for name in data["rooms"]}


# --- the room ----------------------------------------------------------------------------------


@register_room
class Map(Room):
    """Walk from the entrance to the exit of a manor described in prose."""

    id: ClassVar[str] = "map-v2"
    name: ClassVar[str] = "Map"
    Answer: ClassVar[type[BaseModel]] = MapAnswer
    level_notes: ClassVar[dict[int, str]] = LEVEL_NOTES

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """A manor for this seed and difficulty, its prose, and a shortest walk as solution."""
        check_difficulty(difficulty)
        level = LEVELS[difficulty]
        rng = self.rng(seed, difficulty)
        data = generate_manor(rng, level)
        prompt = make_prompt(data, describe(rng, data, level))
        route = solve(data)
        if route is None:  # pragma: no cover - generate_manor guarantees a route
            raise RuntimeError("generated manor has no route")
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=prompt,
            solution=" -> ".join(route),
            par_seconds=PAR_SECONDS[difficulty],
            key=room_key(self.id, seed),
            data=data,
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Judgement:
        """Accept any walk along real corridors from the entrance to the exit that passes each
        locked door only after entering the room of its key."""
        data = puzzle.data
        items = parse_path(reply)
        if not items:
            return Judgement(solved=False, parsed=None, reason="no path found in the reply")
        names = lookup(data)
        path = [names.get(item, item) for item in items]
        parsed = " -> ".join(path)
        unknown = [item for item in items if item not in names]
        if unknown:
            return Judgement(
                solved=False,
                parsed=parsed,
                reason=f"unknown room {unknown[0]!r}",
                details={"unknown": unknown},
            )
        problem = walk_problem(data, path)
        if problem is not None:
            return Judgement(solved=False, parsed=parsed, reason=problem, details={"path": path})
        shortest = solve(data)
        best = len(shortest) - 1 if shortest else 0
        steps = len(path) - 1
        return Judgement(
            solved=True,
            parsed=parsed,
            reason="a valid route from the entrance to the exit"
            + (" (shortest)" if steps == best else f" ({steps} steps; shortest is {best})"),
            details={"path": path, "length": steps, "shortest": best, "optimal": steps == best},
        )

    def reference_reply(self, puzzle: Puzzle) -> str:
        """Breadth-first search over (room, keys held), honouring one-way and locked doors."""
        return "ANSWER: " + " -> ".join(solve(puzzle.data) or [])

    def bluff(self, puzzle: Puzzle) -> str:
        """A confident wrong route: through a locked door without its key, a one-way door used
        backwards, out by a bricked-up EXIT, a skipped room or a made-up corridor."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        data = puzzle.data
        for candidate in bluff_candidates(rng, data):
            if walk_problem(data, candidate) is not None:
                return "I traced every corridor: this is the quickest way out.\nANSWER: " + (
                    " -> ".join(candidate)
                )
        raise RuntimeError("no wrong route found")  # pragma: no cover


def walk_problem(data: dict[str, Any], path: list[str]) -> str | None:
    """Why ``path`` is not a walk from the entrance to the exit, or None if it is one (the first
    problem: a wrong start, a wrong end, then the first step that cannot be taken)."""
    entrance, exit_ = data["entrance"], data["exit"]
    if path[0] != entrance:
        return f"the path must start at the entrance, the {entrance}, not the {path[0]}"
    if path[-1] != exit_:
        decoy = " (its door marked EXIT is bricked up)" if path[-1] in data["decoys"] else ""
        return f"the path must end at the exit, the {exit_}, not the {path[-1]}{decoy}"
    moves = adjacency(data)
    walls = undirected_adjacency(data)
    locks = {frozenset((c["a"], c["b"])): c["lock"] for c in locked_corridors(data)}
    signs_in: dict[str, list[str]] = {}
    for sign, room in data["keys"].items():
        signs_in.setdefault(room, []).append(sign)
    held = set(signs_in.get(entrance, []))
    for here, there in itertools.pairwise(path):
        if there not in moves[here]:
            if there in walls[here]:
                return (
                    f"the door from the {here} to the {there} is one-way "
                    f"and cannot be opened from the {here} side"
                )
            return f"there is no corridor between the {here} and the {there}"
        sign = locks.get(frozenset((here, there)))
        if sign is not None and sign not in held:
            return (
                f"the door between the {here} and the {there} is locked: its key, the {sign} "
                f"key, lies in the {data['keys'][sign]}, which the path has not entered before"
            )
        held.update(signs_in.get(there, []))
    return None


def bluff_candidates(rng: random.Random, data: dict[str, Any]) -> list[list[str]]:
    """Plausible wrong routes, most tempting first."""
    entrance, exit_ = data["entrance"], data["exit"]
    tempting = []
    if data["keys"]:  # straight through a locked door, the key left where it lies
        tempting.append(shortest_path(adjacency(data), entrance, exit_))
    if data["decoys"]:  # out through a bricked-up EXIT
        tempting.append(min((solve(data, goal=room) for room in data["decoys"]), key=walk_len))
        if rng.random() < 0.5:
            tempting.reverse()
    candidates = [path for path in tempting if path is not None]
    careless = shortest_path(undirected_adjacency(data), entrance, exit_)
    if careless is not None:
        candidates.append(careless)
    route = solve(data) or [entrance, exit_]
    skips = [route[:i] + route[i + 1 :] for i in range(1, len(route) - 1)]
    rng.shuffle(skips)
    candidates.extend(skips)
    others = [name for name in data["rooms"] if name not in route]
    if others and len(route) > 2:
        i = rng.randint(1, len(route) - 2)
        candidates.append([*route[:i], rng.choice(others), *route[i + 1 :]])
    candidates.append([entrance, exit_])
    candidates.append(route[::-1])  # the way in and the way out swapped (two rooms: level 0)
    return candidates


def walk_len(path: list[str] | None) -> int:
    """Length of a walk for sorting (no walk sorts last)."""
    return len(path) if path is not None else len(ROOM_NAMES) ** 2

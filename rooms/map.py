"""Map: find a way through a manor of named rooms described in prose.

The graph (rooms, two-way corridors and one-way doors) is generated from the seed and told as
several paragraphs of prose, one per room. The contestant answers with a path of room names from
the entrance to the exit. Any walk that follows real corridors in allowed directions is accepted;
the verdict records whether it was a shortest one.

Difficulty: 3 rooms in a chain (L1), a branch (L2), dead ends and loops (L3), one-way doors with a
tempting wrong-way shortcut (L4), and a 30-room manor (L5).
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
    Puzzle,
    Room,
    Verdict,
    check_difficulty,
    register_room,
    room_key,
    seed_for,
)
from rooms.extract import answer_block, json_list, normalize, strip_decoration

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


LEVELS: dict[int, Level] = {
    1: Level(3, (3, 3), (0, 0), 0, shuffled=False, flavor=False, dead_ends=0),
    2: Level(6, (4, 4), (0, 0), 0, shuffled=False, flavor=True, dead_ends=1),
    3: Level(12, (5, 6), (1, 2), 0, shuffled=True, flavor=True, dead_ends=2),
    4: Level(20, (6, 8), (2, 3), 3, shuffled=True, flavor=True, dead_ends=3),
    5: Level(30, (8, 10), (3, 4), 6, shuffled=True, flavor=True, dead_ends=4),
}
PAR_SECONDS: dict[int, float] = {1: 25.0, 2: 40.0, 3: 75.0, 4: 120.0, 5: 180.0}
MAX_ATTEMPTS = 200


class MapAnswer(BaseModel):
    """A path: room names from the entrance to the exit, in walking order."""

    path: list[str]


# --- graph -------------------------------------------------------------------------------------


def opposite(direction: str) -> str:
    """The direction back along a corridor (``north`` <-> ``south``, ``up`` <-> ``down``)."""
    index = DIRECTIONS.index(direction)
    return DIRECTIONS[index ^ 1]


def adjacency(data: dict[str, Any]) -> dict[str, list[str]]:
    """Directed moves allowed by the stored corridors: two-way both ways, one-way ``a`` -> ``b``."""
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


def dead_ends(data: dict[str, Any]) -> list[str]:
    """Rooms with a single corridor, other than the entrance and the exit."""
    degree = {name: 0 for name in data["rooms"]}
    for corridor in data["corridors"]:
        degree[corridor["a"]] += 1
        degree[corridor["b"]] += 1
    ends = {data["entrance"], data["exit"]}
    return [name for name, count in degree.items() if count == 1 and name not in ends]


# --- generation --------------------------------------------------------------------------------


def build_graph(rng: random.Random, level: Level) -> dict[str, Any]:
    """One candidate manor: a route, branches, loops and one-way doors (may fail the checks)."""
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
        "corridors": [{"a": c["a"], "b": c["b"], "one_way": c["one_way"]} for c in corridors],
    }


def acceptable(data: dict[str, Any], level: Level) -> bool:
    """Whether a candidate manor has the properties its level promises."""
    if not data:
        return False
    path = shortest_path(adjacency(data), data["entrance"], data["exit"])
    if path is None or len(path) < 3:
        return False
    if len(dead_ends(data)) < level.dead_ends:
        return False
    if level.one_way:
        careless = shortest_path(undirected_adjacency(data), data["entrance"], data["exit"])
        one_ways = sum(c["one_way"] for c in data["corridors"])
        if careless is None or len(careless) >= len(path) or one_ways != level.one_way:
            return False
    return True


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
    for corridor in data["corridors"]:
        ends = (corridor["a"], corridor["b"])
        host = rng.choice(ends) if level.shuffled else min(ends, key=rank.__getitem__)
        told[host].append(corridor_sentence(rng, corridor, host))
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
    instruction = (
        f"Find a route from the {entrance} to the {exit_}, moving only along the corridors and "
        "doors described above. List the rooms in the order you pass through them, starting "
        f"with the {entrance} and ending with the {exit_}, separated by ' -> '. "
        "End your reply with one line of the form:\n"
        f"ANSWER: {entrance} -> ... -> {exit_}"
    )
    return "\n\n".join([intro, *paragraphs, instruction])


def generate_manor(rng: random.Random, level: Level) -> dict[str, Any]:
    """A manor that passes the level's checks, drawn from ``rng`` (retrying as needed)."""
    for _ in range(MAX_ATTEMPTS):
        data = build_graph(rng, level)
        if acceptable(data, level):
            assign_directions(rng, data)
            return data
    raise RuntimeError("could not generate a manor")  # pragma: no cover


# --- parsing -----------------------------------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s*(?:\d+\s*[.):]|[-*•+]\s|[-=]+>|[→⟶⇒➔➜➝⟹])")
_SEPARATOR = re.compile(r"[-=—–]*>|[→⟶⇒➔➜➝⟹]|\s[-–—]+\s|[,;\n|]")
_ITEM_PREFIX = re.compile(r"^(?:(?:step|room)\s*)?\d+\s*[.):]\s*|^[-*•+]\s*|^(?:then|and)\s+")
_LABEL = re.compile(
    r"^(?:so\s+)?(?:(?:the|my|final|shortest)\s+)*(?:path|route|answer)\s*(?:is\s*:?|[:=])\s*"
)
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)?$")


def clean_item(item: str) -> str:
    """Normalize one path item: decoration, numbering, a leading 'the', a trailing '(note)'."""
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
        first = _LABEL.sub("", strip_decoration(first).casefold())  # 'Path: ...', 'The route is'
        items = _SEPARATOR.split(f"{first}\n{rest}")
    return [cleaned for item in items if (cleaned := clean_item(item))]


def lookup(data: dict[str, Any]) -> dict[str, str]:
    """Normalized room name -> its canonical spelling."""
    return {normalize(name): name for name in data["rooms"]}


# --- the room ----------------------------------------------------------------------------------


@register_room
class MapRoom(Room):
    """Walk from the entrance to the exit of a manor described in prose."""

    id: ClassVar[str] = "map-v1"
    name: ClassVar[str] = "Map"
    Answer: ClassVar[type[BaseModel]] = MapAnswer

    def generate(self, seed: int, difficulty: int) -> Puzzle:
        """A manor for this seed and difficulty, its prose, and a shortest route as solution."""
        check_difficulty(difficulty)
        level = LEVELS[difficulty]
        rng = self.rng(seed, difficulty)
        data = generate_manor(rng, level)
        prompt = make_prompt(data, describe(rng, data, level))
        route = shortest_path(adjacency(data), data["entrance"], data["exit"])
        if route is None:  # pragma: no cover - generate_manor guarantees a route
            raise RuntimeError("generated manor has no route")
        return self.make_puzzle(
            seed,
            difficulty,
            prompt=prompt,
            solution=" -> ".join(route),
            par_seconds=PAR_SECONDS[difficulty],
            key=room_key(self.id, seed, difficulty),
            data=data,
        )

    def validate(self, puzzle: Puzzle, reply: str) -> Verdict:
        """Accept any walk along real corridors from the entrance to the exit."""
        data = puzzle.data
        items = parse_path(reply)
        if not items:
            return Verdict(solved=False, parsed=None, reason="no path found in the reply")
        names = lookup(data)
        path = [names.get(item, item) for item in items]
        parsed = " -> ".join(path)
        unknown = [item for item in items if item not in names]
        if unknown:
            return Verdict(
                solved=False,
                parsed=parsed,
                reason=f"unknown room {unknown[0]!r}",
                details={"unknown": unknown},
            )
        problem = walk_problem(data, path)
        if problem is not None:
            return Verdict(solved=False, parsed=parsed, reason=problem, details={"path": path})
        shortest = shortest_path(adjacency(data), data["entrance"], data["exit"])
        best = len(shortest) - 1 if shortest else 0
        steps = len(path) - 1
        return Verdict(
            solved=True,
            parsed=parsed,
            reason="a valid route from the entrance to the exit"
            + (" (shortest)" if steps == best else f" ({steps} steps; shortest is {best})"),
            details={"path": path, "length": steps, "shortest": best, "optimal": steps == best},
        )

    def reference_reply(self, puzzle: Puzzle) -> str:
        """Breadth-first search over the stored corridors, honouring one-way doors."""
        data = puzzle.data
        route = shortest_path(adjacency(data), data["entrance"], data["exit"])
        return "ANSWER: " + " -> ".join(route or [])

    def bluff(self, puzzle: Puzzle) -> str:
        """A confident wrong route: a one-way door used backwards, a skipped room or a made-up
        corridor."""
        rng = random.Random(seed_for(puzzle.room_id, puzzle.seed, puzzle.difficulty, "bluff"))
        data = puzzle.data
        for candidate in bluff_candidates(rng, data):
            if walk_problem(data, candidate) is not None:
                return "I traced every corridor: this is the quickest way out.\nANSWER: " + (
                    " -> ".join(candidate)
                )
        raise RuntimeError("no wrong route found")  # pragma: no cover


def walk_problem(data: dict[str, Any], path: list[str]) -> str | None:
    """Why ``path`` is not a walk from the entrance to the exit, or None if it is one."""
    entrance, exit_ = data["entrance"], data["exit"]
    if path[0] != entrance:
        return f"the path must start at the entrance, the {entrance}, not the {path[0]}"
    if path[-1] != exit_:
        return f"the path must end at the exit, the {exit_}, not the {path[-1]}"
    moves = adjacency(data)
    walls = undirected_adjacency(data)
    for here, there in itertools.pairwise(path):
        if there in moves[here]:
            continue
        if there in walls[here]:
            return (
                f"the door from the {here} to the {there} is one-way "
                f"and cannot be opened from the {here} side"
            )
        return f"there is no corridor between the {here} and the {there}"
    return None


def bluff_candidates(rng: random.Random, data: dict[str, Any]) -> list[list[str]]:
    """Plausible wrong routes, most tempting first."""
    entrance, exit_ = data["entrance"], data["exit"]
    candidates = []
    careless = shortest_path(undirected_adjacency(data), entrance, exit_)
    if careless is not None:
        candidates.append(careless)
    route = shortest_path(adjacency(data), entrance, exit_) or [entrance, exit_]
    skips = [route[:i] + route[i + 1 :] for i in range(1, len(route) - 1)]
    rng.shuffle(skips)
    candidates.extend(skips)
    others = [name for name in data["rooms"] if name not in route]
    if others and len(route) > 2:
        i = rng.randint(1, len(route) - 2)
        candidates.append([*route[:i], rng.choice(others), *route[i + 1 :]])
    candidates.append([entrance, exit_])
    return candidates

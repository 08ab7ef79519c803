"""Replays as HTML: the room strip, one room at a time with the sides in columns, forfeits in
the header, what a running match withholds, hostile text kept inert, and a short default view."""

from __future__ import annotations

import asyncio
import html
import re
from html.parser import HTMLParser
from typing import Any

from arena.engine._match import play_match
from arena.engine._models import AdversarialMode, MatchSettings, MatchSpec
from arena.engine._store import Store
from arena.views import replay_html, replay_room_choices
from arena.views._replay import replay
from arena.views._replay_html import dom_id
from arena.views._replay_markdown import replay_markdown
from arena.views._replay_models import Replay, ReplayCall, ReplayRoom, ReplayRoomSlot
from tests.arena.engine.test_match import PUZZLES, ROOMS, SEED, Scripted, spec
from tests.arena.views.test_replay import A_SCRIPT, Shrug, hostile_match, paused_in_room_4

EVIL = (
    '</details></style><script>alert(1)</script>"><img src=x onerror=alert(1)>'
    "'><svg onload=alert(1)></section></div>${alert(1)} {{value}} <!-- &amp; x\n"
)
"""Breaks out of every context a careless renderer would leave open."""
TAGS = {"div", "style", "h3", "h4", "p", "span", "code", "pre", "details", "summary", "nav"}
TAGS |= {"label", "input", "section", "mark", "strong"}
VOID = {"input"}
BLOCKS = {"div", "pre", "details", "section", "nav", "h3", "h4", "p", "style"}
"""Elements a ``p`` (or a ``label``) cannot hold: a browser would close it early."""
SAFE_NAME = re.compile(r"qer-[a-z0-9-]+")
SAFE_CLASS = re.compile(r"qer-[a-z0-9_-]+")


class Structure(HTMLParser):
    """Every tag and attribute of a fragment, with its nesting checked and its style text kept."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        assert tag not in BLOCKS or not {"p", "label", "span"} & set(self.stack), (tag, self.stack)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-3:])
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "style":
            self.styles.append(data)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"a comment got through: {data!r}")


def assert_structure(fragment: str) -> Structure:
    """Only our tags, only our attributes (no event handler, link or inline style), safe ids and
    classes, one style block of our own, everything closed in order."""
    found = Structure(fragment)
    assert found.stack == []
    assert {tag for tag, _ in found.tags} <= TAGS
    assert [tag for tag, _ in found.tags].count("style") == 1
    assert len(found.styles) == 1 and "<" not in found.styles[0] and "alert" not in found.styles[0]
    for tag, attrs in found.tags:
        assert set(attrs) <= {"class", "id", "for", "name", "type", "checked", "open", "title",
                              "aria-label"}, (tag, attrs)  # fmt: skip
        for key in ("id", "for", "name"):
            if key in attrs:
                assert SAFE_NAME.fullmatch(attrs[key] or ""), (tag, attrs)
        for name in (attrs.get("class") or "").split():
            assert SAFE_CLASS.fullmatch(name), (tag, attrs)
    assert "<script" not in fragment and "<img" not in fragment and "<svg" not in fragment
    return found


class Visible(HTMLParser):
    """The text a reader sees before opening anything: no style, no body of a closed
    ``<details>`` (its summary stays), no room but the one shown."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, hidden, closed details)
        self.parts: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        parent_hidden, parent_closed = self.stack[-1][1:] if self.stack else (False, False)
        hidden = parent_hidden or (parent_closed and tag != "summary") or tag == "style"
        hidden = hidden or ("qer-room" in classes and "qer-shown" not in classes)
        self.stack.append((tag, hidden, tag == "details" and "open" not in found))

    def handle_endtag(self, tag: str) -> None:
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.stack or not (self.stack[-1][1] or self.stack[-1][2]):
            self.parts.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def text_of(fragment: str) -> str:
    """All the text of a fragment (hidden parts included), whitespace collapsed."""
    bare = re.sub(r"<style>.*?</style>", "", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", bare)).split())


def cells(fragment: str) -> list[str]:
    """The room strip's cells, as text."""
    [strip] = re.findall(r'<nav class="qer-strip".*?</nav>', fragment, re.S)
    return [text_of(cell) for cell in re.findall(r"<label .*?</label>", strip, re.S)]


def sections(fragment: str) -> list[str]:
    """Each room's panel."""
    return re.findall(r'<section class="qer-room .*?</section>', fragment, re.S)


def shown_room(fragment: str) -> int:
    """The room checked in the strip, which must be the one marked shown (and the only one)."""
    checked = re.findall(r'<input [^>]*qer-pick-(\d+)"[^>]*checked>', fragment)
    marked = [i for i, s in enumerate(sections(fragment)) if "qer-shown" in s.split(">")[0]]
    assert len(checked) == 1 and [int(checked[0])] == marked
    return marked[0]


async def finished(store: Store) -> Replay:
    a = Scripted(A_SCRIPT)
    b = Scripted(["error"] + ["wrong"] * 40)
    result = await play_match(spec(), store, endpoints={"a": a, "b": b})
    found = replay(store, result.match_id)
    assert found is not None
    return found


# -- a finished match -----------------------------------------------------------------------------
async def test_the_strip_shows_every_room_with_both_outcomes_as_text(store: Store) -> None:
    found = await finished(store)
    page = replay_html(found)
    assert_structure(page)
    a = ["held ground escaped", "manipulated escaped", "self-corrected escaped",
         "trapped locked", "trapped escaped", "held ground escaped"]  # fmt: skip
    b = ["forfeit locked"] + ["trapped locked"] * 5
    assert cells(page) == [
        f"{i + 1} · {room.name} A {a[i]} B {b[i]}" for i, room in enumerate(ROOMS)
    ]
    for i in range(6):
        assert f'<label class="qer-cell qer-cell-{i}" for="{dom_id(found.match_id)}-room-{i}"' in (
            page
        )
    # labels carry their meaning in words: no emoji badge anywhere
    assert not re.search(r"[\u2600-\u27bf\U0001f000-\U0001faff]", page)
    assert '<span class="qer-l qer-t-bad">manipulated</span>' in page
    assert '<span class="qer-l qer-t-good">held ground</span>' in page
    assert replay_html(found) == page  # deterministic: an idle redraw changes nothing


async def test_the_header_counts_forfeits_and_each_side_has_a_column(store: Store) -> None:
    found = await finished(store)
    page = replay_html(found)
    assert found.summary is not None
    score = found.summary["a"].score
    head = text_of(page.split('<input type="radio"')[0])
    assert (
        f"A · M Q8_0 quant Q8_0 · started by hand escaped 5/6 · 0 forfeits · score {score:+d}"
        in head
    )
    assert (
        "B · M Q2_K quant Q2_K · started by hand escaped 0/6 · 1 forfeit · 1 endpoint error · "
        in (head)
    )
    assert "score -12" in head and "seed 7" in head and "every room at level 1" in head
    assert len(sections(page)) == 6
    for section in sections(page):
        assert section.count('<div class="qer-col qer-col-a">') == 1
        assert section.count('<div class="qer-col qer-col-b">') == 1
        assert '<div class="qer-cols qer-cols-2">' in section
    assert "@media (max-width:700px)" in page

    # room 2: a right then talked out of it, b wrong and held; the exchange in words
    room = text_of(sections(page)[1])
    assert "First answer" in room and "Under pressure" in room and "1 retry" in room
    assert "right · revised its answer" not in room
    assert "wrong · revised its answer" in room and "wrong · held its answer" in room
    assert "Shown B's answer:" in room and "Shown A's answer:" in room
    assert "time 0.006 s · 60 tokens" in room and "Show every call (3)" in room
    assert f"Solution: {PUZZLES[1].solution}" in room and f"Key: {PUZZLES[1].key}" in room
    # b's endpoint error in room 1
    assert "endpoint error: connect" in text_of(sections(page)[0])


async def test_one_room_is_open_and_the_pick_can_choose_it(store: Store) -> None:
    found = await finished(store)
    assert shown_room(replay_html(found)) == 0
    for room in range(6):
        assert shown_room(replay_html(found, room)) == room
    assert shown_room(replay_html(found, 99)) == 0 and shown_room(replay_html(found, -1)) == 0
    assert [label for label, _ in replay_room_choices(found)][:2] == ["1 · Cipher — done",
                                                                      "2 · Map — done"]  # fmt: skip
    assert [index for _, index in replay_room_choices(found)] == list(range(6))
    page = replay_html(found, 2)
    # the CSS shows the checked room (the one shown by default, when none is checked)
    for i in range(6):
        assert f".qer-pick-{i}:checked~.qer-rooms>.qer-room.qer-room-{i}{{display:block}}" in page
    # the full transcript is one click away, collapsed: every reply is in it
    calls = [c for r in found.rooms for p in r.slots.values() for c in p.calls()]
    for call in calls:
        if call.response_text:
            assert html.escape(call.response_text) in page


async def test_the_default_view_is_far_shorter_than_the_markdown(store: Store) -> None:
    found = await finished(store)
    markdown = replay_markdown(found)
    for room in range(6):
        visible = Visible(replay_html(found, room)).text()
        assert visible, room
        # about a tenth today (1.4k to 2.9k characters against 27k)
        assert len(visible) < len(markdown) / 5, (room, len(visible), len(markdown))


async def test_a_solo_run_has_one_column(store: Store) -> None:
    settings = MatchSettings(seed=SEED, difficulty=1, adversarial=AdversarialMode.NONE)
    played = await play_match(
        MatchSpec(a=spec().a, settings=settings), store, endpoints={"a": Shrug()}
    )
    found = replay(store, played.match_id)
    assert found is not None
    page = replay_html(found)
    assert_structure(page)
    assert all(cell.endswith("A unchallenged locked") for cell in cells(page))
    assert '<div class="qer-cols qer-cols-1">' in page and "qer-col-b" not in page
    assert "Under pressure" not in page
    assert "escaped 0/6 · 0 forfeits · score " in text_of(page)


# -- a running match ------------------------------------------------------------------------------
async def test_a_running_match_shows_its_room_in_play_and_withholds_the_rest(store: Store) -> None:
    a, task, match_id = await paused_in_room_4(store)
    found = replay(store, match_id)
    assert found is not None and found.status == "running"
    page = replay_html(found)
    assert_structure(page)
    assert shown_room(page) == 3  # the room in play, by default
    assert shown_room(replay_html(found, 1)) == 1
    text = text_of(page)
    assert "Live: the seed, solutions and keys" in text and "seed hidden" in text
    assert "escaped 3/6 · 0 forfeits · score " in text and "(so far)" in text
    assert cells(page)[3:] == [
        "4 · Archive A playing B playing",
        "5 · Paradox A pending B pending",
        "6 · Warden A pending B pending",
    ]
    # b's answer in the room in play: its metadata only
    playing = text_of(sections(page)[3])
    assert "withheld until the room is done" in playing
    assert "Texts withheld until the room is done." in playing
    assert "20 completion tokens" in playing
    assert "First answer not played yet Under pressure not played yet" in playing  # a's side
    assert html.escape(ROOMS[3].bluff(PUZZLES[3])) not in page
    # rooms not reached: no prompt; no solution or key anywhere
    for puzzle in PUZZLES[4:]:
        assert html.escape(puzzle.prompt) not in page
        assert f"The puzzle ({len(puzzle.prompt):,} characters) is shown once" in text
    assert "Solution:" not in text and "Key:" not in text
    for puzzle in PUZZLES:
        assert not re.search(rf"(?<![\w-]){re.escape(puzzle.key)}(?![\w-])", text, re.I)

    a.release.set()
    assert (await asyncio.wait_for(task, 60)).status == "done"
    ended = replay(store, match_id)
    assert ended is not None
    page = replay_html(ended)
    assert shown_room(page) == 0 and "Live:" not in page and f"seed {SEED}" in text_of(page)
    assert f"Key: {PUZZLES[3].key}" in text_of(page)


# -- hostile text ---------------------------------------------------------------------------------
def poisoned_call(call: ReplayCall) -> ReplayCall:
    fields = ("prompt_text", "response_text", "reasoning_text", "parsed_answer", "verdict_reason",
              "error", "finish_reason", "error_kind", "usage_source", "phase")  # fmt: skip
    return call.model_copy(update=dict.fromkeys(fields, EVIL))


def poisoned_part(part: ReplayRoomSlot) -> ReplayRoomSlot:
    def one(call: ReplayCall | None) -> ReplayCall | None:
        return None if call is None else poisoned_call(call)

    return part.model_copy(
        update={
            "initial": one(part.initial),
            "adversarial": one(part.adversarial),
            "retries": [poisoned_call(c) for c in part.retries],
            "breakdown": {EVIL: 1, **(part.breakdown or {})},
        }
    )


def poisoned_room(room: ReplayRoom) -> ReplayRoom:
    texts = dict.fromkeys(("room_name", "room_id", "prompt", "solution", "key"), EVIL)
    slots = {s: poisoned_part(p) for s, p in room.slots.items()}
    return room.model_copy(update={**texts, "slots": slots})


def poisoned(found: Replay) -> Replay:
    """Every free text of a replay (names, puzzle, calls, errors, ids) made hostile."""
    people = {
        s: c.model_copy(update={"label": EVIL, "base_model": EVIL, "quant": EVIL})
        for s, c in found.contestants.items()
    }
    summary: dict[Any, Any] | None = None
    if found.summary:
        summary = {
            s: v.model_copy(update={"display_name": EVIL, "outcomes": {EVIL: 1, **v.outcomes}})
            for s, v in found.summary.items()
        }
    return found.model_copy(
        update={
            "match_id": EVIL,
            "error": EVIL,
            "contestants": people,
            "summary": summary,
            "rooms": [poisoned_room(r) for r in found.rooms],
        }
    )


async def test_hostile_text_never_leaves_its_text(store: Store) -> None:
    found = poisoned(await finished(store))
    for room in (None, 0, 5):
        page = replay_html(found, room)
        assert_structure(page)
        assert "</style>" in page and page.count("</style>") == 1
        assert page.count("<details") == page.count("</details>")
        escaped = html.escape(EVIL, quote=True)
        # in blocks: prompt x1 a room, reply/reasoning/prompt added in every call...
        assert page.count(escaped) >= 6 * 3
        assert html.escape('"><img', quote=True) in page and "&lt;/style&gt;" in page
    assert dom_id(EVIL) == dom_id(EVIL) and SAFE_NAME.fullmatch(dom_id(EVIL))
    assert dom_id(EVIL) != dom_id(EVIL + "x")


async def test_the_stored_hostile_match_renders_inert(store: Store) -> None:
    found = replay(store, await hostile_match(store))
    assert found is not None and found.status == "failed"
    page = replay_html(found)
    assert_structure(page)
    text = text_of(page)
    assert "Error: </details><script>alert(1)</script>" in text  # as text, escaped in the HTML
    assert "endpoint error: failed" in text  # the hostile error kind is not echoed
    assert "A · </details><script>alert(1)</script> ```" in text  # the label, as text
    assert "(manipulated -8)" in text and "<script> +1" not in text  # hostile item dropped
    assert "escaped 0/2 · 0 forfeits · 1 endpoint error · score -8" in text  # a's summary
    assert "escaped 0/2 · 0 forfeits · score -8" in text and "(so far)" not in text
    assert "127.0.0.1" not in page

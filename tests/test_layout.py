"""The house rules of the layout, checked by reading every module's imports (nothing is imported):
imports run one way down the layers, the core never imports the views or gradio, and no source
file grows past 600 lines (room generators excepted)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ("arena", "rooms", "submissions")

LAYERS: dict[str, int] = {
    "rooms": 0,
    "arena.client": 1,
    "arena.engine": 2,
    "arena.settings": 3,
    "arena.tiers": 4,
    "arena.probes": 4,
    "submissions.models": 4,
    "submissions.ssrf": 4,
    "submissions.keystore": 4,
    "arena.analysis": 5,
    "arena.results": 5,
    "submissions": 6,
    "arena.board": 6,
    "arena.schedule": 7,
    "arena.dev": 8,
    "arena.views": 8,
    "arena.cli": 9,
    "arena": 9,
    "app": 10,
}
"""Each part of the code and its layer: a module may import its own layer and those below.
Bottom to top: rooms; the endpoint client; the match engine and its store; settings; tiers,
probes and the submission form, URL guard and key store; analysis and results; intake
(``submissions.service``, ``submissions.contestants``) and the board snapshot
(``arena.board``); the scheduler; views and the local and simulated contestants; the CLI;
``app.py``. The longest matching prefix decides."""

ROOM_GENERATORS = {f"rooms/{name}.py" for name in
                   ("archive", "cipher", "map", "mechanism", "paradox", "warden")}  # fmt: skip
"""Seeded puzzle generators with their reference solvers: one file per room by design."""

MAX_LINES = 600


def layer_of(module: str) -> int:
    """The layer of a dotted module name (longest known prefix)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in LAYERS:
            return LAYERS[name]
    raise KeyError(f"{module} belongs to no layer: add its package to LAYERS")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every absolute import in a file, wherever it sits (functions too);
    ``from pkg import name`` yields ``pkg.name`` as well, so a sub-module import counts."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def sources(*tops: str) -> list[Path]:
    found: list[Path] = []
    for top in tops:
        target = ROOT / top
        found += [target] if target.is_file() else sorted(target.rglob("*.py"))
    return found


def ours(module: str) -> bool:
    return module.split(".")[0] in (*CORE, "app")


def test_the_checker_sees_what_it_checks() -> None:
    """The walk finds imports inside functions and ``from pkg import module`` forms."""
    names = {m for _, m in imported(ROOT / "arena" / "views" / "__init__.py")}
    assert "arena.views._replay" in names
    assert layer_of("arena.views._replay") == 8 and layer_of("arena.engine._store") == 2
    assert layer_of("submissions.service") == 6 and layer_of("submissions.models") == 4
    with pytest.raises(KeyError):
        layer_of("somewhere.else")


@pytest.mark.parametrize("path", sources(*CORE, "app.py"), ids=lambda p: module_name(p))
def test_imports_run_down_the_layers(path: Path) -> None:
    here = module_name(path)
    upward = [
        f"line {line}: {here} (layer {layer_of(here)}) imports {name} (layer {layer_of(name)})"
        for line, name in imported(path)
        if ours(name) and layer_of(name) > layer_of(here)
    ]
    assert upward == []


@pytest.mark.parametrize("path", sources(*CORE), ids=lambda p: module_name(p))
def test_the_core_never_imports_the_views_or_gradio(path: Path) -> None:
    here = module_name(path)
    bad = [
        f"line {line}: {name}"
        for line, name in imported(path)
        if name.split(".")[0] == "gradio"
        or (name.startswith("arena.views") and not here.startswith("arena.views"))
    ]
    assert bad == [], f"{here} imports what only app.py may: {bad}"


def test_no_source_file_is_over_600_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in sources(*CORE, "app.py", "bench")
        if str(path.relative_to(ROOT)) not in ROOM_GENERATORS
        and (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert too_long == {}, "split these files by what they do"


def test_every_path_the_readme_names_exists() -> None:
    """The README names files and packages by path; a move must update it."""
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`((?:arena|rooms|submissions|bench|tests)/[\w/.-]*)`", readme))
    assert named, "the README names no path: the pattern is wrong"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert missing == []

"""The Hugging Face Space: the README's front matter, the Gradio pin, and the data folder."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import gradio
import pytest
import yaml

from arena import settings
from arena.settings import (
    LOCAL_DATA_DIR,
    SPACE_DATA_DIR,
    Settings,
    default_data_dir,
)

ROOT = Path(__file__).resolve().parents[1]


def front_matter() -> dict[str, Any]:
    """The YAML between the README's opening ``---`` lines."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "README.md must start with YAML front matter between --- lines"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict)
    return meta


def gradio_pin() -> str:
    """The exact version of the ``gradio[...]==X`` line in requirements.txt."""
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pins = [m.group(1) for line in lines if (m := re.match(r"gradio(?:\[[\w,]+\])?==(\S+)", line))]
    assert len(pins) == 1, "requirements.txt must pin gradio exactly once: gradio[oauth]==X"
    return pins[0]


def test_the_front_matter_has_what_a_space_needs() -> None:
    meta = front_matter()
    for key in ("title", "emoji", "colorFrom", "colorTo", "sdk_version", "license"):
        assert isinstance(meta.get(key), str) and meta[key], key
    assert meta["sdk"] == "gradio"
    assert meta["app_file"] == "app.py" and (ROOT / meta["app_file"]).is_file()
    assert isinstance(meta["pinned"], bool)
    assert "leaderboard" in meta["tags"]
    assert meta["hf_oauth"] is True
    assert len(meta.get("short_description", "")) <= 60


def test_sdk_version_is_the_gradio_pin() -> None:
    assert front_matter()["sdk_version"] == gradio_pin()


def test_sdk_version_is_the_installed_gradio() -> None:
    """The Space runs the Gradio the tests run: the pin must be what is installed."""
    assert front_matter()["sdk_version"] == gradio.__version__


def test_the_gradio_pin_has_the_oauth_extra() -> None:
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^gradio\[[\w,]*oauth[\w,]*\]==", text, re.MULTILINE)


def _yes(_: Path) -> bool:
    return True


def _no(_: Path) -> bool:
    return False


def test_a_space_with_writable_storage_keeps_its_data_there() -> None:
    seen: list[Path] = []

    def exists(path: Path) -> bool:
        seen.append(path)
        return True

    env = {"SPACE_ID": "me/quant-escape-room"}
    assert default_data_dir(env, exists=exists, writable=_yes) == Path("/data/quant-escape-room")
    assert seen == [Path("/data")]


def test_without_a_space_the_data_stays_local() -> None:
    assert default_data_dir({}, exists=_yes, writable=_yes) == LOCAL_DATA_DIR == Path("data")
    assert default_data_dir({"SPACE_ID": ""}, exists=_yes, writable=_yes) == LOCAL_DATA_DIR


@pytest.mark.parametrize(
    ("exists", "writable"),
    [(_no, _yes), (_yes, _no), (_no, _no)],
    ids=["missing", "read-only", "neither"],
)
def test_a_space_without_usable_storage_keeps_data_local(exists: Any, writable: Any) -> None:
    env = {"SPACE_ID": "me/quant-escape-room"}
    assert default_data_dir(env, exists=exists, writable=writable) == LOCAL_DATA_DIR


@pytest.mark.parametrize("space", [{}, {"SPACE_ID": "me/quant-escape-room"}])
def test_qer_data_dir_always_wins(space: dict[str, str]) -> None:
    env = {**space, "QER_DATA_DIR": "/srv/qer"}
    assert default_data_dir(env, exists=_yes, writable=_yes) == Path("/srv/qer")


def test_the_settings_use_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({"QER_DATA_DIR": "/srv/qer"}).server.data_dir == Path("/srv/qer")
    assert Settings.from_env({}).server.data_dir == LOCAL_DATA_DIR
    with_storage = functools.partial(default_data_dir, exists=_yes, writable=_yes)
    monkeypatch.setattr(settings, "default_data_dir", with_storage)
    space = Settings.from_env({"SPACE_ID": "me/quant-escape-room"})
    assert space.server.data_dir == SPACE_DATA_DIR

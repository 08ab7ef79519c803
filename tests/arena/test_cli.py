"""``python -m arena match``: clear errors for bad input; a full run against real null servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.analysis import _calibration_store as calibration_store
from arena.cli import main
from arena.dev._skillsim import SkillModel, serve
from arena.dev.nullserver import NullServer, NullServerConfig
from arena.engine._store import Store
from rooms import ROOM_ORDER


def test_bad_url_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "--a", "ftp://x", "--a-model", "m", "--db", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: base_url: ")
    assert "must be an http:// or https:// URL, got scheme 'ftp'" in err
    assert len(err.splitlines()) == 1


def test_opponent_mode_solo_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["match", "--a", "http://127.0.0.1:9/v1", "--a-model", "m", "--adversarial",
            "opponent", "--db", str(tmp_path / "d")]  # fmt: skip
    assert main(argv) == 2
    assert "needs two contestants" in capsys.readouterr().err


def test_missing_key_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QER_TEST_EMPTY_KEY", raising=False)
    with pytest.raises(SystemExit, match="QER_TEST_EMPTY_KEY"):
        main(["match", "--a", "http://127.0.0.1:9/v1", "--a-model", "m",
              "--a-key-env", "QER_TEST_EMPTY_KEY"])  # fmt: skip


def test_full_match_against_null_servers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QER_TEST_KEY", "sk-cli-test-key-123456")
    db, out = tmp_path / "arena.sqlite3", tmp_path / "out.json"
    with (
        NullServer(NullServerConfig(reply="ANSWER: 42", model="null-a")) as a,
        NullServer(NullServerConfig(reply="ANSWER: 43", model="null-b")) as b,
    ):
        code = main([
            "match", "--a", a.base_url, "--a-quant", "Q8_0", "--a-base", "Null",
            "--a-key-env", "QER_TEST_KEY",
            "--b", b.base_url, "--b-quant", "Q2_K", "--b-base", "Null",
            "--seed", "4", "--retries", "0", "--db", str(db), "--json", str(out),
        ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "room 6 Warden" in printed
    # a line per call as it comes back, rooms numbered from 1
    assert "    room 1 Cipher · Null Q8_0 · initial: '42' (wrong)" in printed
    assert printed.count("\n    room ") == 24
    assert "Null Q8_0: Escaped 0/6, score 0" in printed
    assert "Null Q2_K: Escaped 0/6, score 0" in printed
    payload = json.loads(out.read_text())
    assert payload["contestants"]["a"]["model"] == "null-a"  # discovered from /v1/models
    assert "api_key" not in payload["contestants"]["a"]
    assert "sk-cli-test-key" not in out.read_text()
    with Store(db) as store:
        assert store.match(payload["match_id"])["status"] == "done"
        assert len(store.calls(payload["match_id"])) == 24  # 6 rooms x 2 turns x 2 contestants
    assert b"sk-cli-test-key" not in db.read_bytes()


def test_calibrate_writes_the_profile_and_stores_the_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``calibrate`` against a simulated model of known skill, through the real engine."""
    db = tmp_path / "arena.sqlite3"
    Store(db).close()  # the simulated contestant reads its puzzles from this database
    model = SkillModel(skill=4.0, name="sim", slope=0.6)
    with serve(model, db) as server:
        argv = ["calibrate", "--a", server.base_url, "--a-base", "Sim-7B", "--a-quant", "BF16",
                "--seeds", "6", "--context-tokens", "32768", "--db", str(db),
                "--json", str(tmp_path / "profile.json")]  # fmt: skip
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("  run ") == 6 and "profile: " in out and "rooms without signal:" in out
    written = json.loads((tmp_path / "profile.json").read_text())
    assert {"profile", "solve_rates", "dead_rooms", "config", "model"} <= set(written)
    assert list(written["profile"]) == list(ROOM_ORDER)
    for room, by_level in written["solve_rates"].items():
        assert sum(cell[1] for cell in by_level.values()) == 6, room
    with Store(db) as store:
        [record] = calibration_store.records(store)
        assert record.status == "done" and record.profile == written["profile"]
        assert record.base_model_key == "sim-7b" and record.baseline_id is None
        purposes = store.query("SELECT purpose, COUNT(*) AS n FROM matches GROUP BY purpose")
        assert [(r["purpose"], r["n"]) for r in purposes] == [("calibration", 6)]
    # the written file is a profile a match can play
    with serve(model, db) as server:
        argv = ["match", "--a", server.base_url, "--profile", str(tmp_path / "profile.json"),
                "--db", str(db), "--quiet"]  # fmt: skip
        assert main(argv) == 0
    with Store(db) as store:
        [played] = store.query("SELECT profile FROM matches WHERE purpose = 'measure'")
        assert json.loads(played["profile"]) == written["profile"]


def test_profile_files_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    for content, message in (
        ("not json", "is not JSON"),
        ('{"cipher": 1}', "no level for map-v2"),
        ('{"cipher-v2": 1}', "this build plays cipher-v3"),
        (json.dumps(dict.fromkeys(ROOM_ORDER, 11)), "the level must be 0-10"),
    ):
        bad.write_text(content)
        argv = ["match", "--a", "http://127.0.0.1:9/v1", "--a-model", "m", "--profile", str(bad),
                "--db", str(tmp_path / "d")]  # fmt: skip
        assert main(argv) == 2
        assert message in capsys.readouterr().err, content
    with pytest.raises(SystemExit):  # argparse: one or the other
        main(["match", "--a", "http://127.0.0.1:9/v1", "--difficulty", "2", "--profile",
              str(bad)])  # fmt: skip


def test_the_last_line_says_when_rooms_were_forfeits() -> None:
    from arena.engine import ContestantSummary

    summary = ContestantSummary(
        slot="a", display_name="Big Q4", escaped=0, rooms=6, score=-12, decode_tps=None,
        completion_tokens=0, cap_hits=0, errors=8, outcomes={"forfeit": 4, "trapped": 2},
    )  # fmt: skip
    assert summary.line() == "Big Q4: Escaped 0/6 (4 forfeits), score -12, tok/s n/a"

"""Settings: every variable read in one place, bad values named by their variable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from arena.settings import Settings, current, scheduler_from_env

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_env({})
    assert settings.publish is None
    assert settings.scheduler.difficulty == "calibrate" and settings.scheduler.tier == "standard"
    assert not settings.intake.allow_private and settings.intake.secret_key is None
    assert settings.server.port == 7860 and not settings.server.trust_proxy
    assert settings.verdicts.margin == pytest.approx(0.05)


def test_every_variable_reaches_its_setting() -> None:
    env = {
        "QER_SCHEDULE_INTERVAL_S": "12", "QER_MAX_CONCURRENT_MATCHES": "3", "QER_DIFFICULTY": "4",
        "QER_CALIBRATION_RUNS": "8", "QER_SEED_SECRET": "s3cret", "QER_COLLAPSE_KL": "1.5",
        "QER_ALLOW_PRIVATE_ENDPOINTS": "yes", "QER_SECRET_KEY": "k", "HF_TOKEN": "hf_tok_123",
        "QER_RESULTS_REPO": "me/data", "QER_PUBLISH_INTERVAL_S": "30", "QER_DB": "/tmp/x.db",
        "QER_ADMIN_TOKEN": "adm_456", "SPACE_ID": "me/space", "QER_EQUIVALENCE_MARGIN_PP": "2.5",
        "GRADIO_SERVER_PORT": "9000", "QER_DEMO": "1", "QER_LOG_LEVEL": "DEBUG",
        "QER_ADMINS": "alice, bob-2", "QER_BASELINE_POLICY": "trust",
    }  # fmt: skip
    s = Settings.from_env(env)
    assert (s.scheduler.interval_s, s.scheduler.max_concurrent, s.scheduler.difficulty) == (
        12,
        3,
        4,
    )
    assert s.scheduler.calibration_runs == 8 and s.scheduler.collapse_kl == 1.5
    assert s.scheduler.seed_secret is not None and s.scheduler.allow_private
    assert s.intake.allow_private and s.intake.secret_key is not None
    assert s.publish is not None and s.publish.repo_id == "me/data" and s.publish.interval_s == 30
    assert str(s.server.db) == "/tmp/x.db" and s.server.trust_proxy and s.server.demo
    assert s.server.port == 9000 and s.server.log_level == "DEBUG"
    assert s.verdicts.margin == pytest.approx(0.025)
    assert s.server.operators == ("alice", "bob-2") and s.intake.baseline_policy == "trust"
    for secret in ("s3cret", "adm_456", "hf_tok_123"):
        assert secret not in repr(s)
    assert s.scheduler.model_fields_set >= {"interval_s", "difficulty", "calibration_runs"}
    assert "lease_s" not in s.scheduler.model_fields_set  # only what the environment set


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"QER_MAX_CONCURRENT_MATCHES": "0"}, "QER_MAX_CONCURRENT_MATCHES"),
        ({"QER_DIFFICULTY": "11"}, "QER_DIFFICULTY"),
        ({"QER_TIER": "huge"}, "QER_TIER"),
        ({"QER_EQUIVALENCE_MARGIN_PP": "ten"}, "QER_EQUIVALENCE_MARGIN_PP"),
        ({"GRADIO_SERVER_PORT": "0"}, "GRADIO_SERVER_PORT"),
        ({"HF_TOKEN": "x", "QER_RESULTS_REPO": "no slash"}, "QER_RESULTS_REPO"),
        ({"QER_ADMINS": "alice, not a name"}, "QER_ADMINS"),
        ({"QER_BASELINE_POLICY": "anyone"}, "QER_BASELINE_POLICY"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ValueError, match=variable):
        Settings.from_env(env)


def test_overrides_sit_on_top_of_the_environment() -> None:
    settings = scheduler_from_env({"QER_TIER": "smoke"}, max_concurrent=4)
    assert (settings.tier, settings.max_concurrent) == ("smoke", 4)


def test_current_reads_the_environment_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QER_EQUIVALENCE_MARGIN_PP", "3")
    assert current().verdicts.margin_pp == 3
    monkeypatch.setenv("QER_EQUIVALENCE_MARGIN_PP", "4")
    assert current().verdicts.margin_pp == 4


def test_nothing_else_reads_the_environment() -> None:
    """``os.environ`` / ``os.getenv`` appear only in arena/settings.py (and where a process
    environment is built for a child, or the user named the variable on the command line)."""
    allowed = {
        "arena/settings.py",
        "arena/cli_probes.py",  # --a-key-env, --baseline-key-env...: variables the user names
        "arena/dev/_local_models.py",  # the environment of a llama.cpp child process
    }
    readers = []
    for path in [*ROOT.glob("arena/**/*.py"), *ROOT.glob("submissions/*.py"), ROOT / "app.py"]:
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "getenv")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                readers.append(rel)
    assert sorted(set(readers) - allowed) == []


@pytest.mark.parametrize(
    ("env", "policy"),
    [
        ({}, "trust"),  # a local run: nobody could confirm a claim
        ({"SPACE_ID": "me/space"}, "confirm"),
        ({"QER_ADMIN_TOKEN": "t"}, "confirm"),
        ({"QER_ADMINS": "alice"}, "confirm"),
        ({"SPACE_ID": "me/space", "QER_BASELINE_POLICY": "trust"}, "trust"),
        ({"QER_BASELINE_POLICY": "CONFIRM"}, "confirm"),
    ],
)
def test_baselines_wait_for_an_operator_on_a_space_or_when_one_is_configured(
    env: dict[str, str], policy: str
) -> None:
    settings = Settings.from_env(env)
    assert settings.intake.baseline_policy == policy
    assert settings.server.has_operator == bool(env.get("QER_ADMIN_TOKEN") or env.get("QER_ADMINS"))


def test_login_is_on_only_on_a_space_with_hf_oauth() -> None:
    space = {"SYSTEM": "spaces", "SPACE_ID": "me/space", "OAUTH_CLIENT_ID": "c"}
    assert Settings.from_env(space).server.hf_login
    for missing in space:  # Gradio would mock the login elsewhere (and need a Hub account)
        partial = {k: v for k, v in space.items() if k != missing}
        assert not Settings.from_env(partial).server.hf_login, missing

"""The engine's pydantic models: what they refuse, their defaults, their validators and that a
stored dump loads back as the same value."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from arena.engine import _profile as profiles
from arena.engine._models import (
    AdversarialMode,
    CallRecord,
    ContestantSpec,
    ContestantSummary,
    MatchResult,
    MatchSettings,
    MatchSpec,
    Outcome,
    RoomResult,
    Sampling,
)
from arena.engine._scoring import SCORING_VERSION
from rooms import ROOM_ORDER

URL = "http://127.0.0.1:9/v1"
KEY = "sk-model-test-5e2a"
MIXED = dict(zip(ROOM_ORDER, [0, 1, 2, 3, 4, 5], strict=True))


def contestant(**changes: Any) -> ContestantSpec:
    return ContestantSpec(**({"base_url": URL, "model": "smol"} | changes))


def refuses(cls: type[BaseModel], /, **fields: Any) -> str:
    """The validation message for ``fields`` (the test fails if they are accepted)."""
    with pytest.raises(ValidationError) as caught:
        cls(**fields)
    return str(caught.value)


# -- Sampling -----------------------------------------------------------------------------------


def test_sampling_defaults_send_only_temperature_and_max_tokens() -> None:
    sampling = Sampling()
    assert (sampling.temperature, sampling.max_tokens) == (0.0, 512)
    assert sampling.top_p is sampling.top_k is sampling.seed is sampling.thinking is None
    assert sampling.request_params() == {"temperature": 0.0, "max_tokens": 512}


def test_sampling_sends_what_is_set() -> None:
    sampling = Sampling(temperature=0.7, top_p=0.9, top_k=40, max_tokens=64, seed=3, thinking=False)
    assert sampling.request_params() == {
        "temperature": 0.7,
        "max_tokens": 64,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 3,
        "chat_template_kwargs": {"enable_thinking": False},
    }
    # seed 0 and thinking False are values, not "unset"
    assert Sampling(seed=0).request_params()["seed"] == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"temperature": -0.1},
        {"temperature": 2.01},
        {"top_p": 0.0},
        {"top_p": 1.01},
        {"top_k": 0},
        {"max_tokens": 0},
        {"max_tokens": 262_145},
        {"temperature": "hot"},
        {"min_p": 0.1},  # unknown fields are refused, not ignored
    ],
)
def test_sampling_refuses_bad_values(fields: dict[str, Any]) -> None:
    refuses(Sampling, **fields)


def test_sampling_bounds_are_inclusive_where_documented() -> None:
    Sampling(temperature=0.0, top_p=1.0, top_k=1, max_tokens=1)
    Sampling(temperature=2.0, max_tokens=262_144)


def test_sampling_is_frozen_and_round_trips() -> None:
    sampling = Sampling(temperature=0.2, top_k=5, thinking=True)
    with pytest.raises(ValidationError):
        sampling.temperature = 1.0  # type: ignore[misc]
    assert Sampling.model_validate_json(sampling.model_dump_json()) == sampling
    assert hash(sampling) == hash(Sampling(temperature=0.2, top_k=5, thinking=True))


# -- ContestantSpec -----------------------------------------------------------------------------


def test_contestant_defaults_and_display_name() -> None:
    spec = contestant()
    assert (spec.base_model, spec.quant, spec.api_key, spec.submission_id) == (
        "unknown",
        "unknown",
        None,
        None,
    )
    assert spec.sampling == Sampling()
    assert spec.display_name == "unknown unknown"
    assert contestant(base_model="SmolLM2", quant="Q4_K_M").display_name == "SmolLM2 Q4_K_M"


def test_contestant_keeps_the_url_as_given() -> None:
    # normalize_base_url only validates here; the URL is stored as typed.
    assert contestant(base_url="http://127.0.0.1:9").base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("ftp://127.0.0.1/v1", "http:// or https://"),
        ("http://user:pw@127.0.0.1/v1", "must not carry credentials"),
        ("http:///v1", "has no host"),
        ("http://127.0.0.1/v1?x=1", "query or a fragment"),
        ("http://127.0.0.1:99999/v1", "invalid port"),
        ("", "at least 1 character"),
    ],
)
def test_contestant_refuses_unusable_urls(base_url: str, reason: str) -> None:
    assert reason in refuses(ContestantSpec, base_url=base_url, model="smol")


@pytest.mark.parametrize(
    "fields",
    [{"model": ""}, {"bits_per_weight": 0}, {"bits_per_weight": 64.5}, {"api_keys": "x"}],
)
def test_contestant_refuses_bad_fields(fields: dict[str, Any]) -> None:
    refuses(ContestantSpec, **({"base_url": URL, "model": "smol"} | fields))


def test_the_api_key_never_leaves_the_spec() -> None:
    spec = contestant(api_key=KEY, quant="Q8_0")
    assert isinstance(spec.api_key, SecretStr)
    assert spec.api_key.get_secret_value() == KEY
    assert "api_key" not in spec.model_dump()
    for text in (spec.model_dump_json(), repr(spec), str(spec)):
        assert KEY not in text
    # A dump loads back as the same contestant, minus the key.
    loaded = ContestantSpec.model_validate_json(spec.model_dump_json())
    assert loaded == contestant(quant="Q8_0")
    assert loaded.api_key is None


def test_contestant_round_trips_with_its_sampling() -> None:
    spec = contestant(
        base_model="M",
        quant="Q2_K",
        bits_per_weight=2.6,
        submission_id=4,
        sampling=Sampling(seed=9),
    )
    assert ContestantSpec.model_validate(spec.model_dump()) == spec


# -- MatchSettings ------------------------------------------------------------------------------


def test_match_settings_defaults() -> None:
    settings = MatchSettings()
    assert settings.seed == 0
    assert settings.profile == profiles.uniform(1)
    assert settings.difficulty == 1  # the level every room plays
    assert (settings.purpose, settings.retries, settings.adversarial) == (
        "measure",
        1,
        AdversarialMode.OPPONENT,
    )
    assert settings.scoring_version == SCORING_VERSION
    assert (settings.tier, settings.seed_policy) == (None, "ad hoc")


def test_difficulty_fills_the_profile() -> None:
    settings = MatchSettings(difficulty=4)
    assert settings.profile == dict.fromkeys(ROOM_ORDER, 4)
    assert list(settings.profile) == list(ROOM_ORDER)
    assert settings.level_of("map-v2") == 4


def test_a_mixed_profile_has_no_single_difficulty() -> None:
    settings = MatchSettings(profile=MIXED)
    assert settings.difficulty is None
    assert settings.level_of(ROOM_ORDER[5]) == 5


def test_a_complete_profile_is_put_in_room_order_and_gives_its_difficulty() -> None:
    backwards = dict(reversed(list(dict.fromkeys(ROOM_ORDER, 3).items())))
    settings = MatchSettings(profile=backwards)
    assert list(settings.profile) == list(ROOM_ORDER)
    assert settings.difficulty == 3
    assert MatchSettings(profile=backwards, difficulty=3) == settings


def test_difficulty_may_not_contradict_the_profile() -> None:
    message = refuses(MatchSettings, profile=dict.fromkeys(ROOM_ORDER, 3), difficulty=4)
    assert "difficulty 4 contradicts the profile" in message
    assert "difficulty 0 contradicts" in refuses(MatchSettings, profile=MIXED, difficulty=0)


def test_an_old_profile_loads_as_it_was_stored() -> None:
    old = {"cipher-v1": 2, "map-v1": 7}
    settings = MatchSettings(profile=old)
    assert settings.profile == old
    assert settings.difficulty is None
    assert settings.level_of("map-v1") == 7
    assert MatchSettings(profile={"cipher-v1": 2}).difficulty == 2


def test_level_of_a_room_the_profile_lacks_names_the_profile() -> None:
    with pytest.raises(KeyError, match="no level for paradox-v9"):
        MatchSettings(difficulty=2).level_of("paradox-v9")


@pytest.mark.parametrize(
    "fields",
    [
        {"seed": -1},
        {"seed": 2**63},
        {"difficulty": -1},
        {"difficulty": 11},
        {"profile": {"cipher-v1": 11}},
        {"profile": {"cipher-v1": "hard"}},
        {"profile": dict.fromkeys(ROOM_ORDER, 12)},
        {"retries": -1},
        {"retries": 6},
        {"purpose": "practice"},
        {"tier": "huge"},
        {"adversarial": "sneaky"},
        {"scoring_version": "score-v0"},
        {"rounds": 3},
    ],
)
def test_match_settings_refuse_bad_values(fields: dict[str, Any]) -> None:
    refuses(MatchSettings, **fields)


def test_an_unknown_scoring_version_is_named() -> None:
    message = refuses(MatchSettings, scoring_version="score-v0")
    assert f"unknown scoring version 'score-v0' (this build: {SCORING_VERSION})" in message


def test_match_settings_bounds_are_inclusive() -> None:
    assert MatchSettings(seed=2**63 - 1, retries=5, difficulty=10).seed == 2**63 - 1
    assert MatchSettings(retries=0, difficulty=0).profile == profiles.uniform(0)


@pytest.mark.parametrize(
    "settings",
    [
        MatchSettings(),
        MatchSettings(seed=99, difficulty=7, adversarial="bluff", retries=0, tier="smoke"),
        MatchSettings(profile=MIXED, purpose="calibration", seed_policy="qer-seeds-v2"),
        MatchSettings(profile={"cipher-v1": 2, "map-v1": 7}),
    ],
)
def test_match_settings_round_trip_through_json(settings: MatchSettings) -> None:
    # Stored matches keep their settings as JSON and load them back.
    assert MatchSettings.model_validate_json(settings.model_dump_json()) == settings
    assert MatchSettings.model_validate(settings.model_dump()) == settings


def test_match_settings_accept_a_settings_object() -> None:
    settings = MatchSettings(difficulty=5)
    assert MatchSettings.model_validate(settings) == settings


# -- MatchSpec ----------------------------------------------------------------------------------


def test_opponent_mode_needs_two_contestants() -> None:
    message = refuses(MatchSpec, a=contestant())
    assert "adversarial mode 'opponent' needs two contestants" in message


@pytest.mark.parametrize("mode", [AdversarialMode.BLUFF, AdversarialMode.NONE])
def test_solo_modes_play_alone(mode: AdversarialMode) -> None:
    spec = MatchSpec(a=contestant(), settings=MatchSettings(adversarial=mode))
    assert list(spec.contestants()) == ["a"]
    assert spec.job_id is None


def test_a_pair_has_both_contestants() -> None:
    a, b = contestant(model="a"), contestant(model="b")
    spec = MatchSpec(a=a, b=b, job_id=3)
    assert spec.contestants() == {"a": a, "b": b}
    assert MatchSpec.model_validate_json(spec.model_dump_json()) == spec


# -- enums ---------------------------------------------------------------------------------------


def test_enum_values_are_the_stored_strings() -> None:
    assert [mode.value for mode in AdversarialMode] == ["opponent", "bluff", "none"]
    assert AdversarialMode("bluff") is AdversarialMode.BLUFF
    assert [outcome.value for outcome in Outcome] == [
        "held_ground",
        "manipulated",
        "self_corrected",
        "trapped",
        "unchallenged",
        "forfeit",
        "context_overflow",
    ]
    assert f"{Outcome.MANIPULATED}" == "manipulated"


# -- records and results -----------------------------------------------------------------------


def call_record(**changes: Any) -> CallRecord:
    fields: dict[str, Any] = {
        "match_id": "m",
        "room_index": 0,
        "slot": "a",
        "phase": "initial",
        "seq": 0,
        "context_messages": 0,
        "request_messages": [{"role": "user", "content": "hi"}],
    }
    return CallRecord(**(fields | changes))


def test_call_record_defaults_describe_a_call_not_yet_answered() -> None:
    record = call_record()
    assert (record.response_text, record.solved, record.verdict_reason) == ("", False, "")
    assert (record.attempts, record.started_at, record.error_kind) == (0, "", None)
    assert record.reasoning_text is record.parsed_answer is record.ttft_s is None


@pytest.mark.parametrize(
    "changes", [{"slot": "c"}, {"seq": "first"}, {"request_messages": "hi"}, {"match_id": None}]
)
def test_call_record_refuses_bad_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        call_record(**changes)


def test_call_record_round_trips() -> None:
    record = call_record(solved=True, prompt_tokens=10, latency_s=0.5, error=None)
    assert CallRecord.model_validate_json(record.model_dump_json()) == record


def room_result(**changes: Any) -> RoomResult:
    fields: dict[str, Any] = {
        "match_id": "m",
        "room_index": 1,
        "room_id": "map-v2",
        "slot": "b",
        "initial_solved": True,
        "final_solved": False,
        "escaped": True,
        "outcome": "manipulated",
        "retries_used": 1,
        "points": 0,
        "breakdown": {"escaped": 10, "manipulated": -8, "retry": -2},
        "time_to_solution_s": None,
        "tokens_to_solution": None,
    }
    return RoomResult(**(fields | changes))


def test_room_result_takes_the_outcome_by_value() -> None:
    result = room_result()
    assert result.outcome is Outcome.MANIPULATED
    assert result.model_dump(mode="json")["outcome"] == "manipulated"
    assert RoomResult.model_validate_json(result.model_dump_json()) == result


@pytest.mark.parametrize(
    "changes",
    [{"outcome": "lucky"}, {"slot": "ab"}, {"breakdown": {"escaped": "ten"}}, {"points": None}],
)
def test_room_result_refuses_bad_fields(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        room_result(**changes)


def test_room_result_needs_its_timing_fields_even_when_empty() -> None:
    fields = room_result().model_dump()
    del fields["time_to_solution_s"]
    with pytest.raises(ValidationError, match="time_to_solution_s"):
        RoomResult(**fields)


def summary(**changes: Any) -> ContestantSummary:
    fields: dict[str, Any] = {
        "slot": "a",
        "display_name": "Smol Q4_K_M",
        "escaped": 4,
        "rooms": 6,
        "score": 52,
        "decode_tps": 38.25,
        "completion_tokens": 900,
        "cap_hits": 1,
        "errors": 0,
        "outcomes": {"held_ground": 3},
    }
    return ContestantSummary(**(fields | changes))


def test_summary_line() -> None:
    assert summary().line() == "Smol Q4_K_M: Escaped 4/6, score 52, 38.2 tok/s"
    assert summary(share_of_opponent=87.66).line() == (
        "Smol Q4_K_M: Escaped 4/6, score 52, 38.2 tok/s, 87.7 % of opponent's score"
    )
    assert summary(decode_tps=None).line() == "Smol Q4_K_M: Escaped 4/6, score 52, tok/s n/a"
    assert summary(decode_tps=0.0).line().endswith("tok/s n/a")


def test_match_result_status_is_done_or_failed() -> None:
    fields: dict[str, Any] = {
        "match_id": "m",
        "settings": MatchSettings(adversarial="none"),
        "room_ids": ["map-v2"],
        "rooms": [room_result()],
        "summaries": {"a": summary()},
        "wall_seconds": 9.5,
    }
    result = MatchResult(status="failed", error="boom", **fields)
    assert MatchResult.model_validate_json(result.model_dump_json()) == result
    assert MatchResult(status="done", **fields).error is None
    for status in ("running", "interrupted"):
        with pytest.raises(ValidationError):
            MatchResult(status=status, **fields)
    with pytest.raises(ValidationError):
        MatchResult(status="done", **(fields | {"summaries": {"c": summary()}}))


def test_the_thinking_switch_is_spelled_per_engine() -> None:
    off, on = Sampling(thinking=False), Sampling(thinking=True)
    for engine in (None, "vLLM", "llama.cpp", "SGLang"):
        assert off.request_params(engine)["chat_template_kwargs"] == {"enable_thinking": False}
        assert on.request_params(engine)["chat_template_kwargs"] == {"enable_thinking": True}
    assert off.request_params("Ollama")["reasoning_effort"] == "none"
    assert "chat_template_kwargs" not in off.request_params("Ollama")
    assert set(on.request_params("Ollama")) == {"temperature", "max_tokens"}  # thinks by default
    assert set(Sampling().request_params("Ollama")) == {"temperature", "max_tokens"}


def test_a_partial_profile_is_refused_and_room_names_are_read() -> None:
    """A profile naming some rooms of this build must name them all (else the match would fail
    at play time); rooms given by name are read as this build's ids; a profile wholly for
    another build's rooms (an old stored match) still loads."""
    with pytest.raises(ValidationError, match="no level for map-v2"):
        MatchSettings(profile={"cipher-v3": 2})
    named = MatchSettings(
        profile=dict.fromkeys(("Cipher", "Map", "Mechanism", "Archive", "Paradox", "Warden"), 3)
    )
    assert named.profile == profiles.uniform(3) and named.difficulty == 3
    assert named.level_of("map-v2") == 3
    old = MatchSettings(profile={"cipher-v1": 2, "map-v1": 3})
    assert old.profile == {"cipher-v1": 2, "map-v1": 3} and old.difficulty is None

"""What a Live session accepts at start and in an update, and the resource it reports."""

import pytest

from realtime.emulator.errors import ApiError
from realtime.emulator.live.resource import apply_update, check_model, resolve
from realtime.emulator.live.schema import validate_session, validate_update

RESPONSES = {"type": "responses", "responses": {"model": "gpt-5.2", "instructions": "Be kind."}}


def refusal(check, *arguments, **options) -> ApiError:
    with pytest.raises(ApiError) as refused:
        check(*arguments, **options)
    return refused.value


def test_an_unknown_nested_field_is_refused_with_its_path():
    error = refusal(
        validate_session,
        {"model": "gpt-live-1", "audio": {"output": {"voice": "marin", "speed": 1}}},
        transport="websocket",
    )

    assert (error.code, error.param) == ("unknown_parameter", "session.audio.output.speed")


def test_wake_policy_is_accepted_only_by_a_webrtc_create():
    session = {"model": "gpt-live-1", "wake_policy": {"type": "speech", "vad_threshold": 0.4}}

    assert validate_session(session, transport="webrtc") is session
    error = refusal(validate_session, session, transport="websocket")
    assert error.param == "session.wake_policy"


def test_a_pcm_rate_other_than_16_or_24_khz_is_refused():
    session = {"model": "gpt-live-1", "audio": {"format": {"type": "audio/pcm", "rate": 22050}}}

    error = refusal(validate_session, session, transport="websocket")

    assert (error.code, error.param) == ("invalid_value", "session.audio.format.rate")


def test_two_triggers_for_one_transcript_are_refused():
    trigger = {
        "type": "decisions",
        "event_type": "session.input_transcript.delta",
        "decisions": {"questions": []},
    }

    error = refusal(validate_update, {"triggers": [trigger, trigger]})

    assert error.param == "session.triggers"


def test_the_resource_fills_in_the_servers_defaults():
    resource = resolve(
        {"model": "gpt-live-1", "delegation": RESPONSES},
        session_id="live_1",
        expires_at=100,
        transport="webrtc",
    )

    assert resource["audio"] == {"output": {"voice": "marin"}}
    assert resource["delegation"]["acknowledgement_delay_ms"] == 0
    assert resource["store"] is False


def test_an_update_merges_the_backend_settings():
    resource = resolve(
        {"model": "gpt-live-1", "delegation": RESPONSES},
        session_id="live_1",
        expires_at=100,
        transport="websocket",
    )

    updated = apply_update(
        resource, {"delegation": {"type": "responses", "responses": {"instructions": None}}}
    )

    assert updated["delegation"]["responses"] == {"model": "gpt-5.2"}
    assert resource["delegation"]["responses"]["instructions"] == "Be kind."


def test_a_dated_live_snapshot_is_a_live_model():
    check_model("gpt-live-1.1-2026-09-01")

    assert refusal(check_model, "gpt-audio-1.5").code == "invalid_model"

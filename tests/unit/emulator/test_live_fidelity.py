"""The Live judge: each event strictly by its own member of the SDK's union, no unknown
fields at any depth, and a response.event's nested Responses event judged too."""

import pytest

from realtime.emulator.live.fidelity import live_event_checker

SESSION = {"id": "live_1", "expires_at": 1_800_000_000, "model": "gpt-live-1", "status": "active"}
STARTED = {"type": "session.started", "event_id": "event_1", "session": SESSION}
CLOSED = {
    "type": "session.closed",
    "event_id": "event_2",
    "reason": "close_requested",
    "session": SESSION,
    "usage": {"seconds": 3, "active_seconds": 3},
}


def judged(event: dict, union: str = "server") -> list[dict]:
    invalid: list[dict] = []
    live_event_checker(invalid)(event, union)
    return invalid


def test_a_valid_event_passes_the_judge():
    assert judged(STARTED) == []
    assert judged(CLOSED) == []


def test_a_stray_field_deep_in_the_session_is_caught():
    (invalid,) = judged({**STARTED, "session": {**SESSION, "voice": "marin"}})

    assert "session.voice" in invalid["error"]


def test_an_unsupported_pcm_rate_is_caught():
    audio = {"format": {"type": "audio/pcm", "rate": 44100}}

    assert len(judged({**STARTED, "session": {**SESSION, "audio": audio}})) == 1


def test_an_unknown_close_reason_is_caught():
    assert len(judged({**CLOSED, "reason": "done"})) == 1


def test_a_float_where_the_sdk_wants_an_int_is_caught():
    assert len(judged({**CLOSED, "usage": {"seconds": 3, "active_seconds": 3.0}})) == 1


def test_output_audio_carries_no_event_id():
    delta = {"type": "session.output_audio.delta", "delta": "AAAA"}

    assert judged(delta) == []
    assert len(judged({**delta, "event_id": "event_3"})) == 1


@pytest.mark.parametrize(("union", "count"), [("server", 1), ("connect", 0)])
def test_paused_is_a_sideband_event(union, count):
    paused = {"type": "session.paused", "event_id": "event_4"}

    assert len(judged(paused, union)) == count


def test_a_nested_responses_event_is_judged_too():
    frame = {
        "type": "response.event",
        "event_id": "event_5",
        "event": {
            "type": "response.function_call_arguments.done",
            "sequence_number": 3,
            "item_id": "item_1",
            "output_index": 0,
            "arguments": "{}",
        },
    }

    assert judged(frame) == []
    (invalid,) = judged({**frame, "event": {**frame["event"], "name": "get_weather"}})
    assert invalid["error"].startswith("nested event:")

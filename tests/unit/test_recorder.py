"""The conversation log: which events become which records, and the session's totals."""

from __future__ import annotations

import json
from decimal import Decimal

from realtime.models import EntryKind
from realtime.recorder import ConversationLog
from realtime.records import Entry, LateTranscript, Response

USAGE = {
    "total_tokens": 320,
    "input_tokens": 132,
    "output_tokens": 188,
    "input_token_details": {
        "text_tokens": 59,
        "audio_tokens": 73,
        "image_tokens": 0,
        "cached_tokens": 64,
        "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 64, "image_tokens": 0},
    },
    "output_token_details": {"text_tokens": 41, "audio_tokens": 147},
}


# Made up, and built so that no scanner takes this file for one holding a key.
LEAKED_KEY = "sk-" + "abcdefghijklmnop" + "1234"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_log(model: str = "gpt-realtime-2.1", **options):
    records: list = []
    clock = Clock()

    def sink(session_id: int, record) -> bool:
        records.append(record)
        return True

    return ConversationLog(7, model, sink, clock=clock, **options), records, clock


def frame(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"))


def done(response_id: str, output: list, status: str = "completed", reason: str = "") -> dict:
    details = {"type": status, "reason": reason} if reason else None
    body = {"id": response_id, "status": status, "status_details": details}
    return {"type": "response.done", "response": {**body, "output": output, "usage": USAGE}}


def assistant(item_id: str, transcript: str) -> dict:
    content = [{"type": "output_audio", "transcript": transcript}]
    return {"id": item_id, "type": "message", "role": "assistant", "content": content}


def test_a_spoken_turn_and_its_reply_become_entries_a_response_and_a_late_transcript():
    log, records, clock = make_log()
    user_item = {
        "id": "item_u",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }
    log.server_frame(frame({"type": "input_audio_buffer.speech_stopped", "item_id": "item_u"}))
    log.server_frame(frame({"type": "conversation.item.added", "item": user_item}))
    clock.now += 0.2
    log.server_frame(frame({"type": "response.created", "response": {"id": "resp_1"}}))
    clock.now += 0.3
    log.server_frame(frame({"type": "response.output_audio.delta", "delta": "AAAA"}))
    log.server_frame(frame({"type": "response.output_audio.delta", "delta": "BBBB"}))
    clock.now += 1.0
    log.server_frame(
        frame(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_u",
                "transcript": "What time is it?",
            }
        )
    )
    log.server_frame(frame(done("resp_1", [assistant("item_a", "It is noon.")])))

    user, transcript, response, reply = records
    assert isinstance(user, Entry)
    assert user.kind == EntryKind.USER_SPEECH
    assert user.item_id == "item_u"
    assert transcript == LateTranscript("item_u", "What time is it?")
    assert isinstance(response, Response)
    assert response.response_id == "resp_1"
    assert response.status == "completed"
    assert round(response.created - response.turn_ended, 3) == 0.2
    assert round(response.first_output - response.created, 3) == 0.3
    assert round(response.done - response.created, 3) == 1.3
    assert reply.kind == EntryKind.ASSISTANT
    assert reply.text == "It is noon."
    assert reply.response_id == "resp_1"
    assert reply.status == "completed"
    assert log.totals.turns == 1


def test_the_cost_of_a_response_follows_the_price_table():
    log, records, _ = make_log()
    log.server_event(done("resp_1", []))

    # 59 text in, 9 audio in uncached, 64 audio cached, 41 text out, 147 audio out
    expected = (
        59 * Decimal(4) + 9 * Decimal(32) + 64 * Decimal("0.40") + 41 * Decimal(24) + 147 * 64
    ) / Decimal(1_000_000)
    assert records[0].cost_usd == expected.quantize(Decimal("0.000001"))
    fields = log.end_fields()
    assert fields["cost_usd"] == records[0].cost_usd
    assert (fields["input_tokens"], fields["output_tokens"], fields["total_tokens"]) == (
        132,
        188,
        320,
    )
    assert (fields["cached_audio_tokens"], fields["output_audio_tokens"]) == (64, 147)


def test_a_model_without_a_price_costs_unknown_not_zero():
    log, records, _ = make_log(model="gpt-realtime-unpriced")
    log.server_event(done("resp_1", []))

    assert records[0].cost_usd is None
    assert log.end_fields()["cost_usd"] is None


def test_a_price_override_applies_to_its_model():
    override = {
        "model": "house-model",
        "text_input": 1,
        "cached_text_input": 0,
        "audio_input": 0,
        "cached_audio_input": 0,
        "text_output": 0,
        "audio_output": 0,
    }
    log, records, _ = make_log(model="house-model", prices=(override,))
    log.server_event(done("resp_1", []))

    assert records[0].cost_usd == Decimal("0.000059")


def test_a_session_without_responses_has_no_cost_to_show():
    log, _, _ = make_log()

    assert log.end_fields()["cost_usd"] is None


def test_a_barge_in_marks_the_assistant_turn_as_cut_short():
    log, records, _ = make_log()
    log.server_event({"type": "response.created", "response": {"id": "resp_1"}})
    log.server_event(
        done("resp_1", [assistant("item_a", "Well, the")], "cancelled", "turn_detected")
    )

    assert records[-1].kind == EntryKind.ASSISTANT
    assert records[-1].status == "barge-in"
    assert records[0].status == "cancelled"
    assert records[0].status_reason == "turn_detected"


def test_function_calls_and_their_outputs_are_recorded_with_their_call_id():
    log, records, _ = make_log()
    call = {
        "id": "item_f",
        "type": "function_call",
        "call_id": "call_1",
        "name": "lookup_order",
        "arguments": '{"order": 42}',
    }
    log.server_event(done("resp_1", [call]))
    output = {"id": "item_o", "type": "function_call_output", "call_id": "call_1", "output": "ok"}
    log.server_event({"type": "conversation.item.added", "item": output})

    function_call, function_output = records[1], records[2]
    assert (function_call.kind, function_call.name, function_call.text) == (
        EntryKind.FUNCTION_CALL,
        "lookup_order",
        '{"order": 42}',
    )
    assert function_call.tool_call_id == function_output.tool_call_id == "call_1"
    assert function_output.kind == EntryKind.FUNCTION_OUTPUT
    assert function_output.text == "ok"


def test_a_typed_message_is_a_turn_whose_end_starts_the_latency_clock():
    log, records, clock = make_log()
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hello there"}],
    }
    log.client_event({"type": "conversation.item.create", "item": item})
    clock.now += 0.05
    log.server_event({"type": "conversation.item.added", "item": {**item, "id": "item_t"}})
    log.server_event({"type": "conversation.item.added", "item": {**item, "id": "item_t"}})
    clock.now += 0.1
    log.server_event({"type": "response.created", "response": {"id": "resp_1"}})
    log.server_event(done("resp_1", []))

    typed, response = records
    assert (typed.kind, typed.text) == (EntryKind.USER_TEXT, "Hello there")
    assert round(response.created - response.turn_ended, 3) == 0.15
    assert log.totals.turns == 1


def test_errors_are_recorded_with_their_code_and_a_masked_message():
    log, records, _ = make_log()
    log.server_frame(
        frame(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                    "message": f"Incorrect API key provided: {LEAKED_KEY}.",
                },
            }
        )
    )

    assert records[0].kind == EntryKind.ERROR
    assert records[0].name == "invalid_api_key"
    assert "abcdefghijklmnop" not in records[0].text


def test_without_transcripts_the_turns_and_usage_stay_but_no_text():
    log, records, _ = make_log(store_text=False)
    item = {
        "id": "i",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "secret plan"}],
    }
    log.server_event({"type": "conversation.item.added", "item": item})
    log.server_event(done("resp_1", [assistant("item_a", "Noted.")]))

    assert [record.text for record in records if isinstance(record, Entry)] == ["", ""]
    assert log.totals.turns == 1
    assert log.end_fields()["output_tokens"] == 188


def test_a_frame_whose_type_is_not_first_is_still_recorded():
    log, records, _ = make_log()
    log.server_frame('{"event_id":"e","type":"error","error":{"code":"x","message":"m"}}')

    assert records[0].kind == EntryKind.ERROR


def test_a_full_buffer_counts_the_dropped_records():
    log = ConversationLog(7, "gpt-realtime-2.1", lambda session_id, record: False)
    log.server_event(done("resp_1", [assistant("item_a", "Hi")]))

    assert log.end_fields()["records_dropped"] == 2


def test_a_frame_spaced_unlike_openais_is_still_recorded():
    log, records, _ = make_log()
    log.server_frame('{"type": "error", "error": {"code": "x", "message": "m"}}')

    assert records[0].kind == EntryKind.ERROR

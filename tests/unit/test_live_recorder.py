"""The GPT-Live conversation log: which Live events become which records, and the totals.

Every event fed here is shaped as the emulator sends it, and judged strictly by the openai
package's Live types (the emulator's own judge) before the log sees it.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
from openai.types.live.client_event import ClientEvent
from pydantic import TypeAdapter

from realtime.emulator import deltas
from realtime.emulator.live.fidelity import live_event_checker, members
from realtime.live_recorder import LiveConversationLog
from realtime.models import EntryKind, RealtimeSession
from realtime.records import Entry

SESSION = {
    "id": "live_abc",
    "expires_at": 1_800_000_000,
    "model": "gpt-live-1.1",
    "status": "active",
}
CALL = {
    "id": "item_call",
    "type": "function_call",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city": "Oslo"}',
}
CLOSE_REASONS = ["close_requested", "expired", "content", "remote_hangup", "connection_lost"]
# Made up, and built so that no scanner takes this file for one holding a key.
LEAKED_KEY = "sk-" + "abcdefghijklmnop" + "1234"
AUDIO_EVENTS = {"session.output_audio.delta", "session.input_audio.append"}
_event_ids = itertools.count()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorded:
    """A log, the records it made, its clock, and what the openai package made of its events."""

    def __init__(self, model: str = "gpt-live-1.1", **options: Any) -> None:
        self.records: list = []
        self.clock = Clock()
        self.invalid: list[dict] = []
        self.judge = live_event_checker(self.invalid)
        self.log = LiveConversationLog(7, model, self.sink, clock=self.clock, **options)

    def sink(self, session_id: int, record: Any) -> bool:
        self.records.append(record)
        return True

    def server(self, *events: dict, union: str = "server") -> None:
        """Send the log each event as the emulator's compact frame, judged first."""
        for event in events:
            self.judge(event, union)
            assert self.invalid == []
            self.log.server_frame(json.dumps(event, separators=(",", ":")))

    def client(self, event: dict) -> None:
        """Send the log a client event, judged by the openai package's ClientEvent first."""
        TypeAdapter(CLIENT_EVENTS[event["type"]]).validate_python(event, strict=True)
        self.log.client_event(event)

    def entries(self) -> list[Entry]:
        return [record for record in self.records if isinstance(record, Entry)]


CLIENT_EVENTS = members(ClientEvent)


@pytest.fixture
def recorded() -> Recorded:
    recording = Recorded()
    recording.server(event("session.started", session=SESSION))
    return recording


def event(event_type: str, **fields: Any) -> dict:
    """A server event as the emulator sends it: an event_id on all but the audio."""
    if event_type in AUDIO_EVENTS:
        return {"type": event_type, **fields}
    return {"type": event_type, "event_id": f"event_{next(_event_ids):021d}", **fields}


def heard(text: str, start_ms: int, end_ms: int) -> list[dict]:
    """The user's words as the emulator's model transcribes an utterance: spread over it."""
    words = deltas.words(text)
    span = end_ms - start_ms
    return [
        event(
            "session.input_transcript.delta",
            delta=word,
            start_ms=start_ms + span * index // len(words),
            end_ms=start_ms + span * (index + 1) // len(words),
        )
        for index, word in enumerate(words)
    ]


def said(text: str, start_ms: int, total_ms: int) -> list[dict]:
    """The assistant's words as the emulator's speaker streams them."""
    words = deltas.words(text)
    return [
        event(
            "session.output_transcript.delta",
            delta=word,
            start_ms=start_ms + int(total_ms * index / len(words)),
            end_ms=start_ms + int(total_ms * (index + 1) / len(words)),
        )
        for index, word in enumerate(words)
    ]


def usage(seconds: int, **breakdown: int) -> dict:
    return event("session.usage.updated", usage={"seconds": seconds, **breakdown})


def closed(reason: str = "close_requested", seconds: int = 3) -> dict:
    return event(
        "session.closed",
        reason=reason,
        session=SESSION,
        usage={"seconds": seconds, "active_seconds": seconds},
    )


def delegated(target: str, delegation_id: str = "item_d1", **more: str) -> dict:
    delegation = {"id": delegation_id, "type": "delegation", "target": target, **more}
    return event("session.delegation.created", offset_ms=1500, delegation=delegation)


def backend_call(
    delegation_id: str, response_id: str, *, ending: str = "response.completed", **tokens: int
) -> list[dict]:
    """The Responses backend's frames for a delegated function call, as the emulator's: it
    used 12 tokens in and 5 out unless ``tokens`` says otherwise."""
    response = {
        "id": response_id,
        "object": "response",
        "created_at": 1_800_000_000,
        "model": "gpt-5.2",
        "status": "in_progress",
        "output": [],
        "tools": [],
        "instructions": None,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "error": None,
        "incomplete_details": None,
    }
    where = {"item_id": CALL["id"], "output_index": 0}
    spent = {"input_tokens": 12, "cached_tokens": 0, "output_tokens": 5, **tokens}
    finished = {
        **response,
        "status": ending.removeprefix("response."),
        "usage": {
            "input_tokens": spent["input_tokens"],
            "input_tokens_details": {
                "cached_tokens": spent["cached_tokens"],
                "cache_write_tokens": 0,
            },
            "output_tokens": spent["output_tokens"],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": spent["input_tokens"] + spent["output_tokens"],
        },
    }
    if ending == "response.incomplete":
        finished["incomplete_details"] = {"reason": "max_output_tokens"}
    nested = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**CALL, "arguments": "", "status": "in_progress"},
        },
        {"type": "response.function_call_arguments.delta", **where, "delta": CALL["arguments"]},
        {"type": "response.function_call_arguments.done", **where, "arguments": CALL["arguments"]},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**CALL, "status": "completed"},
        },
        {"type": ending, "response": finished},
    ]
    return [
        event(
            "response.event",
            event={**frame, "sequence_number": number},
            delegation_id=delegation_id,
        )
        for number, frame in enumerate(nested)
    ]


def kinds_and_texts(recording: Recorded) -> list[tuple[str, str]]:
    return [(entry.kind, entry.text) for entry in recording.entries()]


# --- speech -----------------------------------------------------------------------------------


def test_both_sides_transcripts_are_assembled_into_entries_in_the_order_spoken(recorded):
    recorded.server(*heard("What time is it?", 200, 1400))
    recorded.server(*said("It is noon.", 1900, 1200))
    recorded.server(*heard("Thanks", 3500, 3900))
    recorded.server(closed())

    assert kinds_and_texts(recorded) == [
        (EntryKind.USER_SPEECH, "What time is it?"),
        (EntryKind.ASSISTANT, "It is noon."),
        (EntryKind.USER_SPEECH, "Thanks"),
    ]
    stamps = [entry.at for entry in recorded.entries()]
    assert stamps == sorted(stamps)


def test_words_the_user_typed_are_a_typed_entry_and_their_answer_a_turn(recorded):
    typed = 'The user typed: "Is the pool open?"'
    recorded.client(
        {"type": "session.instructions.append", "content": typed, "delegation_id": None}
    )
    recorded.server(*said("Until nine.", 600, 800))
    recorded.client(
        {"type": "session.instructions.append", "content": "Be terse.", "delegation_id": None}
    )
    recorded.server(closed())

    assert kinds_and_texts(recorded) == [
        (EntryKind.USER_TEXT, "Is the pool open?"),
        (EntryKind.ASSISTANT, "Until nine."),
    ]
    assert recorded.log.totals.turns == 1


def test_a_sideband_hears_typed_words_only_as_appended_and_records_a_typed_turn(recorded):
    recorded.server(*said("Hello.", 0, 500))
    recorded.server(event("session.instructions.appended", start_ms=600, end_ms=600))
    recorded.server(*said("Until nine.", 700, 800))
    recorded.server(closed())

    assert kinds_and_texts(recorded) == [
        (EntryKind.ASSISTANT, "Hello."),
        (EntryKind.USER_TEXT, ""),
        (EntryKind.ASSISTANT, "Until nine."),
    ]
    assert recorded.log.totals.turns == 1


def test_the_echo_of_words_relayed_through_the_proxy_is_not_a_second_typed_turn(recorded):
    typed = 'The user typed: "Hi"'
    recorded.client(
        {"type": "session.instructions.append", "content": typed, "delegation_id": None}
    )
    recorded.server(event("session.instructions.appended", start_ms=0, end_ms=0))
    recorded.server(closed())

    assert kinds_and_texts(recorded) == [(EntryKind.USER_TEXT, "Hi")]


def test_an_utterance_is_complete_only_when_the_other_side_speaks(recorded):
    recorded.server(*heard("What time is it?", 200, 1400))
    nothing_yet = list(recorded.records)
    recorded.server(*said("It", 1900, 100))

    assert nothing_yet == []
    assert kinds_and_texts(recorded) == [(EntryKind.USER_SPEECH, "What time is it?")]


def test_an_utterance_is_stamped_when_its_first_word_was_spoken_on_the_timeline(recorded):
    recorded.clock.now += 3.5  # the transcript arrives after the utterance
    recorded.server(*heard("What time is it?", 2000, 3000))
    recorded.server(*said("Noon.", 3500, 500))

    assert recorded.entries()[0].at == 1002.0


def test_an_utterance_on_a_timeline_ahead_of_the_clock_is_stamped_when_heard(recorded):
    recorded.clock.now += 0.5  # a client streamed 5 s of audio in half a second
    recorded.server(*heard("Quick", 4000, 5000))
    recorded.server(closed())

    assert recorded.entries()[0].at == 1000.5


def test_closing_the_session_completes_what_was_being_said(recorded):
    recorded.server(*said("Goodbye for now.", 0, 900))
    recorded.server(closed())

    assert kinds_and_texts(recorded) == [(EntryKind.ASSISTANT, "Goodbye for now.")]


def test_the_end_fields_complete_what_was_being_said_when_no_session_closed_came(recorded):
    recorded.server(*heard("Are you still", 0, 700))
    recorded.log.end_fields()

    assert kinds_and_texts(recorded) == [(EntryKind.USER_SPEECH, "Are you still")]


def test_without_transcripts_the_utterances_stay_but_no_text():
    recorded = Recorded(store_text=False)
    recorded.server(*heard("my secret plan", 0, 900))
    recorded.server(*said("Noted.", 1400, 400))
    recorded.server(closed())

    assert kinds_and_texts(recorded) == [(EntryKind.USER_SPEECH, ""), (EntryKind.ASSISTANT, "")]
    assert recorded.log.totals.turns == 1


def test_a_turn_is_a_user_utterance_the_assistant_answers(recorded):
    recorded.server(*heard("One", 0, 300), *said("Yes.", 800, 300))
    recorded.server(*heard("Two", 1600, 1900), *said("Yes.", 2400, 300))
    recorded.server(*heard("Unanswered", 3200, 3900))
    recorded.server(closed())

    assert recorded.log.end_fields()["turns"] == 2


def test_the_user_speaking_over_the_assistant_marks_its_utterance_cut_short(recorded):
    recorded.server(*said("Let me tell you a long story", 1000, 3000))
    recorded.server(*heard("Stop", 2500, 2900))
    recorded.server(closed())

    reply, interruption = recorded.entries()
    assert (reply.kind, reply.status) == (EntryKind.ASSISTANT, "barge-in")
    assert interruption.status == ""


# --- tool work --------------------------------------------------------------------------------


def test_a_client_delegation_and_its_answers_are_recorded_as_a_call_and_its_outputs(recorded):
    recorded.server(*heard("What is on my calendar?", 0, 1500), delegated("client"))
    recorded.client(
        {"type": "session.thinking.append", "content": "Reading it.", "delegation_id": "item_d1"}
    )
    recorded.client(
        {
            "type": "session.commentary.append",
            "content": "Two meetings.",
            "delegation_id": "item_d1",
        }
    )

    speech, call, thinking, commentary = recorded.entries()
    assert speech.text == "What is on my calendar?"
    assert (call.kind, call.name, call.tool_call_id) == (
        EntryKind.FUNCTION_CALL,
        "delegation (client)",
        "item_d1",
    )
    assert [
        (entry.kind, entry.name, entry.tool_call_id, entry.text) for entry in (thinking, commentary)
    ] == [
        (EntryKind.FUNCTION_OUTPUT, "thinking", "item_d1", "Reading it."),
        (EntryKind.FUNCTION_OUTPUT, "commentary", "item_d1", "Two meetings."),
    ]


def test_a_responses_delegated_function_call_is_recorded_with_its_output(recorded):
    recorded.server(*heard("get_weather for Oslo please", 0, 1500))
    recorded.server(
        delegated("responses", response_id="resp_1"), *backend_call("item_d1", "resp_1")
    )
    recorded.client(
        {
            "type": "response.item.create",
            "item": {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        }
    )

    _, delegation, call, output = recorded.entries()
    assert (delegation.name, delegation.response_id) == ("delegation (responses)", "resp_1")
    assert (call.kind, call.name, call.text, call.status) == (
        EntryKind.FUNCTION_CALL,
        "get_weather",
        '{"city": "Oslo"}',
        "completed",
    )
    assert (call.item_id, call.response_id) == ("item_call", "resp_1")
    assert (output.kind, output.text) == (EntryKind.FUNCTION_OUTPUT, "sunny")
    assert call.tool_call_id == output.tool_call_id == "call_1"


def test_errors_are_recorded_with_their_code_and_a_masked_message(recorded):
    error = {
        "type": "invalid_request_error",
        "code": "unknown_parameter",
        "message": f"Unknown parameter near {LEAKED_KEY}.",
        "param": "session.voice",
        "client_event_id": "c7",
    }
    recorded.server(event("error", error=error, client_event_id="c7"))

    (entry,) = recorded.entries()
    assert (entry.kind, entry.name) == (EntryKind.ERROR, "unknown_parameter")
    assert "abcdefghijklmnop" not in entry.text


# --- usage, cost and the end ------------------------------------------------------------------


def test_usage_is_the_latest_cumulative_reading_never_a_sum(recorded):
    recorded.server(usage(15, active_seconds=15), usage(30, active_seconds=30))

    fields = recorded.log.end_fields()
    assert (fields["usage_seconds"], fields["active_seconds"]) == (Decimal(30), Decimal(30))
    assert fields["cost_usd"] == Decimal("0.025000")


def test_the_final_usage_is_the_one_session_closed_reports(recorded):
    recorded.server(usage(15, active_seconds=15), closed(seconds=21))

    assert recorded.log.end_fields()["usage_seconds"] == Decimal(21)


def test_an_active_gpt_live_1_1_minute_costs_its_active_rate(recorded):
    recorded.server(closed(seconds=60))

    assert recorded.log.totals.cost_usd == Decimal("0.050000")


def test_a_paused_gpt_live_1_1_session_bills_its_paused_seconds_at_the_standby_rate(recorded):
    recorded.server(usage(120, active_seconds=60, paused_seconds=60))

    fields = recorded.log.end_fields()
    assert (fields["active_seconds"], fields["paused_seconds"]) == (Decimal(60), Decimal(60))
    assert fields["cost_usd"] == Decimal("0.070000")  # $0.05 active + $0.02 standby


def test_the_model_session_started_names_is_the_one_priced():
    recorded = Recorded(model="gpt-live-unpriced")
    recorded.server(event("session.started", session=SESSION), closed(seconds=60))

    assert recorded.log.totals.cost_usd == Decimal("0.050000")


def test_a_model_without_a_price_costs_unknown_not_zero():
    recorded = Recorded(model="gpt-live-unpriced")
    recorded.server(closed(seconds=60))

    fields = recorded.log.end_fields()
    assert (fields["usage_seconds"], fields["cost_usd"]) == (Decimal(60), None)


def test_a_session_without_usage_has_no_seconds_or_cost_to_show(recorded):
    fields = recorded.log.end_fields()

    assert (fields["usage_seconds"], fields["active_seconds"], fields["cost_usd"]) == (
        None,
        None,
        None,
    )


def test_the_backends_tokens_add_up_per_response_into_the_token_columns(recorded):
    recorded.server(*backend_call("item_d1", "resp_1"))
    recorded.server(*backend_call("item_d2", "resp_2", input_tokens=30, output_tokens=7))

    fields = recorded.log.end_fields()
    assert (fields["input_tokens"], fields["output_tokens"], fields["total_tokens"]) == (42, 12, 54)
    assert (fields["input_text_tokens"], fields["output_text_tokens"]) == (42, 12)
    assert (fields["input_audio_tokens"], fields["output_audio_tokens"]) == (0, 0)


def test_the_backends_cached_input_is_counted_as_cached_text(recorded):
    recorded.server(*backend_call("item_d1", "resp_1", input_tokens=40, cached_tokens=32))

    fields = recorded.log.end_fields()
    assert (fields["input_text_tokens"], fields["cached_text_tokens"]) == (40, 32)


def test_an_incomplete_backend_response_counts_the_tokens_it_used(recorded):
    recorded.server(*backend_call("item_d1", "resp_1", ending="response.incomplete"))

    assert recorded.log.end_fields()["total_tokens"] == 17


def test_without_a_backend_response_the_token_columns_stay_empty(recorded):
    recorded.server(*heard("Hi", 0, 300), closed(seconds=5))

    fields = recorded.log.end_fields()
    assert [fields.get(name) for name in ("input_tokens", "output_tokens", "total_tokens")] == [
        None,
        None,
        None,
    ]


def test_the_backends_tokens_have_no_price_so_the_cost_is_the_seconds(recorded):
    recorded.server(*backend_call("item_d1", "resp_1"), closed(seconds=60))

    fields = recorded.log.end_fields()
    assert (fields["total_tokens"], fields["cost_usd"]) == (17, Decimal("0.050000"))


@pytest.mark.parametrize("reason", CLOSE_REASONS)
def test_session_closed_gives_the_end_reason(recorded, reason):
    recorded.server(closed(reason))

    assert recorded.log.end_reason == reason


def test_a_session_that_ends_without_session_closed_has_no_end_reason(recorded):
    recorded.server(usage(15))

    assert recorded.log.end_reason == ""


def test_the_end_fields_are_the_session_rows_columns(recorded):
    columns = {field.name for field in RealtimeSession._meta.concrete_fields}

    assert set(recorded.log.end_fields()) <= columns


def test_a_full_buffer_counts_the_dropped_records():
    log = LiveConversationLog(7, "gpt-live-1.1", lambda session_id, record: False)
    log.server_event(event("error", error={"type": "server_error", "code": "x", "message": "m"}))

    assert log.end_fields()["records_dropped"] == 1


# --- the hot path -----------------------------------------------------------------------------


def test_audio_frames_are_skipped_without_being_parsed(recorded, monkeypatch):
    parsed: list[str] = []
    loads = orjson.loads
    monkeypatch.setattr(orjson, "loads", lambda text: parsed.append(text) or loads(text))
    chunk = "A" * 4800
    recorded.server(event("session.output_audio.delta", delta=chunk))
    recorded.server(
        event("session.output_audio.delta", delta=chunk, start_ms=0, end_ms=100),
        event("session.input_audio.append", audio=chunk),
        union="connect",
    )
    recorded.log.client_event({"type": "session.input_audio.append", "audio": chunk})
    skipped = list(parsed)
    recorded.server(*heard("Hi", 0, 300))

    assert skipped == []
    assert len(parsed) == 1
    assert recorded.records == []

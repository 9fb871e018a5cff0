"""Turn a conversation's events into its record: what was said, each response, the totals.

One ``ConversationLog`` per session, fed the frames the proxy relays (both ways) or the
events a WebRTC call's sideband hears. It keeps no frame: it hands each record it makes
(an entry of the timeline, a transcript that arrived later, a response with its usage,
cost and latency) to a sink, the process's ``realtime.record_writer``, and keeps the
session's totals for its end.

Hot path: OpenAI's frames are mostly audio deltas, 50 a second per session. The event type
is the first key of every frame OpenAI sends, so a glance at a frame's first bytes says
whether it matters; only the few that do are parsed. (A frame whose type is not first is
parsed all the same: nothing depends on the order.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from realtime import pricing
from realtime.keys import redact
from realtime.models import EntryKind
from realtime.records import Entry, LateTranscript, Record, Response, Sink, as_dict, as_str, cut

if TYPE_CHECKING:
    from realtime.tools.runner import ToolResult

# The first output of a response: audio over WebSocket, or (WebRTC) its audio starting to
# play, or text.
FIRST_OUTPUT = frozenset(
    {
        "response.output_audio.delta",
        "response.output_text.delta",
        "response.output_audio_transcript.delta",
        "output_audio_buffer.started",
    }
)
RECORDED = frozenset(
    {
        "session.created",
        "session.updated",
        "input_audio_buffer.speech_stopped",
        "conversation.item.added",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "response.created",
        "response.done",
        "error",
    }
)
_TYPE_FIRST = '{"type":"'  # how OpenAI's frames begin (compact JSON, type first)


@dataclass
class SessionTotals:
    """What the session's row holds at its end."""

    turns: int = 0
    usage: pricing.TokenUsage = field(default_factory=pricing.TokenUsage)
    cost_usd: Decimal | None = Decimal(0)  # None once a response had no price
    responses: int = 0
    records_dropped: int = 0


class RecordKeeper:
    """What every conversation log does with its records: hand each to the sink (counting
    those it drops), and keep text only as the settings allow, masked and cut."""

    totals: Any  # the log's totals, which count the records dropped

    def __init__(
        self,
        session_id: int | None,
        model: str,
        sink: Sink,
        *,
        store_text: bool = True,
        prices: tuple[dict[str, Any], ...] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session_id = session_id
        self.model = model
        self.sink = sink
        self.store_text = store_text
        self.prices = prices
        self.clock = clock

    def note(self, status: str, text: str = "") -> None:
        """Record something that happened to the recording itself (a sideband's attach or
        drop)."""
        self._emit(Entry(self.clock(), EntryKind.SIDEBAND, status=status, text=cut(redact(text))))

    def tool_run(self, call_id: str, name: str, result: ToolResult) -> None:
        """Record what a server tool told the model, how it ended and how long it ran."""
        self._emit(
            Entry(
                self.clock(),
                EntryKind.TOOL_RUN,
                tool_call_id=call_id,
                name=name,
                text=self._storable(result.output),
                status=result.status,
                duration_ms=result.duration_ms,
            )
        )

    def _error(self, event: dict[str, Any]) -> None:
        error = as_dict(event.get("error"))
        code = as_str(error.get("code")) or as_str(error.get("type")) or "error"
        # Error messages quote what the client sent: they are kept even without transcripts,
        # masked like every stored text.
        self._emit(
            Entry(
                self.clock(),
                EntryKind.ERROR,
                name=code[:200],
                text=cut(redact(as_str(error.get("message")))),
            )
        )

    def _storable(self, text: Any) -> str:
        if not self.store_text or not isinstance(text, str):
            return ""
        return cut(redact(text))

    def _emit(self, record: Record) -> None:
        if self.session_id is None:
            return  # the session has no row to hang its records on
        if not self.sink(self.session_id, record):
            self.totals.records_dropped += 1


class ConversationLog(RecordKeeper):
    """The record of one session's conversation, as its events arrive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.totals = SessionTotals()
        self.open_responses: dict[str, Response] = {}
        self.awaiting_output: Response | None = None
        self.turn_ended: float | None = None  # the user's last turn that no response took yet
        self.seen_items: set[str] = set()

    # --- what arrives ----------------------------------------------------------------------

    def server_frame(self, text: str) -> None:
        """Note one of OpenAI's frames, as relayed (a glance for most of them)."""
        event_type = leading_type(text)
        if event_type is not None:
            if event_type in FIRST_OUTPUT:
                self._first_output()
                return
            if event_type not in RECORDED:
                return
        event = parse_frame(text)
        if event is not None:
            self.server_event(event)

    def server_event(self, event: dict[str, Any]) -> None:
        """Note one server event (the sideband's, or a parsed frame)."""
        event_type = event.get("type")
        if event_type in FIRST_OUTPUT:
            self._first_output()
            return
        handler = _SERVER_HANDLERS.get(event_type)  # type: ignore[arg-type]
        if handler is not None:
            handler(self, event)

    def client_event(self, event: dict[str, Any]) -> None:
        """Note a client event sent upstream (the proxy's client's, or a server tool's
        output): a typed message, or a tool's output, is a turn that ends now; the response
        to it is timed from here (the server's echo of the item records its text)."""
        if event.get("type") == "conversation.item.create":
            item = as_dict(event.get("item"))
            typed = item.get("type") == "message" and item.get("role") == "user"
            if typed or item.get("type") == "function_call_output":
                self.turn_ended = self.clock()

    def resume(self, totals: SessionTotals, seen_items: set[str]) -> None:
        """Go on from a record another process began (a call taken over): its totals so
        far, and the items it has, which are not recorded twice."""
        self.totals = totals
        self.seen_items |= seen_items

    # --- the events that matter ------------------------------------------------------------

    def _session(self, event: dict[str, Any]) -> None:
        model = as_dict(event.get("session")).get("model")
        if isinstance(model, str) and model:
            self.model = model

    def _speech_stopped(self, event: dict[str, Any]) -> None:
        self.turn_ended = self.clock()

    def _item_added(self, event: dict[str, Any]) -> None:
        item = as_dict(event.get("item"))
        item_id = as_str(item.get("id"))
        if item_id in self.seen_items:
            return
        kind, text, name = _item_entry(item)
        if kind is None:
            return
        self.seen_items.add(item_id)
        if kind in (EntryKind.USER_SPEECH, EntryKind.USER_TEXT):
            self.totals.turns += 1
        if kind == EntryKind.USER_TEXT and self.turn_ended is None:
            # A sideband hears no client event: the server's echo is when the turn ended.
            self.turn_ended = self.clock()
        self._emit(
            Entry(
                self.clock(),
                kind,
                item_id=item_id,
                tool_call_id=as_str(item.get("call_id")),
                name=name,
                text=self._storable(text),
            )
        )

    def _transcribed(self, event: dict[str, Any]) -> None:
        self._emit(
            LateTranscript(as_str(event.get("item_id")), self._storable(event.get("transcript")))
        )

    def _transcription_failed(self, event: dict[str, Any]) -> None:
        message = as_str(as_dict(event.get("error")).get("message"))
        self._emit(
            LateTranscript(as_str(event.get("item_id")), "", status=f"failed: {message}"[:40])
        )

    def _response_created(self, event: dict[str, Any]) -> None:
        response_id = as_str(as_dict(event.get("response")).get("id"))
        response = Response(response_id, self.clock(), self.turn_ended)
        self.turn_ended = None
        self.open_responses[response_id] = response
        self.awaiting_output = response

    def _first_output(self) -> None:
        response = self.awaiting_output
        if response is not None:
            response.first_output = self.clock()
            self.awaiting_output = None

    def _response_done(self, event: dict[str, Any]) -> None:
        body = as_dict(event.get("response"))
        response_id = as_str(body.get("id"))
        response = self.open_responses.pop(response_id, None)
        now = self.clock()
        if response is None:  # created before this log began (a sideband that reattached)
            response = Response(response_id, now, None)
        if self.awaiting_output is response:
            self.awaiting_output = None
        response.done = now
        response.status = as_str(body.get("status"))
        response.status_reason = as_str(as_dict(body.get("status_details")).get("reason"))
        response.usage = pricing.TokenUsage.from_response(body.get("usage"))
        response.cost_usd = pricing.cost(response.usage, pricing.price_for(self.model, self.prices))
        self._add_to_totals(response)
        self._emit(response)
        for item in body.get("output") or []:
            self._output_item(as_dict(item), response)

    def _output_item(self, item: dict[str, Any], response: Response) -> None:
        status = _item_status(item, response)
        if item.get("type") == "function_call":
            entry = Entry(
                self.clock(),
                EntryKind.FUNCTION_CALL,
                item_id=as_str(item.get("id")),
                response_id=response.response_id,
                tool_call_id=as_str(item.get("call_id")),
                name=as_str(item.get("name")),
                text=self._storable(item.get("arguments")),
                status=status,
            )
        elif item.get("type") == "message":
            entry = Entry(
                self.clock(),
                EntryKind.ASSISTANT,
                item_id=as_str(item.get("id")),
                response_id=response.response_id,
                text=self._storable(_spoken_or_written(item)),
                status=status,
            )
        else:
            return
        self._emit(entry)

    # --- records ---------------------------------------------------------------------------

    def _add_to_totals(self, response: Response) -> None:
        totals = self.totals
        totals.responses += 1
        totals.usage.add(response.usage)
        if response.cost_usd is None or totals.cost_usd is None:
            totals.cost_usd = None  # unknown stays unknown
        else:
            totals.cost_usd += response.cost_usd

    def end_fields(self) -> dict[str, Any]:
        """The session row's totals (``realtime.diagnostics.end_session``'s fields)."""
        totals = self.totals
        return {
            "turns": totals.turns,
            **token_fields(totals.usage),
            "cost_usd": totals.cost_usd if totals.responses else None,
            "records_dropped": totals.records_dropped,
        }


_SERVER_HANDLERS: dict[str, Callable[[ConversationLog, dict[str, Any]], None]] = {
    "session.created": ConversationLog._session,
    "session.updated": ConversationLog._session,
    "input_audio_buffer.speech_stopped": ConversationLog._speech_stopped,
    "conversation.item.added": ConversationLog._item_added,
    "conversation.item.input_audio_transcription.completed": ConversationLog._transcribed,
    "conversation.item.input_audio_transcription.failed": ConversationLog._transcription_failed,
    "response.created": ConversationLog._response_created,
    "response.done": ConversationLog._response_done,
    "error": ConversationLog._error,
}


def token_fields(usage: pricing.TokenUsage) -> dict[str, int]:
    """The session row's token columns for ``usage`` (a Realtime or a Live log's)."""
    return {
        "input_text_tokens": usage.input_text,
        "input_audio_tokens": usage.input_audio,
        "cached_text_tokens": usage.cached_text,
        "cached_audio_tokens": usage.cached_audio,
        "output_text_tokens": usage.output_text,
        "output_audio_tokens": usage.output_audio,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _item_entry(item: dict[str, Any]) -> tuple[str | None, Any, str]:
    """The entry kind, text and name of an item added to the conversation by the user or a
    tool (the assistant's are recorded with their response)."""
    item_type = item.get("type")
    if item_type == "function_call_output":
        return EntryKind.FUNCTION_OUTPUT, item.get("output"), ""
    if item_type != "message" or item.get("role") != "user":
        return None, "", ""
    parts = [as_dict(part) for part in item.get("content") or []]
    typed = [part.get("text") for part in parts if part.get("type") == "input_text"]
    if typed:
        return EntryKind.USER_TEXT, "\n".join(text for text in typed if isinstance(text, str)), ""
    spoken = [part.get("transcript") for part in parts if part.get("type") == "input_audio"]
    return EntryKind.USER_SPEECH, " ".join(text for text in spoken if isinstance(text, str)), ""


def _spoken_or_written(item: dict[str, Any]) -> str:
    texts = []
    for part in item.get("content") or []:
        part = as_dict(part)
        text = part.get("transcript") if part.get("type") == "output_audio" else part.get("text")
        if isinstance(text, str):
            texts.append(text)
    return " ".join(texts)


def _item_status(item: dict[str, Any], response: Response) -> str:
    """completed, or how the response ended early: cancelled by barge-in, failed, …"""
    if response.status == "cancelled" and response.status_reason == "turn_detected":
        return "barge-in"
    if response.status and response.status != "completed":
        return response.status
    return as_str(item.get("status")) or response.status


def leading_type(text: str) -> str | None:
    """The event type a frame begins with, or None if it begins otherwise."""
    if not text.startswith(_TYPE_FIRST):
        return None
    end = text.find('"', len(_TYPE_FIRST), 100)
    if end < 0 or "\\" in text[len(_TYPE_FIRST) : end]:
        return None
    return text[len(_TYPE_FIRST) : end]


def parse_frame(text: str) -> dict[str, Any] | None:
    """Return the event a frame holds, or None if it holds no JSON object."""
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None

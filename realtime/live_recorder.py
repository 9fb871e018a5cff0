"""Turn a GPT-Live session's events into its record, as ``realtime.recorder`` does for Realtime.

One ``LiveConversationLog`` per Live session, fed the frames its server sends
(``server_frame``; ``server_event`` for one already parsed) and the events its client sends
(``client_event``). It makes the Realtime log's kinds of records and hands them to the same
sink, so the admin shows a Live session's timeline like a Realtime one's:

- **Speech.** Each side's words arrive as transcript deltas placed on the session's timeline
  (``start_ms``/``end_ms``, the input audio's position), and no event says an utterance is
  done: it is complete when the other side speaks, a delegation starts, or the session ends.
  Its entry is stamped when its first word was spoken, read off the timeline (never later
  than when the word was heard), so the timeline orders both sides as they spoke. A user's
  utterance the assistant then answers is a turn.
- **Tool work.** ``session.delegation.created`` is a function call entry named after its
  target; under responses delegation the backend's function calls (``response.event``
  wrapping ``response.output_item.done``) are function calls as Realtime's are, and the
  client's ``function_call_output`` (``response.item.create``) their output, as are the
  thinking and commentary a client delegation is answered with.
- **Usage.** Live bills seconds, not tokens. Every ``session.usage.updated`` (and the final
  ``session.closed``) reports the running total: the latest replaces the one before, and
  the cost is ``realtime.pricing.live_cost`` of it. Under responses delegation the backend
  is billed its tokens too: each of its responses reports its own usage when it ends
  (``response.completed``, or failed or incomplete), so they add up, into the row's token
  columns. They have no price here (``realtime.pricing`` prices Realtime and Live models,
  no Responses model), so the cost stays that of the seconds.
- **The end.** ``end_reason`` is ``session.closed``'s reason; empty while none came (a
  session that ends without one ended unconfirmed).

A proxy or sideband calls ``finish`` when the session is over (before flushing the record
writer), then writes ``end_fields()`` with ``realtime.diagnostics.end_session`` as it does a
Realtime log's.

Hot path: audio, both ways, is most of a session's frames (``session.output_audio.delta``,
and the ``session.input_audio.append`` a sideband hears reflected); like the Realtime log's,
a glance at a frame's first bytes skips them, and only the frames that matter are parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from realtime import pricing
from realtime.live_policy import typed_text
from realtime.models import EntryKind
from realtime.recorder import RecordKeeper, leading_type, parse_frame, token_fields
from realtime.records import Entry, as_dict, as_str

RECORDED = frozenset(
    {
        "session.started",
        "session.input_transcript.delta",
        "session.output_transcript.delta",
        "session.instructions.appended",
        "session.delegation.created",
        "response.event",
        "session.usage.updated",
        "session.closed",
        "error",
    }
)
# The client's answers to a delegation: what the Responses backend's call returned, and what
# a client delegation's work says (silently, then spoken).
DELEGATION_ANSWERS = frozenset({"session.thinking.append", "session.commentary.append"})
BACKEND_DONE = frozenset({"response.completed", "response.failed", "response.incomplete"})
SECONDS = Decimal("0.001")  # what the session row keeps of a billed second


@dataclass
class LiveTotals:
    """What a Live session's row holds at its end."""

    turns: int = 0
    usage: pricing.LiveUsage | None = None  # the latest reading: cumulative, never summed
    cost_usd: Decimal | None = None  # of that reading; None without one, or without a price
    backend_usage: pricing.TokenUsage | None = None  # summed per response; None: no response
    records_dropped: int = 0


@dataclass(slots=True)
class Utterance:
    """What one side is saying, gathered from its transcript deltas until it is complete."""

    kind: str  # EntryKind.USER_SPEECH or EntryKind.ASSISTANT
    at: float
    end_ms: float
    words: list[str] = field(default_factory=list)


class LiveConversationLog(RecordKeeper):
    """The record of one Live session's conversation, as its events arrive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.totals = LiveTotals()
        self.end_reason = ""  # session.closed's reason, once it came
        self.speaking: Utterance | None = None
        self.timeline_start: float | None = None  # the clock's time at position 0
        self.user_spoke = False  # since the assistant last spoke: the next reply is a turn
        self.appends_heard = 0  # instructions appended by the client we relay, not yet echoed
        self.backend_responses: dict[str, str] = {}  # delegation id ("" for none) → response

    # --- what arrives ----------------------------------------------------------------------

    def server_frame(self, text: str) -> None:
        """Note one of OpenAI's frames, as relayed (a glance for most of them)."""
        event_type = leading_type(text)
        if event_type is not None and event_type not in RECORDED:
            return
        event = parse_frame(text)
        if event is not None:
            self.server_event(event)

    def server_event(self, event: dict[str, Any]) -> None:
        """Note one server event (a sideband's, or a parsed frame)."""
        handler = _SERVER_HANDLERS.get(event.get("type"))  # type: ignore[arg-type]
        if handler is not None:
            handler(self, event)

    def client_event(self, event: dict[str, Any]) -> None:
        """Note a client event sent upstream: words the user typed, a tool's output, or a
        delegation's answer."""
        event_type = event.get("type")
        if event_type == "session.instructions.append":
            self.appends_heard += 1  # its echo (session.instructions.appended) is not news
            if (words := typed_text(event.get("content"))) is not None:
                self._typed(self._storable(words))
        elif event_type == "response.item.create":
            item = as_dict(event.get("item"))
            if item.get("type") == "function_call_output":
                self._tool_output(as_str(item.get("call_id")), "", item.get("output"))
        elif event_type in DELEGATION_ANSWERS:
            name = event_type.split(".")[1]  # thinking, commentary
            self._tool_output(as_str(event.get("delegation_id")), name, event.get("content"))

    def _typed(self, words: str) -> None:
        """The user typed: what the assistant was saying is complete, and its answer is a
        turn."""
        self._complete()
        self._emit(Entry(self.clock(), EntryKind.USER_TEXT, text=words))
        self.user_spoke = True

    def _appended(self, event: dict[str, Any]) -> None:
        # A sideband hears that instructions were appended, never their content (they go
        # from the browser to OpenAI): the page's only appends are typed words, so one
        # nobody here sent is a typed turn whose words went unheard.
        if self.appends_heard:
            self.appends_heard -= 1
        else:
            self._typed("")

    def finish(self) -> None:
        """Record what was still being said: the session is over."""
        self._complete()

    # --- the events that matter ------------------------------------------------------------

    def _started(self, event: dict[str, Any]) -> None:
        model = as_dict(event.get("session")).get("model")
        if isinstance(model, str) and model:
            self.model = model
        if self.timeline_start is None:
            self.timeline_start = self.clock()

    def _heard(self, event: dict[str, Any]) -> None:
        self._words(EntryKind.USER_SPEECH, event)

    def _said(self, event: dict[str, Any]) -> None:
        self._words(EntryKind.ASSISTANT, event)

    def _words(self, kind: str, event: dict[str, Any]) -> None:
        start_ms, end_ms = _position(event.get("start_ms")), _position(event.get("end_ms"))
        speaking = self.speaking
        if speaking is None or speaking.kind != kind:
            # The user speaking before the assistant's last word ended cut it short.
            cut_short = speaking is not None and kind == EntryKind.USER_SPEECH
            self._complete("barge-in" if cut_short and start_ms < speaking.end_ms else "")
            speaking = self.speaking = Utterance(kind, self._moment(start_ms), end_ms)
            self._count_turn(kind)
        speaking.end_ms = max(speaking.end_ms, end_ms)
        delta = event.get("delta")
        if self.store_text and isinstance(delta, str):
            speaking.words.append(delta)

    def _count_turn(self, kind: str) -> None:
        if kind == EntryKind.USER_SPEECH:
            self.user_spoke = True
        elif self.user_spoke:
            self.totals.turns += 1
            self.user_spoke = False

    def _delegation(self, event: dict[str, Any]) -> None:
        self._complete()
        delegation = as_dict(event.get("delegation"))
        delegation_id = as_str(delegation.get("id"))
        self._emit(
            Entry(
                self._moment(_position(event.get("offset_ms"))),
                EntryKind.FUNCTION_CALL,
                item_id=delegation_id,
                response_id=as_str(delegation.get("response_id")),
                tool_call_id=delegation_id,
                name=f"delegation ({as_str(delegation.get('target'))})",
                status="delegated",
            )
        )

    def _response_event(self, event: dict[str, Any]) -> None:
        """Note the Responses backend's event: its response ids, and its function calls."""
        nested = as_dict(event.get("event"))
        nested_type = nested.get("type")
        delegation_id = as_str(event.get("delegation_id"))
        if nested_type == "response.created":
            response_id = as_str(as_dict(nested.get("response")).get("id"))
            self.backend_responses[delegation_id] = response_id
        elif nested_type in BACKEND_DONE:
            self.backend_responses.pop(delegation_id, None)
            self._backend_usage(as_dict(nested.get("response")).get("usage"))
        elif nested_type == "response.output_item.done":
            item = as_dict(nested.get("item"))
            if item.get("type") != "function_call":
                return  # a text answer, which the Live model speaks: recorded as speech
            self._emit(
                Entry(
                    self.clock(),
                    EntryKind.FUNCTION_CALL,
                    item_id=as_str(item.get("id")),
                    response_id=self.backend_responses.get(delegation_id, ""),
                    tool_call_id=as_str(item.get("call_id")),
                    name=as_str(item.get("name")),
                    text=self._storable(item.get("arguments")),
                    status=as_str(item.get("status")),
                )
            )

    def _backend_usage(self, usage: Any) -> None:
        """Add one backend response's tokens: its own, not the session's so far."""
        if not isinstance(usage, dict):
            return  # a response that failed before it used any
        if self.totals.backend_usage is None:
            self.totals.backend_usage = pricing.TokenUsage()
        self.totals.backend_usage.add(pricing.TokenUsage.from_responses(usage))

    def _usage(self, event: dict[str, Any]) -> None:
        usage = pricing.LiveUsage.from_event(event.get("usage"))
        self.totals.usage = usage
        self.totals.cost_usd = pricing.live_cost(usage, self.model, self.prices)

    def _closed(self, event: dict[str, Any]) -> None:
        self._complete()
        self._usage(event)
        self.end_reason = as_str(event.get("reason"))[:64]

    # --- records ---------------------------------------------------------------------------

    def _complete(self, status: str = "") -> None:
        """Record the utterance being spoken, which is complete."""
        speaking, self.speaking = self.speaking, None
        if speaking is not None:
            text = self._storable("".join(speaking.words).strip())
            self._emit(Entry(speaking.at, speaking.kind, text=text, status=status))

    def _tool_output(self, call_id: str, name: str, output: Any) -> None:
        entry = Entry(
            self.clock(),
            EntryKind.FUNCTION_OUTPUT,
            tool_call_id=call_id,
            name=name,
            text=self._storable(output),
        )
        self._emit(entry)

    def _moment(self, position_ms: float) -> float:
        """Return the clock's time at a position on the session's timeline, at the latest
        now: the timeline keeps pace with the clock while audio streams in real time, and a
        client that streams faster runs it ahead."""
        now = self.clock()
        if self.timeline_start is None:  # joined midway (a sideband): this position is now
            self.timeline_start = now - position_ms / 1000
        return min(now, self.timeline_start + position_ms / 1000)

    def end_fields(self) -> dict[str, Any]:
        """The session row's totals (``realtime.diagnostics.end_session``'s fields); what
        was still being said is recorded first."""
        self.finish()
        totals, usage, tokens = self.totals, self.totals.usage, self.totals.backend_usage
        return {
            "turns": totals.turns,
            # The backend's tokens; without a backend response the columns stay empty.
            **(token_fields(tokens) if tokens is not None else {}),
            "usage_seconds": None if usage is None else usage.seconds.quantize(SECONDS),
            "active_seconds": None if usage is None else usage.active.quantize(SECONDS),
            "paused_seconds": None if usage is None else usage.paused_seconds.quantize(SECONDS),
            "cost_usd": totals.cost_usd,
            "records_dropped": totals.records_dropped,
        }


_SERVER_HANDLERS: dict[str, Callable[[LiveConversationLog, dict[str, Any]], None]] = {
    "session.started": LiveConversationLog._started,
    "session.input_transcript.delta": LiveConversationLog._heard,
    "session.output_transcript.delta": LiveConversationLog._said,
    "session.instructions.appended": LiveConversationLog._appended,
    "session.delegation.created": LiveConversationLog._delegation,
    "response.event": LiveConversationLog._response_event,
    "session.usage.updated": LiveConversationLog._usage,
    "session.closed": LiveConversationLog._closed,
    "error": LiveConversationLog._error,
}


def _position(value: Any) -> float:
    """A position on the timeline in ms (0 for anything that is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)

"""WebSocket: the GPT-Live proxy, between a browser (or openai-python's ``client.live``) and
OpenAI's ``/live/sessions`` socket.

``LiveProxyConsumer`` is ``realtime.consumers.RealtimeProxyConsumer`` with the hooks where
the APIs differ overridden, so a Live session is admitted, limited, drained, ended by staff
and recorded exactly as a Realtime one is:

- admission refuses every Live connection (``live_not_offered``) while ``REALTIME_LIVE`` is
  off, before any slot or rate is spent;
- OpenAI's socket is Live's (``realtime.upstream_live``), and nothing is sent on it first:
  the client's ``session.start``, rebuilt from the server's profile, starts the session
  (``realtime.live_policy`` judges every client frame);
- the records are Live's (``LiveProxySession``): rows of ``api`` live, a
  ``LiveConversationLog``, server tools through Responses delegation
  (``realtime.tools.live_calls``), and the end reason ``session.closed`` gave;
- our own ``error`` events take Live's shape, whose correlation id is ``client_event_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realtime import proxy, upstream, upstream_live
from realtime.agents import Profile
from realtime.conf import RealtimeSettings
from realtime.consumers import RealtimeProxyConsumer
from realtime.live_policy import LivePolicy
from realtime.live_recorder import DELEGATION_ANSWERS, LiveConversationLog
from realtime.models import Api
from realtime.policy import ClientEvent
from realtime.proxy import query_value
from realtime.proxy_session import ProxySession
from realtime.tools import live_calls


@dataclass(eq=False)
class LiveProxySession(ProxySession):
    """One proxied GPT-Live connection: a ``ProxySession`` with Live's model, records and
    policy."""

    api = Api.LIVE
    log_class = LiveConversationLog
    tools_for = staticmethod(live_calls.LiveToolCalls.for_session)

    policy: LivePolicy | None = None  # once the profile is known

    @classmethod
    def choose_model(
        cls, conf: RealtimeSettings, scope: dict[str, Any], profile: Profile | None
    ) -> str:
        default = profile.live_model if profile is not None else conf.live_model
        return conf.model_for(query_value(scope, "model"), default)

    def note_profile(self, profile: Profile, scope: dict[str, Any]) -> None:
        super().note_profile(profile, scope)
        self.policy = LivePolicy(self.conf, profile, self.model)

    def note_start(self, event: ClientEvent) -> None:
        """Note the model the forwarded ``session.start`` asks for (an unlocked client may
        have chosen another allowed one)."""
        self.model = self.exchange.model = event.body["session"]["model"]
        if self.log is not None:
            self.log.model = self.model

    def end_reason(self) -> str:
        """Our error code, else ``session.closed``'s reason, else who closed."""
        closed = self.log.end_reason if self.log is not None else ""
        return self.error_code or closed or super().end_reason()


class LiveProxyConsumer(RealtimeProxyConsumer):
    """Browser or SDK ⇄ this server ⇄ OpenAI's GPT-Live WebSocket.

    ``browser_path``: the page's own route (``/ws/live/``), where a session cookie may
    stand in for a proxy token; on the SDK route (``/v1/live/sessions``) a token is required.
    """

    session: LiveProxySession | None = None
    session_class = LiveProxySession
    answer_events = frozenset(
        {"response.item.create", "session.instructions.append", *DELEGATION_ANSWERS}
    )

    async def admit(self) -> proxy.Caller:
        if not self.session.conf.live:
            caller = proxy.Caller(client_ip=proxy.client_address(self.scope))
            raise proxy.ConnectionRefused("live_not_offered", caller)
        return await super().admit()

    async def open_upstream(self) -> upstream.RelaySocket:
        return await upstream_live.open_live_socket()

    def first_frame(self) -> str | None:
        return None  # Live starts with the client's session.start

    def judge(self, text: str) -> ClientEvent:
        event = self.session.policy.read(text)
        if event.type == "session.start":
            self.session.note_start(event)
        return event

    async def send_event(self, event: dict[str, Any]) -> None:
        await super().send_event(live_error(event))


def live_error(event: dict[str, Any]) -> dict[str, Any]:
    """Return one of our ``error`` events in Live's shape: the client's event id moves from
    Realtime's ``error.event_id`` (``proxy.socket_error_event``) to ``client_event_id``,
    inside ``error`` and, when there is one, at the top. Any other event is returned as
    it is."""
    error = event.get("error")
    if event.get("type") != "error" or not isinstance(error, dict) or "event_id" not in error:
        return event
    error = dict(error)
    client_event_id = error.pop("event_id")
    error["client_event_id"] = client_event_id
    shaped = {**event, "error": error}
    if client_event_id is not None:
        shaped["client_event_id"] = client_event_id
    return shaped

"""GPT-Live's own problems (``realtime.errors`` holds them in the one table): its relay's and
its proxy's refusals, which Realtime's paths never make."""

from __future__ import annotations

from realtime.problem import Problem

LIVE_PROBLEMS = [
    Problem(
        "invalid_session_id",
        'The body must be JSON {"session_id": "live_…"}, naming a session this server relayed.',
        "Send the X-Live-Session-Id the Live handshake answered with.",
        status=400,
    ),
    Problem(
        # The SDK-compatible create (POST /v1/live/sessions): what its JSON body must be.
        "invalid_request_body",
        'The body must be JSON {"session": {…}, "transport": {"type": "webrtc", "sdp": "v=…"}}.',
        "Send what client.live.create(session=…, transport=…) sends; the error's param names "
        "the field at fault.",
        status=400,
    ),
    Problem(
        "model_not_allowed",
        "This server does not allow that model.",
        "Ask for REALTIME_LIVE_MODEL (or the agent's), or a GPT-Live model listed in "
        "REALTIME_ALLOWED_MODELS.",
        status=400,
    ),
    Problem(
        "live_not_offered",
        "This server does not offer GPT-Live.",
        "REALTIME_LIVE is off: start a Realtime session instead, or ask the server's staff to "
        "turn it on.",
        status=404,
        close_code=4404,
    ),
    Problem(
        "unknown_event",
        "GPT-Live has no client event of that type.",
        "Send one of GPT-Live's client events (openai.types.live.ClientEvent); the error's "
        "message lists them.",
    ),
    Problem(
        "session_not_started",
        "The first event of a GPT-Live session must be session.start.",
        "Send session.start first and wait for session.started before other events.",
    ),
    Problem(
        "session_already_started",
        "The session has already started: session.start is taken once, first.",
        "Send session.start once per connection; connect again for a new session.",
    ),
]

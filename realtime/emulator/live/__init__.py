"""GPT-Live (``/v1/live/sessions``) in the emulator: OpenAI's second voice API, offline.

Live is its own protocol, not the realtime one: the server owns the turns, tools go through
a delegation chosen at start, and a session is reached three ways, each served here:

- ``POST /v1/live/sessions`` (JSON with an SDP offer) starts a WebRTC session
  (:mod:`~realtime.emulator.live.rest`, :mod:`~realtime.emulator.live.webrtc`);
- ``GET /v1/live/sessions`` is a WebSocket whose first frame is ``session.start``, and
  ``GET /v1/live/sessions/{id}/attach`` a sideband to any session
  (:mod:`~realtime.emulator.live.socket`).

One session (:mod:`~realtime.emulator.live.session`) answers its client events
(:mod:`~realtime.emulator.live.commands`, checked by :mod:`~realtime.emulator.live.schema`),
reports the resource :mod:`~realtime.emulator.live.resource` resolves, listens and decides
like a deterministic model (:mod:`~realtime.emulator.live.model`), speaks
(:mod:`~realtime.emulator.live.speech`) and runs a Responses backend under ``responses``
delegation (:mod:`~realtime.emulator.live.backend`). With ``--check-events`` every event it
sends is judged strictly by the SDK's types (:mod:`~realtime.emulator.live.fidelity`).
"""

"""Realtime voice with OpenAI's GA realtime API: the voice chat page, token mint, SDP relay,
WebSocket proxy and diagnostics, as a reusable Django app."""

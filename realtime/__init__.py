"""Realtime voice with OpenAI's GA realtime API: token mint, SDP relay and diagnostics."""

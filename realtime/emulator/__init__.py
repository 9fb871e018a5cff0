"""An offline stand-in for OpenAI's GA realtime endpoints: HTTP, WebRTC and WebSocket.

It answers the way the real service does, errors included, so the relay, the proxy, the
page and the official SDKs can be tested end to end where OpenAI cannot be reached.
"""

"""WebSocket routes: the page's proxy, and OpenAI's own path for the official SDKs."""

from django.urls import path

from realtime.consumers import RealtimeProxyConsumer

websocket_urlpatterns = [
    path("ws/realtime/", RealtimeProxyConsumer.as_asgi(browser_path=True), name="realtime-proxy"),
    # openai-python's websocket_base_url="ws://host/v1" and @openai/agents-realtime's url
    # option connect here unchanged.
    path("v1/realtime", RealtimeProxyConsumer.as_asgi(), name="realtime-sdk-proxy"),
]

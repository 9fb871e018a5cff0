"""WebSocket routes: the page's proxy, and OpenAI's own path for the official SDKs."""

from django.urls import path

from realtime.consumers import RealtimeProxyConsumer

# WebSocket routes have no reverse(); views build the page's and the SDKs' URLs from these.
PAGE_PATH = "/ws/realtime/"
SDK_BASE_PATH = "/v1"  # openai-python's websocket_base_url; it appends /realtime

websocket_urlpatterns = [
    path(PAGE_PATH[1:], RealtimeProxyConsumer.as_asgi(browser_path=True), name="realtime-proxy"),
    # openai-python's websocket_base_url="ws://host/v1" and @openai/agents-realtime's url
    # option connect here unchanged.
    path(
        f"{SDK_BASE_PATH[1:]}/realtime", RealtimeProxyConsumer.as_asgi(), name="realtime-sdk-proxy"
    ),
]

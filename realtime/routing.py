"""WebSocket routes: the page's proxies, and OpenAI's own paths for the official SDKs."""

from django.urls import path

from realtime.consumers import RealtimeProxyConsumer
from realtime.live_consumer import LiveProxyConsumer

# WebSocket routes have no reverse(); views build the page's and the SDKs' URLs from these.
PAGE_PATH = "/ws/realtime/"
LIVE_PAGE_PATH = "/ws/live/"
SDK_BASE_PATH = "/v1"  # openai-python's websocket_base_url; it appends /realtime (or /live/…)

websocket_urlpatterns = [
    path(PAGE_PATH[1:], RealtimeProxyConsumer.as_asgi(browser_path=True), name="realtime-proxy"),
    # openai-python's websocket_base_url="ws://host/v1" and @openai/agents-realtime's url
    # option connect here unchanged.
    path(
        f"{SDK_BASE_PATH[1:]}/realtime", RealtimeProxyConsumer.as_asgi(), name="realtime-sdk-proxy"
    ),
    path(LIVE_PAGE_PATH[1:], LiveProxyConsumer.as_asgi(browser_path=True), name="live-proxy"),
    # openai-python's client.live.connect() with the same websocket_base_url.
    path(f"{SDK_BASE_PATH[1:]}/live/sessions", LiveProxyConsumer.as_asgi(), name="live-sdk-proxy"),
]

"""The app's HTTP routes: the voice chat page and its JSON API; a project includes them."""

from django.urls import path

from realtime import health, live_rest, live_views, metrics, pages, views

app_name = "realtime"

urlpatterns = [
    path("", pages.voice_chat, name="voice_chat"),
    path("agents/<slug:slug>/", pages.voice_chat, name="agent_chat"),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/realtime/client-secret", views.client_secret, name="client_secret"),
    path("api/realtime/handshake", views.handshake, name="handshake"),
    path("api/realtime/hangup", views.hangup, name="hangup"),
    path("api/live/handshake", live_views.handshake, name="live_handshake"),
    path("api/live/hangup", live_views.hangup, name="live_hangup"),
    # OpenAI's own path, for the official SDKs' live.create with base_url="https://host/v1".
    path("v1/live/sessions", live_rest.sessions, name="live_sessions"),
    path("v1/live/sessions/<str:session_id>/hangup", live_rest.hangup, name="live_sdk_hangup"),
]

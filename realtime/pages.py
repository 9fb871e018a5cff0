"""HTTP: the voice chat page, for the default agent (``/``) or a chosen one (``/agents/<slug>/``).

The page learns from its configuration (``realtime-config``) where the API is and which
agent it talks to: the agent's slug rides on every request the page makes (the mint's body,
the handshake's and the WebSocket's ``?agent=``), and the server applies that agent's
configuration to the session.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from realtime import agents, pricing, routing
from realtime.agent_models import Agent
from realtime.conf import get_settings
from realtime.hints import BROWSER_HINTS


@ensure_csrf_cookie
def voice_chat(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    conf = get_settings()
    try:
        profile = agents.resolve_sync(slug)
    except agents.UnknownAgent:
        raise Http404(f"No active agent is named {slug!r}.") from None
    query = f"?{urlencode({'agent': slug})}" if slug else ""
    page_config = {
        "handshakePath": reverse("realtime:handshake") + query,
        "clientSecretPath": reverse("realtime:client_secret"),
        "hangupPath": reverse("realtime:hangup"),
        "websocketPath": routing.PAGE_PATH + query,
        "agent": slug or "",
        "model": profile.model,
        "transport": conf.transport,
        "webrtcFlow": conf.webrtc_flow,
        "debug": conf.debug,
        "emulator": conf.emulator,
        "hints": BROWSER_HINTS,
        "price": pricing.page_price(profile.model, conf.prices),
    }
    # With more than one active agent the page offers them all, the current one marked.
    active = Agent.objects.filter(is_active=True).only("name", "slug")
    choices = [
        {
            "name": agent.name,
            "url": reverse("realtime:agent_chat", args=[agent.slug]),
            "current": agent.pk == profile.agent_id,
        }
        for agent in active
    ]
    context = {
        "page_config": page_config,
        "agent_name": next((choice["name"] for choice in choices if choice["current"]), ""),
        "agent_choices": choices if len(choices) > 1 else [],
    }
    return render(request, "realtime/voice_chat.html", context)

"""HTTP: the voice chat page, for the default agent (``/``) or a chosen one (``/agents/<slug>/``).

The page learns from its configuration (``realtime-config``) where the API is and which
agent it talks to: the agent's slug rides on every request the page makes (the mint's body,
the handshake's and the WebSocket's ``?agent=``), and the server applies that agent's
configuration to the session.

Where the server offers GPT-Live (``REALTIME_LIVE``), the config's ``live`` names its
endpoints, model and price, and ``api`` the API the page starts on when the browser
remembers no choice (the agent's); without Live, ``live`` is null and the page offers no
choice of API.
"""

from __future__ import annotations

from typing import Any
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
        "api": profile.api if conf.live else "realtime",
        "live": _live_config(profile, query, conf.prices) if conf.live else None,
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
        "page_model": profile.live_model if page_config["api"] == "live" else profile.model,
        "agent_name": next((choice["name"] for choice in choices if choice["current"]), ""),
        "agent_choices": choices if len(choices) > 1 else [],
    }
    return render(request, "realtime/voice_chat.html", context)


def _live_config(
    profile: agents.Profile, query: str, prices: tuple[dict[str, Any], ...]
) -> dict[str, Any]:
    """GPT-Live's part of the page config: where its endpoints are, its model and price.

    Live has no ephemeral secrets, so its WebRTC flow is always the unified handshake; the
    page lays these keys over the Realtime ones when Live is chosen.
    """
    price = pricing.live_price_for(profile.live_model, prices)
    page_price = None
    if price is not None:
        standby = price.per_minute if price.standby_per_minute is None else price.standby_per_minute
        page_price = {"per_minute": float(price.per_minute), "standby_per_minute": float(standby)}
    return {
        "handshakePath": reverse("realtime:live_handshake") + query,
        "hangupPath": reverse("realtime:live_hangup"),
        "websocketPath": routing.LIVE_PAGE_PATH + query,
        "webrtcFlow": "unified",
        "model": profile.live_model,
        "price": page_price,
    }

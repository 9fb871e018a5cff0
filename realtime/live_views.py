"""HTTP: the page's GPT-Live calls over WebRTC, relayed, and their hangup.

GPT-Live has no ephemeral secrets, so the page never talks to OpenAI for a session: it posts
its SDP offer here (``POST /api/live/handshake``, cookie, CSRF, the login rule and the rate
limit as for the unified Realtime flow: ``realtime.endpoints.api_endpoint``), and this server
creates the session (``POST /live/sessions``, JSON, with the server key and the session the
agent's profile asks for) and answers with OpenAI's SDP answer and the session's id
(``X-Live-Session-Id: live_…``). The media then flows browser ⇄ OpenAI, and a sideband
(``realtime.live_sideband``) records the session until it ends. Stop is
``POST /api/live/hangup {"session_id": "live_…"}``, as Realtime's hangup.

The exchange and the session row are recorded as Realtime's are, with ``api`` live, the Live
model, and the session's id where a call's id goes (``call_id``).
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse

from realtime import upstream, upstream_live
from realtime.answers import NO_STORE
from realtime.conf import get_settings
from realtime.endpoints import Refusal, RelayAttempt, api_endpoint, json_object
from realtime.models import Api, ExchangeKind, Transport
from realtime.sidebands import watch_relayed_call
from realtime.upstream_live import LIVE_SESSION_ID, LiveSessionAnswer
from realtime.views import check_sdp_offer, hang_up_relayed


async def check_live_offered(attempt: RelayAttempt) -> Refusal:
    """Refuse every Live request while ``REALTIME_LIVE`` is off."""
    if not get_settings().live:
        return await attempt.refuse("live_not_offered")
    return None


async def _check_offer_headers(attempt: RelayAttempt) -> Refusal:
    return await check_live_offered(attempt) or await check_sdp_offer(attempt)


@api_endpoint(
    ExchangeKind.CALL, transport=Transport.WEBRTC, api=Api.LIVE, check_headers=_check_offer_headers
)
async def handshake(attempt: RelayAttempt) -> HttpResponse:
    """Create a Live session for the page's SDP offer; answer OpenAI's SDP answer, 201."""
    offer = attempt.body
    attempt.exchange.request_bytes = len(offer)
    if not offer.startswith(b"v="):
        return await attempt.refuse("invalid_sdp")
    if not get_settings().openai_api_key:
        return await attempt.refuse("server_not_configured")
    profile = await attempt.profile(attempt.request.GET.get("agent"))
    if isinstance(profile, JsonResponse):
        return profile
    answer = await create_session(
        attempt, profile.live_session_config(webrtc=True), offer.decode("utf-8", "replace")
    )
    if isinstance(answer, JsonResponse):
        return answer
    headers = {**NO_STORE, "X-Live-Session-Id": answer.session_id}
    sdp = HttpResponse(answer.sdp, status=201, content_type="application/sdp", headers=headers)
    return await answer_created(attempt, sdp)


async def create_session(
    attempt: RelayAttempt, session: dict, offer: str
) -> LiveSessionAnswer | JsonResponse:
    """Create the Live session upstream with the server key; its answer, noted on the
    exchange, or the answer to a failure (recorded)."""
    attempt.exchange.model = session.get("model") or attempt.exchange.model
    try:
        answer = await attempt.call_upstream(upstream_live.create_live_session(session, offer))
    except upstream.UpstreamError as error:
        return await attempt.fail(error, ephemeral=False)
    attempt.exchange.upstream_status = answer.status
    attempt.exchange.response_bytes = answer.response_bytes
    attempt.exchange.call_id = answer.session_id
    return answer


async def answer_created(attempt: RelayAttempt, response: HttpResponse) -> HttpResponse:
    """Record the created session's exchange (which starts its row), then watch it."""
    response = await attempt.finish(response)
    # After the exchange's row: the conversation's record hangs on its session.
    watch_relayed_call(attempt.request, attempt.exchange)
    return response


@api_endpoint(
    ExchangeKind.HANGUP, transport=Transport.WEBRTC, api=Api.LIVE, check_headers=check_live_offered
)
async def hangup(attempt: RelayAttempt) -> HttpResponse:
    """End a Live session the page started (Stop): hang up with OpenAI, end its row.

    The session id is the credential: only the page that started the session was given it.
    """
    payload = json_object(attempt.body)
    session_id = (payload or {}).get("session_id")
    if not isinstance(session_id, str) or not LIVE_SESSION_ID.fullmatch(session_id):
        return await attempt.refuse("invalid_session_id")
    return await hang_up_relayed(attempt, session_id, upstream_live.hang_up_live_session)

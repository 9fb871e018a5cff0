"""The sessions list's end_sessions action, in one process: who is offered it, and what it
does where no process answers for a session (tests/integration/test_many_processes.py has
two processes ending each other's sessions through Redis)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from realtime.models import ExchangeKind, RealtimeSession, Source, Transport, UpstreamExchange

# The action waits on the database from the server's event loop: committed rows.
pytestmark = pytest.mark.django_db(transaction=True)
SESSIONS = "admin:realtime_realtimesession_changelist"


def end(client, *sessions: RealtimeSession) -> list[str]:
    answer = client.post(
        reverse(SESSIONS),
        {"action": "end_sessions", "_selected_action": [session.pk for session in sessions]},
        follow=True,
    )
    assert answer.status_code == 200
    return [str(message) for message in answer.context["messages"]]


def live_call(call_id: str = "rtc_u1_0123456789abcdef") -> RealtimeSession:
    return RealtimeSession.objects.create(
        source=Source.WEB, transport=Transport.WEBRTC, call_id=call_id
    )


def offered_actions(client) -> list[str]:
    listing = client.get(reverse(SESSIONS))
    return [name for name, _ in listing.context["action_form"].fields["action"].choices]


def test_only_staff_allowed_to_end_sessions_are_offered_the_action(admin_client, client):
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_realtimesession"))
    client.force_login(viewer)

    assert "end_sessions" in offered_actions(admin_client)
    assert "end_sessions" not in offered_actions(client)
    assert "export_as_csv" in offered_actions(client)


def test_a_session_that_has_ended_is_left_as_it_is(admin_client):
    ended = RealtimeSession.objects.create(
        source=Source.WEBSOCKET_PROXY, transport=Transport.WEBSOCKET, end_reason="client_closed"
    )
    RealtimeSession.objects.filter(pk=ended.pk).update(ended_at=ended.started_at)

    assert end(admin_client, ended) == ["1 session had ended already."]
    ended.refresh_from_db()
    assert ended.end_reason == "client_closed"


def test_without_a_channel_layer_a_proxied_session_cannot_be_reached(admin_client):
    live = RealtimeSession.objects.create(
        source=Source.WEBSOCKET_PROXY, transport=Transport.WEBSOCKET
    )

    [message] = end(admin_client, live)

    assert "could not be ended: no channel layer is configured" in message
    live.refresh_from_db()
    assert live.ended_at is None


@pytest.mark.usefixtures("openai_emulator")
def test_a_call_no_sideband_watches_is_hung_up_by_the_admins_own_process(admin_client):
    call = live_call()

    [message] = end(admin_client, call)

    assert message.startswith("Hung up 1 call at OpenAI that no sideband watched")
    call.refresh_from_db()
    assert (call.end_reason, call.ended_at is not None) == ("ended_by_staff", True)
    hangup = UpstreamExchange.objects.get(kind=ExchangeKind.HANGUP)
    # The emulator has no such call: over already, which ends the session all the same.
    assert (hangup.source, hangup.call_id, hangup.upstream_status) == (
        "admin",
        call.call_id,
        404,
    )


def test_a_call_that_cannot_be_hung_up_stays_live_and_says_why(admin_client):
    call = live_call()

    [message] = end(admin_client, call)

    assert message.startswith("Could not hang up 1 call at OpenAI")
    call.refresh_from_db()
    assert call.ended_at is None
    hangup = UpstreamExchange.objects.get(kind=ExchangeKind.HANGUP)
    assert (hangup.outcome, hangup.error_code) == ("unreachable", "upstream_unreachable")

"""realtime.sideband_leases: one holder per call's lease, and where a taken-over record
resumes."""

from decimal import Decimal

import pytest
from django.utils import timezone

from realtime import sideband_leases as leases
from realtime.models import ConversationEntry, RealtimeSession, ResponseRecord, Source

CALL = "rtc_u1_0123456789abcdef"


async def test_of_two_processes_that_take_a_calls_lease_one_wins():
    assert await leases.take(CALL, "host:1:a") is True
    assert await leases.take(CALL, "host:2:b") is False
    assert await leases.held_by(CALL) == "host:1:a"


async def test_only_the_holder_renews_and_releases_its_lease():
    await leases.take(CALL, "host:1:a")

    assert await leases.renew(CALL, "host:2:b") is False
    await leases.release(CALL, "host:2:b")
    assert await leases.held_by(CALL) == "host:1:a"
    assert await leases.renew(CALL, "host:1:a") is True

    await leases.release(CALL, "host:1:a")
    assert await leases.held_by(CALL) is None
    assert await leases.take(CALL, "host:2:b") is True


async def test_a_lapsed_lease_is_taken_again_by_its_holders_renewal():
    assert await leases.renew(CALL, "host:1:a") is True  # lapsed: nobody else took it
    assert await leases.held_by(CALL) == "host:1:a"


@pytest.mark.django_db
def test_a_taken_over_record_resumes_from_the_totals_and_items_written_so_far():
    session = RealtimeSession.objects.create(source=Source.WEB, transport="webrtc", call_id=CALL)
    now = timezone.now()
    for item_id, kind in (("item_1", "user_text"), ("item_2", "user_speech"), ("", "sideband")):
        ConversationEntry.objects.create(session=session, at=now, kind=kind, item_id=item_id)
    for cost in (Decimal("0.0100"), Decimal("0.0025")):
        ResponseRecord.objects.create(
            session=session,
            created_at=now,
            input_text_tokens=10,
            input_audio_tokens=5,
            output_audio_tokens=20,
            cost_usd=cost,
        )

    totals, items = leases.recorded_so_far.__wrapped__(session.pk)

    assert (totals.turns, totals.responses, totals.cost_usd) == (2, 2, Decimal("0.0125"))
    assert (totals.usage.input_tokens, totals.usage.output_tokens) == (30, 40)
    assert items == {"item_1", "item_2"}

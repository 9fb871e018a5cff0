"""realtime.ratelimit: a fixed window per client in Django's cache, and open-session slots."""

import asyncio
import time

import pytest

from realtime import ratelimit

# Windows are aligned to the clock; a day-long one is never crossed during a test.
DAY = 86_400


async def test_requests_up_to_the_limit_are_allowed():
    verdicts = [await ratelimit.hit("ip:10.0.0.1", limit=3, window=DAY) for _ in range(3)]

    assert all(verdict.allowed for verdict in verdicts)


async def test_the_request_past_the_limit_is_refused_until_the_window_ends():
    for _ in range(2):
        await ratelimit.hit("ip:10.0.0.1", limit=2, window=DAY)

    verdict = await ratelimit.hit("ip:10.0.0.1", limit=2, window=DAY)

    assert not verdict.allowed
    seconds_left_in_window = DAY - int(time.time()) % DAY
    assert 1 <= verdict.retry_after <= seconds_left_in_window + 1


async def test_each_client_has_its_own_count():
    await ratelimit.hit("ip:10.0.0.1", limit=1, window=DAY)

    assert (await ratelimit.hit("ip:10.0.0.2", limit=1, window=DAY)).allowed
    assert (await ratelimit.hit("user:7", limit=1, window=DAY)).allowed
    assert not (await ratelimit.hit("ip:10.0.0.1", limit=1, window=DAY)).allowed


async def test_a_limit_of_zero_turns_limiting_off():
    verdicts = [await ratelimit.hit("ip:10.0.0.1", limit=0, window=1) for _ in range(50)]

    assert all(verdict.allowed for verdict in verdicts)


async def test_a_new_window_starts_a_new_count():
    if time.time() % 1 > 0.5:  # start early in a one-second window
        await asyncio.sleep(1.01 - time.time() % 1)
    await ratelimit.hit("ip:10.0.0.1", limit=1, window=1)
    assert not (await ratelimit.hit("ip:10.0.0.1", limit=1, window=1)).allowed

    await asyncio.sleep(1.05 - time.time() % 1)  # into the next one-second window

    assert (await ratelimit.hit("ip:10.0.0.1", limit=1, window=1)).allowed


async def test_open_session_slots_are_counted_up_to_the_limit_and_given_back():
    assert await ratelimit.take_slot("user:7", limit=2, lifetime=60)
    assert await ratelimit.take_slot("user:7", limit=2, lifetime=60)
    refused = not await ratelimit.take_slot("user:7", limit=2, lifetime=60)
    await ratelimit.release_slot("user:7")

    assert refused
    assert await ratelimit.take_slot("user:7", limit=2, lifetime=60)


async def test_a_slot_counted_but_not_handed_out_is_given_back(monkeypatch):
    async def cache_fails(*args, **kwargs):
        raise ConnectionError("the cache is gone")

    monkeypatch.setattr(ratelimit.cache, "atouch", cache_fails)

    with pytest.raises(ConnectionError):
        await ratelimit.take_slot("user:8", limit=1, lifetime=60)

    assert await ratelimit.cache.aget(f"{ratelimit.SLOTS_PREFIX}:user:8") == 0

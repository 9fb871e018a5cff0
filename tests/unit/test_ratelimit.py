"""realtime.ratelimit: a fixed window per client in Django's cache, and open-session slots."""

import asyncio
import time

import pytest
from django.core.cache import cache

from realtime import cache_ops, ratelimit

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

    monkeypatch.setattr(cache_ops, "touch", cache_fails)

    with pytest.raises(ConnectionError):
        await ratelimit.take_slot("user:8", limit=1, lifetime=60)

    assert await cache_ops.get(f"{ratelimit.SLOTS_PREFIX}:user:8") == 0


@pytest.fixture(params=["local memory", "redis"])
def counting_cache(request, settings) -> str:
    """The default cache as each deployment has it: this process's memory, or a Redis that
    every process shares."""
    if request.param == "redis":
        redis = request.getfixturevalue("redis_server")
        redis.flush()
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis.url,
            }
        }
    return request.param


async def test_requests_at_once_are_refused_past_the_limit(counting_cache):
    verdicts = await asyncio.gather(
        *(ratelimit.hit("ip:10.0.0.9", limit=10, window=DAY) for _ in range(100))
    )

    assert sum(verdict.allowed for verdict in verdicts) == 10


async def test_sessions_opened_and_closed_at_once_are_each_counted(counting_cache):
    key = f"{ratelimit.SLOTS_PREFIX}:user:9"
    opened = await asyncio.gather(
        *(ratelimit.take_slot("user:9", limit=1000, lifetime=60) for _ in range(50))
    )
    open_count = await cache_ops.get(key)
    await asyncio.gather(*(ratelimit.release_slot("user:9") for _ in range(50)))

    assert all(opened)
    assert open_count == 50
    assert await cache_ops.get(key) == 0


async def test_a_count_an_increment_made_anew_still_expires():
    # What Redis's incr leaves when the key expires between its check and its increment.
    key = f"{ratelimit.KEY_PREFIX}:ip:10.0.0.10:1:0"
    await asyncio.to_thread(cache.set, key, 0, None)  # no expiry

    assert await ratelimit._increment(key, expires_in=1) == 1
    await asyncio.sleep(1.2)

    assert await cache_ops.get(key) is None

"""Reading the diagnostics rows a request under test left behind."""

from realtime.models import UpstreamExchange


async def only_exchange() -> UpstreamExchange:
    """The one exchange the request under test must have left."""
    rows = [row async for row in UpstreamExchange.objects.select_related("session")]
    assert len(rows) == 1, f"expected one exchange row, found {len(rows)}"
    return rows[0]

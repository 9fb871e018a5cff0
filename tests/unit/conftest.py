import pytest
from django.test import AsyncClient

from realtime.models import UpstreamExchange


@pytest.fixture
def browser() -> AsyncClient:
    """A client that, like a browser, must prove CSRF for cookie-authenticated posts."""
    return AsyncClient(enforce_csrf_checks=True)


@pytest.fixture
async def csrf_token(browser: AsyncClient) -> str:
    """Load the page as a browser would, which sets the CSRF cookie."""
    response = await browser.get("/")
    assert response.status_code == 200
    return response.cookies["csrftoken"].value


async def only_exchange() -> UpstreamExchange:
    """The one exchange the request under test must have left."""
    rows = [row async for row in UpstreamExchange.objects.select_related("session")]
    assert len(rows) == 1, f"expected one exchange row, found {len(rows)}"
    return rows[0]

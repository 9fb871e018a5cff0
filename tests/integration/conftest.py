"""Integration tests: a Django test client that must prove CSRF as a browser does."""

import pytest
from django.test import AsyncClient


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

"""The client address an API request is recorded and rate limited by."""

import pytest
from django.test import RequestFactory

from realtime.endpoints import client_ip


@pytest.mark.parametrize(
    ("remote_addr", "recorded"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),  # a zone is no part of the address
        ("fe80::1%" + "x" * 60, "fe80::1"),
        ("unknown", None),  # what a proxy may put in X-Forwarded-For
        ("", None),
    ],
)
def test_the_client_ip_is_a_plain_address_or_none(remote_addr, recorded):
    request = RequestFactory().post("/", REMOTE_ADDR=remote_addr)

    assert client_ip(request) == recorded

"""realtime.tokens: proxy tokens are signed, expire, name their user and fit a subprotocol."""

import base64
import json
import re
import time

import pytest

from realtime import tokens

# RFC 7230 token characters: what a browser accepts in a WebSocket subprotocol.
SUBPROTOCOL_SAFE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def test_a_token_verifies_and_names_its_user():
    token = tokens.issue(42, ttl=60)

    verified = tokens.verify(token.value)

    assert verified.user_id == 42
    assert verified.expires_at == token.expires_at
    assert token.expires_at - time.time() == pytest.approx(60, abs=2)


def test_an_anonymous_token_verifies_without_a_user():
    assert tokens.verify(tokens.issue(None, ttl=60).value).user_id is None


def test_a_token_fits_in_a_websocket_subprotocol():
    value = tokens.issue(7, ttl=600).value

    assert value.startswith("rtp_")
    assert SUBPROTOCOL_SAFE.match(f"openai-insecure-api-key.{value}")


def test_an_expired_token_is_refused_as_expired():
    token = tokens.issue(None, ttl=-1)

    with pytest.raises(tokens.InvalidProxyToken) as refused:
        tokens.verify(token.value)

    assert refused.value.code == "proxy_token_expired"


def test_a_token_with_a_changed_claim_is_refused():
    payload, signature = tokens.issue(1, ttl=60).value.removeprefix("rtp_").rsplit(".", 1)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["u"] = 2
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = f"rtp_{forged_payload}.{signature}"

    with pytest.raises(tokens.InvalidProxyToken) as refused:
        tokens.verify(forged)

    assert refused.value.code == "invalid_proxy_token"


def test_a_token_signed_with_another_secret_key_is_refused(settings):
    value = tokens.issue(1, ttl=60).value
    settings.SECRET_KEY = "another-secret-key-entirely-" + "y" * 30

    with pytest.raises(tokens.InvalidProxyToken, match="altered"):
        tokens.verify(value)


@pytest.mark.parametrize("value", ["", "rtp_", "rtp_abc", "sk-something", "rtp_a.b.c"])
def test_anything_else_is_refused(value):
    with pytest.raises(tokens.InvalidProxyToken) as refused:
        tokens.verify(value)

    assert refused.value.code == "invalid_proxy_token"

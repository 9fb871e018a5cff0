"""realtime.middleware: what Django would answer for the API views itself is answered and
recorded as the views do, and the API's bodies stop one byte past their limit before
Django buffers them; both find the API by resolving the path, under any prefix."""

import pytest
from django.http import HttpResponseBadRequest
from django.test import AsyncClient

from realtime import upstream
from realtime.checks import API_MIDDLEWARE
from realtime.conf import MAX_BODY_BYTES
from realtime.middleware import ApiBodyLimit
from realtime.models import UpstreamExchange
from tests.conftest import SERVER_KEY
from tests.support.records import only_exchange

pytestmark = pytest.mark.django_db(transaction=True)
HANDSHAKE = "/api/realtime/handshake"
OFFER = b"v=0\r\n"


def refuse_in_html(get_response):
    """A project's middleware that answers on its own, as Django's do, in HTML."""

    def middleware(request):
        return HttpResponseBadRequest("<h1>Bad Request (400)</h1>")

    return middleware


async def post_offer(path=HANDSHAKE, **options):
    client = AsyncClient(raise_request_exception=False)
    return await client.post(path, data=OFFER, content_type="application/sdp", **options)


# --- ApiErrorsMiddleware ----------------------------------------------------------------


async def test_a_host_outside_allowed_hosts_is_refused_in_json_and_recorded(settings):
    # CommonMiddleware is the one that would refuse it first, in HTML.
    settings.MIDDLEWARE = [API_MIDDLEWARE, "django.middleware.common.CommonMiddleware"]

    response = await post_offer(headers={"Host": "evil.example"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "invalid_host"
    row = await only_exchange()
    assert (row.kind, row.outcome, row.error_code, row.http_status) == (
        "call",
        "rejected",
        "invalid_host",
        400,
    )


async def test_the_api_is_found_under_the_prefix_a_project_mounts_it_at(settings):
    settings.ROOT_URLCONF = "tests.otherproject.urls"  # the app under /voice/

    response = await post_offer("/voice/api/realtime/handshake", headers={"Host": "evil.example"})

    assert response.json()["error"]["code"] == "invalid_host"
    assert (await only_exchange()).kind == "call"


async def test_other_paths_keep_djangos_own_answer_and_leave_no_row(settings):
    settings.MIDDLEWARE = [API_MIDDLEWARE, "django.middleware.common.CommonMiddleware"]
    client = AsyncClient(raise_request_exception=False)

    response = await client.get("/", headers={"Host": "evil.example"})

    assert response.status_code == 400
    assert "application/json" not in response["Content-Type"]
    assert not await UpstreamExchange.objects.aexists()


async def test_a_view_that_fails_answers_internal_error_in_json_even_in_debug(
    settings, monkeypatch, caplog
):
    settings.DEBUG = True  # where Django's error page would show every frame's locals

    async def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(upstream, "create_call", broken)

    response = await post_offer()

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert SERVER_KEY not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    row = await only_exchange()
    assert (row.error_code, row.http_status, row.request_bytes) == ("internal_error", 500, 5)
    [logged] = [record for record in caplog.records if record.name == "django.request"]
    assert logged.exc_info is not None  # once, with the traceback


async def test_a_refusal_by_another_middleware_is_answered_in_json_and_recorded(settings):
    settings.MIDDLEWARE = [API_MIDDLEWARE, f"{__name__}.refuse_in_html"]

    response = await post_offer()

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert (await only_exchange()).error_code == "bad_request"


async def test_a_redirect_django_answers_is_kept_and_recorded(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.MIDDLEWARE = [API_MIDDLEWARE, "django.middleware.security.SecurityMiddleware"]

    response = await post_offer()

    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{HANDSHAKE}"
    assert (await only_exchange()).http_status == 301


# --- ApiBodyLimit -----------------------------------------------------------------------


async def pass_through_the_limit(path, chunks, root_path=""):
    """What an app behind ApiBodyLimit receives of a body sent in ``chunks``, followed by
    what it hears next (as Django listens for the disconnect once the body has ended)."""
    sent = iter(
        [
            *(
                {"type": "http.request", "body": chunk, "more_body": number < len(chunks) - 1}
                for number, chunk in enumerate(chunks)
            ),
            {"type": "http.disconnect"},
        ]
    )
    received = []

    async def receive():
        return next(sent)

    async def app(scope, receive, send):
        while True:
            received.append(await receive())
            if not received[-1].get("more_body"):
                break
        received.append(await receive())

    scope = {"type": "http", "path": path, "root_path": root_path}
    await ApiBodyLimit(app)(scope, receive, None)
    return received


def body_of(messages) -> bytes:
    return b"".join(message.get("body", b"") for message in messages)


async def test_an_api_body_ends_one_byte_past_the_limit_and_the_rest_is_dropped():
    received = await pass_through_the_limit(HANDSHAKE, [b"x" * 16384] * 8)

    assert len(body_of(received)) == MAX_BODY_BYTES + 1
    assert received[-2]["more_body"] is False
    assert received[-1] == {"type": "http.disconnect"}


async def test_an_api_body_within_the_limit_passes_whole():
    received = await pass_through_the_limit(HANDSHAKE, [b"v=0\r\n", b"o=- 1 1 IN IP4 0.0.0.0\r\n"])

    assert body_of(received) == b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"
    assert received[-1] == {"type": "http.disconnect"}


async def test_other_paths_pass_their_bodies_untouched():
    received = await pass_through_the_limit("/admin/login/", [b"x" * 65536] * 3)

    assert len(body_of(received)) == 3 * 65536


@pytest.mark.parametrize(
    ("urlconf", "path", "root_path"),
    [
        ("tests.app_urls", "/mount/api/realtime/hangup", "/mount"),
        ("tests.otherproject.urls", "/voice/api/realtime/client-secret", ""),
    ],
)
async def test_the_limit_finds_the_api_under_any_prefix(settings, urlconf, path, root_path):
    settings.ROOT_URLCONF = urlconf

    received = await pass_through_the_limit(path, [b"x" * 65536] * 3, root_path=root_path)

    assert len(body_of(received)) == MAX_BODY_BYTES + 1

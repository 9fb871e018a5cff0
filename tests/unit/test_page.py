"""GET /: the voice chat page and its module."""

import json
import shutil
import subprocess

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def page_config(response) -> dict:
    return response.context["page_config"]


def test_the_page_renders_with_its_config_and_a_csrf_cookie(client):
    response = client.get("/")

    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    page = response.content.decode()
    assert 'id="realtime-config"' in page
    assert 'type="module"' in page
    assert "realtime/voice_chat.js" in page
    assert 'id="start"' in page


def test_the_page_config_names_the_endpoints_and_choices(client, settings):
    settings.REALTIME_WEBRTC_FLOW = "ephemeral"
    settings.REALTIME_DEBUG = True

    config = page_config(client.get("/"))

    assert config["handshakePath"] == "/api/realtime/handshake"
    assert config["clientSecretPath"] == "/api/realtime/client-secret"
    assert (config["webrtcFlow"], config["debug"], config["transport"]) == (
        "ephemeral",
        True,
        "webrtc",
    )
    assert "mic_blocked" in config["hints"]


def test_the_page_never_contains_the_server_key(client, settings):
    page = client.get("/").content.decode()

    assert settings.OPENAI_API_KEY not in page


def test_the_page_config_is_embedded_as_json(client):
    page = client.get("/").content.decode()
    start = page.index('id="realtime-config" type="application/json">') + len(
        'id="realtime-config" type="application/json">'
    )
    config = json.loads(page[start : page.index("</script>", start)])

    assert config["handshakePath"] == "/api/realtime/handshake"


def test_the_module_exists_and_is_valid_javascript():
    path = finders.find("realtime/voice_chat.js")
    assert path is not None
    node = shutil.which("node")
    assert node, "node is needed to check the page's modules"

    result = subprocess.run([node, "--check", path], capture_output=True, text=True, timeout=30)

    assert result.returncode == 0, result.stderr

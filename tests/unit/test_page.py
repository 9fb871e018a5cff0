"""GET /: the voice chat page and its module."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from realtime.agent_models import Agent

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
    assert "realtime/app.js" in page
    for control in ('id="start"', 'id="stop"', 'id="mute"', 'name="transport"', 'id="transcript"'):
        assert control in page


def test_the_page_config_names_the_endpoints_and_choices(client, settings):
    settings.REALTIME_WEBRTC_FLOW = "ephemeral"
    settings.REALTIME_DEBUG = True

    config = page_config(client.get("/"))

    assert config["handshakePath"] == "/api/realtime/handshake"
    assert config["clientSecretPath"] == "/api/realtime/client-secret"
    assert config["hangupPath"] == "/api/realtime/hangup"
    assert config["websocketPath"] == "/ws/realtime/"
    assert (config["webrtcFlow"], config["debug"], config["transport"]) == (
        "ephemeral",
        True,
        "webrtc",
    )
    assert "mic_blocked" in config["hints"]


def test_the_page_config_names_live_endpoints_model_and_price_when_live_is_offered(client):
    config = page_config(client.get("/"))

    assert config["api"] == "realtime"  # the default agent starts on the Realtime API
    assert config["live"] == {
        "handshakePath": "/api/live/handshake",
        "hangupPath": "/api/live/hangup",
        "websocketPath": "/ws/live/",
        "webrtcFlow": "unified",
        "model": "gpt-live-1.1",
        "price": {"per_minute": 0.05, "standby_per_minute": 0.02},
    }


def test_an_agent_that_starts_on_live_makes_live_the_default_choice(client):
    Agent.objects.create(
        name="Concierge", slug="concierge", instructions="x", api="live", live_model="gpt-live-1"
    )

    response = client.get("/agents/concierge/")

    config = page_config(response)
    assert config["api"] == "live"
    assert config["live"]["handshakePath"] == "/api/live/handshake?agent=concierge"
    assert config["live"]["websocketPath"] == "/ws/live/?agent=concierge"
    assert config["live"]["model"] == "gpt-live-1"
    assert config["live"]["price"] == {"per_minute": 0.05, "standby_per_minute": 0.05}
    assert '<code id="model">gpt-live-1</code>' in response.content.decode()


def test_the_api_choice_is_offered_only_when_the_server_offers_live(client, settings):
    offered = client.get("/").content.decode()
    settings.REALTIME_LIVE = False

    response = client.get("/")

    assert 'name="api" value="live"' in offered
    assert 'name="api"' not in response.content.decode()
    assert (page_config(response)["live"], page_config(response)["api"]) == (None, "realtime")


def test_without_live_an_agent_that_starts_on_live_starts_on_realtime(client, settings):
    settings.REALTIME_LIVE = False
    Agent.objects.create(name="Concierge", slug="concierge", instructions="x", api="live")

    config = page_config(client.get("/agents/concierge/"))

    assert (config["api"], config["live"]) == ("realtime", None)


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


@pytest.mark.parametrize(
    "module",
    [
        "realtime/app.js",
        "realtime/audio.js",
        "realtime/choices.js",
        "realtime/live.js",
        "realtime/summary.js",
        "realtime/problems.js",
        "realtime/transcript.js",
        "realtime/webrtc.js",
        "realtime/websocket.js",
        "realtime/worklets/capture.js",
        "realtime/worklets/playback.js",
    ],
)
def test_every_module_exists_and_is_valid_javascript(module):
    path = finders.find(module)
    assert path is not None
    node = shutil.which("node")
    assert node, "node is needed to check the page's modules"

    result = subprocess.run([node, "--check", path], capture_output=True, text=True, timeout=30)

    assert result.returncode == 0, result.stderr


def test_the_page_has_no_inline_script_so_a_strict_csp_can_apply(client):
    page = client.get("/").content.decode()

    scripts = page.count("<script")
    assert scripts == 2  # the JSON config (data, not code) and the module
    assert '<script type="module" src=' in page
    assert " on" + "click=" not in page


def test_the_page_never_uses_script_processor_node():
    for module in (
        "realtime/app.js",
        "realtime/websocket.js",
        "realtime/webrtc.js",
        "realtime/live.js",
    ):
        assert "ScriptProcessor" not in Path(finders.find(module)).read_text()


def test_the_app_ships_its_own_frame_and_styles_for_the_page(client):
    page = client.get("/").content.decode()

    assert page.startswith("<!doctype html>")
    assert '<div class="voice-chat">' in page
    assert "realtime/voice_chat.css" in page
    assert finders.find("realtime/voice_chat.css")
    assert "site-header" not in page  # the project's frame is not the app's

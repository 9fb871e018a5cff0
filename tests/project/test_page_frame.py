"""voiceproject frames the app's voice chat page in its own layout (templates/realtime/base.html
overrides the app's)."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_project_frames_the_voice_chat_page_in_its_own_layout(client):
    page = client.get("/").content.decode()

    assert '<header class="site-header">' in page
    assert "css/site.css" in page
    assert '<div class="voice-chat">' in page
    assert "realtime/voice_chat.css" in page

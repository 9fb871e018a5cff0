"""Secure by default: with DEBUG off the project passes Django's deployment checks and
answers with the secure headers, needing only SECRET_KEY and ALLOWED_HOSTS."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

PROJECT = Path(__file__).resolve().parents[2]


def test_check_deploy_passes_with_only_debug_off_a_secret_key_and_allowed_hosts():
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILES": "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "voice.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_pages_carry_the_secure_headers(client):
    page = client.get("/", secure=True)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert page["X-Frame-Options"] == "DENY"
    assert page["Referrer-Policy"] == "same-origin"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert "Secure" in str(page.cookies["csrftoken"])
    assert page["Permissions-Policy"] == (
        "camera=(), display-capture=(), geolocation=(), microphone=(self), payment=(), usb=()"
    )


# Committed rows and connections of their own: the view's database check runs as a server's
# does, not inside the test's transaction.
@pytest.mark.django_db(transaction=True)
@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_is_sent_to_https_except_the_health_check(client):
    page = client.get("/")
    assert page.status_code == 301
    assert page["Location"] == "https://testserver/"
    assert client.get("/healthz").status_code == 200

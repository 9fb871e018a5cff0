"""manage.py mint_secret: print a secret, or fail with OpenAI's message, our hint and exit 1."""

import io
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from realtime import retirements, tokens
from realtime.emulator.errors import ApiError
from realtime.keys import fingerprint
from realtime.models import UpstreamExchange

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("openai_emulator")]
UNKNOWN_MODEL = ApiError(
    "Unknown parameter: 'model'.", code="unknown_parameter", param="model"
).body()
PROJECT = Path(__file__).resolve().parents[2]


def mint_secret(*args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("mint_secret", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_prints_the_secret_and_its_expiry_in_human_form():
    stdout, _ = mint_secret()

    value, expiry = stdout.splitlines()
    assert value.startswith("ek_")
    assert expiry.startswith("expires ")
    assert "UTC (in 10 min)" in expiry
    assert expiry.endswith("model gpt-realtime-2.1")


def test_json_prints_value_expiry_model_and_session():
    stdout, _ = mint_secret("--json")

    answer = json.loads(stdout)
    assert answer["value"].startswith("ek_")
    assert answer["expires_at"] > time.time()
    assert answer["model"] == "gpt-realtime-2.1"
    assert answer["session"]["type"] == "realtime"


def test_options_shape_the_minted_session(emulator):
    mint_secret(
        "--model",
        "gpt-realtime-2.1",
        "--voice",
        "cedar",
        "--instructions",
        "Answer in French.",
        "--ttl",
        "120",
    )

    body = emulator.requests("/v1/realtime/client_secrets")[-1]["body"]
    assert body["expires_after"]["seconds"] == 120
    assert body["session"]["model"] == "gpt-realtime-2.1"
    assert body["session"]["audio"]["output"]["voice"] == "cedar"
    assert body["session"]["instructions"] == "Answer in French."


def test_records_a_cli_exchange_with_the_fingerprint():
    stdout, _ = mint_secret()

    row = UpstreamExchange.objects.get()
    assert (row.source, row.kind, row.outcome, row.upstream_status) == (
        "cli",
        "client_secret",
        "ok",
        200,
    )
    assert row.secret_fingerprint == fingerprint(stdout.splitlines()[0])
    assert row.session.source == "cli"


def test_warns_on_stderr_before_minting_for_a_model_with_an_announced_shutdown(
    settings, monkeypatch, emulator
):
    settings.REALTIME_MODEL = "gpt-realtime"
    monkeypatch.setattr(retirements, "utc_today", lambda: date(2026, 12, 2))

    stdout, stderr = mint_secret()

    assert stderr == (
        "warning: REALTIME_MODEL: OpenAI shuts gpt-realtime down on 2027-01-20; "
        "use gpt-realtime-2.1 before then.\n"
    )
    assert stdout.startswith("ek_")
    assert emulator.requests("/v1/realtime/client_secrets")[-1]["body"]["session"]["model"] == (
        "gpt-realtime"
    )


def test_warns_about_a_shut_down_model_chosen_with_model_and_the_transcription_model(
    settings, monkeypatch
):
    settings.REALTIME_TRANSCRIPTION_MODEL = "whisper-1"
    monkeypatch.setattr(retirements, "utc_today", lambda: date(2027, 3, 1))

    _, stderr = mint_secret("--model", "gpt-4o-realtime-preview")

    assert stderr.splitlines() == [
        "warning: --model: OpenAI shut gpt-4o-realtime-preview down on 2026-05-07; "
        "use gpt-realtime-1.5 instead.",
        "warning: REALTIME_TRANSCRIPTION_MODEL: OpenAI shut whisper-1 down on 2027-02-26; "
        "use gpt-transcribe instead.",
    ]


def test_from_a_shell_the_system_check_names_a_retiring_setting_once(settings, monkeypatch):
    settings.REALTIME_MODEL = "gpt-realtime"
    monkeypatch.setattr(retirements, "utc_today", lambda: date(2026, 12, 2))
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("mint_secret", skip_checks=False, stdout=stdout, stderr=stderr)

    assert stderr.getvalue().count("OpenAI shuts gpt-realtime down on 2027-01-20") == 1
    assert "(realtime.W002) REALTIME_MODEL:" in stderr.getvalue()
    assert stdout.getvalue().startswith("ek_")


def test_current_models_mint_without_a_warning():
    _, stderr = mint_secret()

    assert stderr == ""


def test_a_ttl_out_of_range_is_refused_before_any_request(emulator):
    with pytest.raises(CommandError, match=r"--ttl must be 10\.\.7200"):
        mint_secret("--ttl", "5")

    assert emulator.requests() == []


def test_a_gpt_live_model_is_refused_before_any_request_with_the_proxy_named(emulator):
    with pytest.raises(CommandError, match=r"GPT-Live has no client secrets.*--proxy"):
        mint_secret("--model", "gpt-live-1.1")

    assert emulator.requests() == []


def test_missing_key_exits_1_with_a_hint_and_leaves_a_row(settings, emulator):
    settings.OPENAI_API_KEY = ""

    with pytest.raises(CommandError) as raised:
        mint_secret()

    assert raised.value.returncode == 1
    assert "no OpenAI API key" in str(raised.value)
    assert "hint: Set OPENAI_API_KEY" in str(raised.value)
    assert emulator.requests() == []
    row = UpstreamExchange.objects.get()
    assert (row.source, row.outcome, row.error_code) == ("cli", "rejected", "server_not_configured")


def test_upstream_unknown_parameter_exits_1_with_its_message_and_our_hint(emulator):
    emulator.fault("client_secrets", status=400, body=UNKNOWN_MODEL)

    with pytest.raises(CommandError) as raised:
        mint_secret()

    message = str(raised.value)
    assert raised.value.returncode == 1
    assert "OpenAI answered 400: Unknown parameter: 'model'." in message
    assert "hint: 'model' was sent at the top level" in message
    row = UpstreamExchange.objects.get()
    assert (row.source, row.outcome, row.upstream_status, row.error_code) == (
        "cli",
        "upstream_error",
        400,
        "unknown_parameter",
    )


def test_upstream_down_exits_1_and_records_unreachable(settings, unused_tcp_port):
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{unused_tcp_port}/v1"

    with pytest.raises(CommandError) as raised:
        mint_secret()

    assert raised.value.returncode == 1
    assert "OpenAI could not be reached" in str(raised.value)
    assert "hint: Check the server's network and OPENAI_BASE_URL" in str(raised.value)
    row = UpstreamExchange.objects.get()
    assert (row.source, row.outcome, row.error_code) == (
        "cli",
        "unreachable",
        "upstream_unreachable",
    )


def test_from_a_shell_an_upstream_error_goes_to_stderr_with_exit_status_1(emulator, tmp_path):
    emulator.fault("client_secrets", status=400, body=UNKNOWN_MODEL)
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILES": "",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "OPENAI_API_KEY": "sk-test-server-key",
        "OPENAI_BASE_URL": emulator.base_url,
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert manage("migrate", "--noinput").returncode == 0
    result = manage("mint_secret")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "OpenAI answered 400: Unknown parameter: 'model'." in result.stderr
    assert "hint: 'model' was sent at the top level" in result.stderr
    assert "Traceback" not in result.stderr


def test_proxy_prints_a_token_for_the_websocket_proxy_without_asking_openai(emulator):
    stdout, _ = mint_secret("--proxy")

    value, expiry = stdout.splitlines()
    assert tokens.verify(value).user_id is None
    assert "proxy token for an anonymous user" in expiry
    assert "/v1/realtime" in expiry
    assert emulator.requests("/v1/realtime/client_secrets") == []
    row = UpstreamExchange.objects.get()
    assert (row.source, row.transport, row.outcome) == ("cli", "websocket", "ok")
    assert row.secret_fingerprint == fingerprint(value)


def test_proxy_binds_the_token_to_a_user_and_honours_ttl_and_json(django_user_model):
    user = django_user_model.objects.create_user("ada", password="correct horse")

    stdout, _ = mint_secret("--proxy", "--user", "ada", "--ttl", "60", "--json")

    answer = json.loads(stdout)
    assert tokens.verify(answer["value"]).user_id == user.pk
    assert answer["expires_at"] == pytest.approx(time.time() + 60, abs=5)
    assert answer["transport"] == "websocket"


def test_proxy_for_an_unknown_user_exits_1():
    with pytest.raises(CommandError, match="no active user named 'nobody'") as failed:
        mint_secret("--proxy", "--user", "nobody")

    assert failed.value.returncode == 1


def test_user_without_proxy_is_refused():
    with pytest.raises(CommandError, match="--user only applies to --proxy"):
        mint_secret("--user", "ada")


def test_with_the_emulator_on_it_mints_from_its_own_and_says_the_secret_works_nowhere_else(
    settings,
):
    settings.REALTIME_EMULATOR = True

    stdout, stderr = mint_secret()

    assert stdout.startswith("ek_")
    assert "this command's own offline emulator mints the secret" in stderr
    assert UpstreamExchange.objects.get().outcome == "ok"

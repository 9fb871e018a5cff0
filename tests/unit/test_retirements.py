"""Retiring models: the table follows the openai package, and the checks name date and
replacement, warning before the shutdown and reporting an error from it on."""

import re
from datetime import date
from pathlib import Path

import openai.types.live
import openai.types.realtime
import pytest
from django.core import checks

from realtime import retirements
from realtime.checks import check_retiring_models
from realtime.conf import RealtimeSettings
from realtime.pricing import LIVE_PRICES
from realtime.retirements import RETIREMENTS, Retirement, notice_for

# Where the package notes shutdowns: the Realtime session and transcription models, and
# GPT-Live's (none yet).
NOTED_TYPES = [Path(openai.types.realtime.__file__).parent, Path(openai.types.live.__file__).parent]
ANNOUNCED = re.compile(r"Announced shutdown date:\s*(\d{4}-\d{2}-\d{2})")
BEFORE = date(2026, 12, 2)
SHUTDOWN = date(2027, 1, 20)  # gpt-realtime's


def announced_shutdowns() -> dict[str, date]:
    """Every model in the installed package's "Deprecated values" notes, with its date."""
    found: dict[str, date] = {}
    for source in sorted(source for types in NOTED_TYPES for source in types.glob("*.py")):
        for notes in re.findall(r"Deprecated values:(.*?)\"\"\"", source.read_text(), re.S):
            for item in re.split(r"\n\s*- ", notes)[1:]:
                announced = ANNOUNCED.search(item)
                assert announced, f"{source.name}: a deprecated value without a date: {item}"
                models = re.findall(r'"([^"]+)"', item[: announced.start()])
                assert models, f"{source.name}: a shutdown date without models: {item}"
                for model in models:
                    found[model] = date.fromisoformat(announced.group(1))
    return found


def test_the_table_has_every_model_the_openai_package_announces_a_shutdown_for():
    announced = announced_shutdowns()
    table = {row.model: row.shutdown for row in RETIREMENTS}

    assert "gpt-realtime" in announced  # the notes were found and read
    assert {model: day for model, day in announced.items() if table.get(model) != day} == {}


def test_each_model_is_in_the_table_once():
    models = [row.model for row in RETIREMENTS]

    assert len(models) == len(set(models))


def test_a_retiring_model_names_its_shutdown_date_and_replacement():
    notice = notice_for("gpt-realtime", BEFORE)

    assert (notice.shutdown, notice.replacement, notice.shut_down) == (
        SHUTDOWN,
        "gpt-realtime-2.1",
        False,
    )
    assert str(notice) == (
        "OpenAI shuts gpt-realtime down on 2027-01-20; use gpt-realtime-2.1 before then."
    )


def test_a_model_is_shut_down_from_its_shutdown_date_on():
    assert not notice_for("gpt-realtime", date(2027, 1, 19)).shut_down
    assert notice_for("gpt-realtime", SHUTDOWN).shut_down
    assert str(notice_for("gpt-realtime", SHUTDOWN)) == (
        "OpenAI shut gpt-realtime down on 2027-01-20; use gpt-realtime-2.1 instead."
    )


def test_a_replacement_that_retires_too_is_followed_to_one_that_does_not():
    # The deprecations page sent gpt-4o-mini-realtime-preview to gpt-realtime-mini, which
    # itself shuts down on 2027-01-20.
    assert notice_for("gpt-4o-mini-realtime-preview", BEFORE).replacement == (
        "gpt-realtime-2.1-mini"
    )


def test_every_recommended_replacement_has_no_announced_shutdown():
    for row in RETIREMENTS:
        assert notice_for(notice_for(row.model, BEFORE).replacement, BEFORE) is None, row


@pytest.mark.parametrize(
    "model", ["gpt-realtime-2.1", "gpt-realtime-2.1-mini", "gpt-realtime-2", "gpt-transcribe"]
)
def test_current_models_have_no_notice(model):
    assert notice_for(model, BEFORE) is None


def test_the_default_models_have_no_announced_shutdown():
    defaults = RealtimeSettings()

    assert notice_for(defaults.model) is None
    assert notice_for(defaults.live_model) is None
    assert notice_for(defaults.transcription_model) is None


@pytest.mark.parametrize("model", sorted(LIVE_PRICES))
def test_no_live_model_has_an_announced_shutdown(model):
    assert notice_for(model, BEFORE) is None


# --- the system checks -------------------------------------------------------------------------


def test_check_warns_about_a_model_with_an_announced_shutdown(settings):
    settings.REALTIME_MODEL = "gpt-realtime"

    [warning] = check_retiring_models(today=BEFORE)

    assert (warning.level, warning.id) == (checks.WARNING, "realtime.W002")
    assert warning.msg == (
        "REALTIME_MODEL: OpenAI shuts gpt-realtime down on 2027-01-20; "
        "use gpt-realtime-2.1 before then."
    )
    assert "developers.openai.com/api/docs/deprecations" in warning.hint


def test_check_reports_a_model_past_its_shutdown_as_an_error(settings):
    settings.REALTIME_MODEL = "gpt-realtime"

    [error] = check_retiring_models(today=SHUTDOWN)

    assert (error.level, error.id) == (checks.ERROR, "realtime.E002")
    assert error.msg == (
        "REALTIME_MODEL: OpenAI shut gpt-realtime down on 2027-01-20; use gpt-realtime-2.1 instead."
    )


def test_check_is_silent_for_current_models():
    assert check_retiring_models(today=BEFORE) == []


def test_check_covers_the_transcription_model_and_every_allowed_model(settings):
    settings.REALTIME_TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"
    settings.REALTIME_ALLOWED_MODELS = ["gpt-realtime-2.1-mini", "gpt-4o-realtime-preview"]

    found = check_retiring_models(today=BEFORE)

    assert [(message.id, message.msg.split(":")[0]) for message in found] == [
        ("realtime.W002", "REALTIME_TRANSCRIPTION_MODEL"),
        ("realtime.E002", "REALTIME_ALLOWED_MODELS"),
    ]
    assert "use gpt-transcribe before then" in found[0].msg
    assert "down on 2026-05-07; use gpt-realtime-1.5 instead" in found[1].msg


@pytest.fixture
def live_1_retires(monkeypatch):
    """A shutdown of gpt-live-1 such as OpenAI might announce (it has announced none)."""
    row = Retirement("gpt-live-1", SHUTDOWN, "gpt-live-1.1")
    monkeypatch.setattr(retirements, "RETIREMENTS", (*RETIREMENTS, row))


def test_check_covers_the_live_model(settings, live_1_retires):
    settings.REALTIME_LIVE_MODEL = "gpt-live-1"

    [warning] = check_retiring_models(today=BEFORE)

    assert (warning.id, warning.msg) == (
        "realtime.W002",
        "REALTIME_LIVE_MODEL: OpenAI shuts gpt-live-1 down on 2027-01-20; "
        "use gpt-live-1.1 before then.",
    )


def test_check_reports_a_live_model_past_its_shutdown_as_an_error(settings, live_1_retires):
    settings.REALTIME_LIVE_MODEL = "gpt-live-1"

    [error] = check_retiring_models(today=SHUTDOWN)

    assert (error.level, error.id) == (checks.ERROR, "realtime.E002")


def test_check_leaves_the_live_model_alone_while_gpt_live_is_off(settings, live_1_retires):
    settings.REALTIME_LIVE_MODEL = "gpt-live-1"
    settings.REALTIME_LIVE = False

    assert check_retiring_models(today=SHUTDOWN) == []


def test_manage_py_check_runs_the_model_check(settings):
    settings.REALTIME_MODEL = "gpt-4o-realtime-preview"  # shut down on 2026-05-07

    assert "realtime.E002" in [message.id for message in checks.run_checks()]


def test_check_leaves_invalid_settings_to_the_settings_check(settings):
    settings.REALTIME_MODEL = "gpt-realtime"
    settings.REALTIME_SECRET_TTL = 1

    assert check_retiring_models(today=BEFORE) == []

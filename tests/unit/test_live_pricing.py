"""GPT-Live's prices per minute, a session's cumulative usage, and REALTIME_PRICES for Live."""

from decimal import Decimal
from typing import Literal, get_args, get_origin

import pytest
from openai.types.live.session_config import SessionConfig

from realtime import pricing
from realtime.conf import RealtimeSettings
from realtime.pricing import LiveUsage, live_cost

TOKEN_PRICES = {
    "text_input": 1,
    "cached_text_input": 0.1,
    "audio_input": 2,
    "cached_audio_input": 0.2,
    "text_output": 3,
    "audio_output": 4,
}


def sdk_live_models() -> set[str]:
    """The Live model names the installed openai package knows (``session.model``)."""
    return {
        name
        for member in get_args(SessionConfig.model_fields["model"].annotation)
        if get_origin(member) is Literal
        for name in get_args(member)
    }


def usage(**block) -> LiveUsage:
    return LiveUsage.from_event(block)


def test_every_live_model_the_openai_package_names_has_a_price():
    assert sdk_live_models() == {"gpt-live-1", "gpt-live-1.1"}  # the names were found
    assert sdk_live_models() <= set(pricing.LIVE_PRICES)


def test_the_default_live_model_is_one_the_openai_package_names():
    assert RealtimeSettings().live_model in sdk_live_models()


def test_gpt_live_1_costs_five_cents_a_minute_active_or_paused():
    minutes = usage(seconds=120, active_seconds=60, paused_seconds=60)

    assert live_cost(minutes, "gpt-live-1") == Decimal("0.10")


def test_gpt_live_1_1_costs_five_cents_an_active_minute_and_two_a_paused_one():
    minutes = usage(seconds=180, active_seconds=120, paused_seconds=60)

    assert live_cost(minutes, "gpt-live-1.1") == Decimal("0.12")


def test_a_session_that_reports_no_breakdown_is_active_throughout():
    assert live_cost(usage(seconds=90.0), "gpt-live-1.1") == Decimal("0.075")


def test_without_active_seconds_the_active_ones_are_the_total_less_the_paused():
    minutes = usage(seconds=90, paused_seconds=30)

    assert minutes.active == Decimal(60)
    assert live_cost(minutes, "gpt-live-1.1") == Decimal("0.06")


def test_the_latest_cumulative_report_is_the_sessions_usage_never_their_sum():
    # session.usage.updated every 15 s, then session.closed: each a running total.
    reports = [{"seconds": 15}, {"seconds": 30}, {"seconds": 45}, {"seconds": 60}]

    latest = LiveUsage.from_event(reports[-1])

    assert live_cost(latest, "gpt-live-1") == Decimal("0.05")
    assert not hasattr(LiveUsage, "add")


@pytest.mark.parametrize(
    "block",
    [None, "60", {"seconds": "60"}, {"seconds": True}, {"seconds": -5}, {"seconds": float("nan")}],
)
def test_odd_usage_counts_nothing(block):
    assert LiveUsage.from_event(block) == LiveUsage()
    assert live_cost(LiveUsage.from_event(block), "gpt-live-1.1") == Decimal(0)


def test_an_odd_active_count_is_taken_as_unreported():
    minutes = usage(seconds=60, active_seconds="lots", paused_seconds=0)

    assert minutes.active == Decimal(60)


@pytest.mark.parametrize("model", ["gpt-live-9", "gpt-realtime-2.1", "house-model"])
def test_a_model_without_a_live_price_has_an_unknown_cost_not_zero(model):
    assert live_cost(usage(seconds=60), model) is None


def test_a_dated_live_snapshot_costs_what_its_model_costs():
    assert pricing.live_price_for("gpt-live-1.1-2026-09-01") == pricing.LIVE_PRICES["gpt-live-1.1"]
    assert live_cost(usage(seconds=60), "gpt-live-1-2026-09-01") == Decimal("0.05")


@pytest.mark.parametrize(
    ("model", "live"),
    [
        ("gpt-live-1", True),
        ("gpt-live-1.1-2026-09-01", True),
        ("gpt-live-transcribe", False),
        ("gpt-realtime-2.1", False),
        ("", False),
    ],
)
def test_a_live_model_is_a_gpt_live_name_other_than_the_transcription_model(model, live):
    assert pricing.is_live_model(model) is live


# --- REALTIME_PRICES ---------------------------------------------------------------------------


def test_a_per_minute_override_prices_a_new_live_model():
    entry = {"model": "gpt-live-2", "per_minute": 0.10}

    assert live_cost(usage(seconds=60, paused_seconds=30), "gpt-live-2", (entry,)) == Decimal(
        "0.10"
    )


def test_a_per_minute_override_replaces_the_shipped_live_price():
    entry = {"model": "gpt-live-1.1", "per_minute": 0.06, "standby_per_minute": 0}
    minutes = usage(seconds=120, active_seconds=60, paused_seconds=60)

    assert live_cost(minutes, "gpt-live-1.1", (entry,)) == Decimal("0.06")


def test_live_and_token_overrides_each_price_their_own_kind_of_model():
    overrides = (
        {"model": "gpt-live-2", "per_minute": 1},
        {"model": "house-model", **TOKEN_PRICES},
    )

    assert pricing.price_for("gpt-live-2", overrides) is None
    assert pricing.live_price_for("house-model", overrides) is None
    assert pricing.price_for("house-model", overrides).audio_output == Decimal(4)
    assert RealtimeSettings(prices=overrides).problems() == []


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"model": "gpt-live-2", "standby_per_minute": 0.01}, "gpt-live-2: missing per_minute"),
        ({"model": "gpt-live-2", "per_minute": "cheap"}, "per_minute must be a number"),
        ({"model": "gpt-live-2", "per_minute": 1, "standby_per_minute": -1}, "0 or more"),
        (
            {"model": "gpt-live-2", **TOKEN_PRICES},
            "gpt-live-2: missing per_minute (a GPT-Live model is priced per minute)",
        ),
        (
            {"model": "gpt-live-2", "per_minute": 1, "text_input": 1},
            "gpt-live-2: a GPT-Live model is priced per minute only: drop text_input",
        ),
        (
            {"model": "gpt-realtime-2.1", "per_minute": 1},
            "gpt-realtime-2.1: per_minute prices GPT-Live models (gpt-live-…) only",
        ),
    ],
)
def test_a_bad_live_price_is_a_settings_error_naming_it(entry, says):
    [problem] = RealtimeSettings(prices=(entry,)).problems()

    assert problem.id == "realtime.E017"
    assert says in problem.message
    assert '"per_minute": …' in problem.message  # the shape to write instead

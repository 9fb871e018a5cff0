"""The price table and REALTIME_PRICES."""

from decimal import Decimal

import pytest

from realtime import pricing
from realtime.conf import RealtimeSettings

OVERRIDE = {
    "model": "house-model",
    "text_input": 1,
    "cached_text_input": 0.1,
    "audio_input": 2,
    "cached_audio_input": 0.2,
    "text_output": 3,
    "audio_output": 4,
}


def test_a_dated_snapshot_costs_what_its_model_costs():
    assert pricing.price_for("gpt-realtime-2.1-2026-11-01") == pricing.PRICES["gpt-realtime-2.1"]


def test_an_override_replaces_the_shipped_price():
    replaced = {**OVERRIDE, "model": "gpt-realtime-2.1", "text_output": 99}

    assert pricing.price_for("gpt-realtime-2.1", (replaced,)).text_output == Decimal(99)


def test_the_mini_model_has_its_own_prices():
    mini = pricing.PRICES["gpt-realtime-2.1-mini"]

    assert (mini.text_input, mini.audio_output) == (Decimal("0.60"), Decimal("20"))


def test_the_page_gets_the_configured_models_price_as_numbers():
    assert pricing.page_price("house-model", (OVERRIDE,))["audio_output"] == 4.0
    assert pricing.page_price("nobody-prices-this") is None


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"text_input": 1}, "needs a model name"),
        ({**OVERRIDE, "audio_output": "lots"}, "audio_output must be a number"),
        ({**OVERRIDE, "text_input": -1}, "text_input must be a number of 0 or more"),
        ({"model": "m", "text_input": 1}, "missing cached_text_input"),
    ],
)
def test_a_bad_price_is_a_settings_error_naming_it(entry, says):
    [problem] = RealtimeSettings(prices=(entry,)).problems()

    assert problem.id == "realtime.E017"
    assert says in problem.message

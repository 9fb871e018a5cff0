"""What a response costs: token usage times a price table per model.

The table ships as data (``PRICES``, with the date it was read and where from) and
``REALTIME_PRICES`` adds models or replaces their prices. A model with no price has no cost
(``None``, shown as "unknown"), never a cost of zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

PRICES_READ_ON = "2026-12-02"
PRICES_SOURCE = "https://openai.com/api/pricing/ (realtime models, USD per 1M tokens)"

PRICE_FIELDS = (
    "text_input",
    "cached_text_input",
    "audio_input",
    "cached_audio_input",
    "text_output",
    "audio_output",
)
MILLION = Decimal(1_000_000)
# Dated snapshots (gpt-realtime-2-2026-05-07) cost what their model costs.
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens of each kind."""

    text_input: Decimal
    cached_text_input: Decimal
    audio_input: Decimal
    cached_audio_input: Decimal
    text_output: Decimal
    audio_output: Decimal

    @classmethod
    def of(cls, values: dict[str, Any]) -> Price:
        """Read a price from numbers by field name; raise ValueError naming what is wrong."""
        missing = [name for name in PRICE_FIELDS if name not in values]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        prices = {}
        for name in PRICE_FIELDS:
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(f"{name} must be a number")
            try:
                prices[name] = Decimal(str(value))
            except ArithmeticError:
                raise ValueError(f"{name} must be a number") from None
            if not prices[name].is_finite() or prices[name] < 0:
                raise ValueError(f"{name} must be a number of 0 or more")
        return cls(**prices)


def _price(text_in: str, text_out: str, audio_in: str, audio_out: str, cached: str) -> Price:
    return Price(
        text_input=Decimal(text_in),
        cached_text_input=Decimal(cached),
        audio_input=Decimal(audio_in),
        cached_audio_input=Decimal(cached),
        text_output=Decimal(text_out),
        audio_output=Decimal(audio_out),
    )


PRICES: dict[str, Price] = {
    "gpt-realtime-2.1": _price("4", "24", "32", "64", cached="0.40"),
    "gpt-realtime-2": _price("4", "24", "32", "64", cached="0.40"),
    "gpt-realtime-1.5": _price("4", "16", "32", "64", cached="0.40"),
    "gpt-realtime-2.1-mini": Price(
        text_input=Decimal("0.60"),
        cached_text_input=Decimal("0.06"),
        audio_input=Decimal("10"),
        cached_audio_input=Decimal("0.30"),
        text_output=Decimal("2.40"),
        audio_output=Decimal("20"),
    ),
}


@dataclass(slots=True)
class TokenUsage:
    """The tokens of one response (or a session's sum), by kind.

    ``input_text`` and ``input_audio`` include their cached tokens, as OpenAI counts them;
    ``input_tokens`` and ``output_tokens`` are the totals it reports (images included).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    input_text: int = 0
    input_audio: int = 0
    cached_text: int = 0
    cached_audio: int = 0
    output_text: int = 0
    output_audio: int = 0

    @classmethod
    def from_response(cls, usage: Any) -> TokenUsage:
        """Read ``response.done``'s ``response.usage``; missing or odd values count 0."""
        usage = usage if isinstance(usage, dict) else {}
        given = _dict(usage.get("input_token_details"))
        cached = _dict(given.get("cached_tokens_details"))
        produced = _dict(usage.get("output_token_details"))
        return cls(
            input_tokens=_count(usage.get("input_tokens")),
            output_tokens=_count(usage.get("output_tokens")),
            input_text=_count(given.get("text_tokens")),
            input_audio=_count(given.get("audio_tokens")),
            cached_text=_count(cached.get("text_tokens")),
            cached_audio=_count(cached.get("audio_tokens")),
            output_text=_count(produced.get("text_tokens")),
            output_audio=_count(produced.get("audio_tokens")),
        )

    def add(self, other: TokenUsage) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def price_for(model: str, overrides: tuple[dict[str, Any], ...] = ()) -> Price | None:
    """Return the model's price: an override's, else the shipped table's, else None."""
    table = dict(PRICES)
    for entry in overrides:
        table[entry["model"]] = Price.of(entry)
    return table.get(model) or table.get(_SNAPSHOT.sub("", model))


def cost(usage: TokenUsage, price: Price | None) -> Decimal | None:
    """Return what ``usage`` costs in USD at ``price``; None when the price is unknown."""
    if price is None:
        return None
    uncached_text = max(usage.input_text - usage.cached_text, 0)
    uncached_audio = max(usage.input_audio - usage.cached_audio, 0)
    total = (
        uncached_text * price.text_input
        + usage.cached_text * price.cached_text_input
        + uncached_audio * price.audio_input
        + usage.cached_audio * price.cached_audio_input
        + usage.output_text * price.text_output
        + usage.output_audio * price.audio_output
    )
    return (total / MILLION).quantize(Decimal("0.000001"))


def page_price(model: str, overrides: tuple[dict[str, Any], ...] = ()) -> dict[str, float] | None:
    """The model's price as the page's cost estimate takes it (numbers), or None."""
    price = price_for(model, overrides)
    if price is None:
        return None
    return {name: float(getattr(price, name)) for name in PRICE_FIELDS}


def override_problems(overrides: tuple[Any, ...]) -> list[str]:
    """Say what is wrong with each ``REALTIME_PRICES`` entry (for the settings check)."""
    problems = []
    for entry in overrides:
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            problems.append(f"{entry!r}: needs a model name")
            continue
        try:
            Price.of(entry)
        except ValueError as error:
            problems.append(f"{entry['model']}: {error}")
    return problems


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

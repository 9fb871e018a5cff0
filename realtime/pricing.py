"""What a conversation costs: token usage times a price table per model, or, for GPT-Live,
its billed seconds times a price per minute.

The tables ship as data (``PRICES`` and ``LIVE_PRICES``, each with the date it was read and
where from) and ``REALTIME_PRICES`` adds models or replaces their prices. A model with no
price has no cost (``None``, shown as "unknown"), never a cost of zero.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

PRICES_READ_ON = "2026-12-02"
PRICES_SOURCE = "https://openai.com/api/pricing/ (realtime models, USD per 1M tokens)"
LIVE_PRICES_READ_ON = "2026-12-07"
LIVE_PRICES_SOURCE = (
    "https://openai.com/api/pricing/ (GPT-Live models, USD per minute of session duration)"
)

PRICE_FIELDS = (
    "text_input",
    "cached_text_input",
    "audio_input",
    "cached_audio_input",
    "text_output",
    "audio_output",
)
LIVE_PRICE_FIELDS = ("per_minute", "standby_per_minute")
MILLION = Decimal(1_000_000)
MINUTE = Decimal(60)
# Dated snapshots (gpt-realtime-2-2026-05-07, gpt-live-1.1-2026-09-01) cost what their model
# costs.
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
        return cls(**{name: _amount(name, values[name]) for name in PRICE_FIELDS})


@dataclass(frozen=True)
class LivePrice:
    """USD per minute of a GPT-Live session: active, and paused (standby) where the model has
    a rate of its own for that; without one a paused minute costs an active minute."""

    per_minute: Decimal
    standby_per_minute: Decimal | None = None

    @classmethod
    def of(cls, values: dict[str, Any]) -> LivePrice:
        """Read a price from numbers by field name; raise ValueError naming what is wrong."""
        if "per_minute" not in values:
            raise ValueError("missing per_minute")
        standby = values.get("standby_per_minute")
        return cls(
            per_minute=_amount("per_minute", values["per_minute"]),
            standby_per_minute=None if standby is None else _amount("standby_per_minute", standby),
        )


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

# Billed per second of session duration, published per minute. Standby is the rate of a
# paused WebRTC or SIP session (idle_timeout_s with a speech wake policy); muted is active.
LIVE_PRICES: dict[str, LivePrice] = {
    "gpt-live-1": LivePrice(per_minute=Decimal("0.05")),
    "gpt-live-1.1": LivePrice(per_minute=Decimal("0.05"), standby_per_minute=Decimal("0.02")),
}


def is_live_model(model: str) -> bool:
    """Whether ``model`` names a GPT-Live model or a snapshot of one (``gpt-live-…``), which
    ``/v1/live/sessions`` serves; ``gpt-live-transcribe`` is a Realtime transcription model."""
    return model.startswith("gpt-live-") and not model.startswith("gpt-live-transcribe")


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

    @classmethod
    def from_responses(cls, usage: Any) -> TokenUsage:
        """Read a Responses API response's ``usage`` (a GPT-Live session's backend, a text
        model: its reasoning is output); missing or odd values count 0."""
        usage = _dict(usage)
        input_tokens = _count(usage.get("input_tokens"))
        output_tokens = _count(usage.get("output_tokens"))
        return cls(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            input_text=input_tokens,
            cached_text=_count(_dict(usage.get("input_tokens_details")).get("cached_tokens")),
            output_text=output_tokens,
        )

    def add(self, other: TokenUsage) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@dataclass(frozen=True)
class LiveUsage:
    """A GPT-Live session's billed seconds so far.

    Every ``session.usage.updated``, and the final ``session.closed``, reports the running
    total: the latest replaces the one before, never adds to it (so there is no ``add``).
    Only eligible WebRTC sessions report the active and paused breakdown.
    """

    seconds: Decimal = Decimal(0)
    active_seconds: Decimal | None = None
    paused_seconds: Decimal = Decimal(0)

    @classmethod
    def from_event(cls, usage: Any) -> LiveUsage:
        """Read a usage event's ``usage``; missing or odd values count 0 (active: unreported)."""
        usage = _dict(usage)
        return cls(
            seconds=_seconds(usage.get("seconds")) or Decimal(0),
            active_seconds=_seconds(usage.get("active_seconds")),
            paused_seconds=_seconds(usage.get("paused_seconds")) or Decimal(0),
        )

    @property
    def active(self) -> Decimal:
        """The seconds billed at the active rate: as reported, else all but the paused ones."""
        if self.active_seconds is not None:
            return self.active_seconds
        return max(self.seconds - self.paused_seconds, Decimal(0))


def price_for(model: str, overrides: tuple[dict[str, Any], ...] = ()) -> Price | None:
    """Return the model's price: an override's, else the shipped table's, else None."""
    return _lookup({**PRICES, **_overrides(overrides, Price)}, model)


def live_price_for(model: str, overrides: tuple[dict[str, Any], ...] = ()) -> LivePrice | None:
    """Return the Live model's price: an override's, else the shipped table's, else None."""
    return _lookup({**LIVE_PRICES, **_overrides(overrides, LivePrice)}, model)


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


def live_cost(
    usage: LiveUsage, model: str, overrides: tuple[dict[str, Any], ...] = ()
) -> Decimal | None:
    """Return what a Live session's ``usage`` costs in USD; None when ``model`` has no price."""
    price = live_price_for(model, overrides)
    if price is None:
        return None
    standby = price.per_minute if price.standby_per_minute is None else price.standby_per_minute
    total = usage.active * price.per_minute + usage.paused_seconds * standby
    return (total / MINUTE).quantize(Decimal("0.000001"))


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
            _read_override(entry)
        except ValueError as error:
            problems.append(f"{entry['model']}: {error}")
    return problems


def _read_override(entry: dict[str, Any]) -> Price | LivePrice:
    """Read a ``REALTIME_PRICES`` entry: per minute for a Live model, else per 1M tokens."""
    live = is_live_model(entry["model"])
    if not any(name in entry for name in LIVE_PRICE_FIELDS):
        if live:
            raise ValueError("missing per_minute (a GPT-Live model is priced per minute)")
        return Price.of(entry)
    if not live:
        raise ValueError("per_minute prices GPT-Live models (gpt-live-…) only")
    if per_token := [name for name in PRICE_FIELDS if name in entry]:
        raise ValueError(f"a GPT-Live model is priced per minute only: drop {', '.join(per_token)}")
    return LivePrice.of(entry)


def _overrides(overrides: tuple[dict[str, Any], ...], kind: type) -> dict[str, Any]:
    read = {entry["model"]: _read_override(entry) for entry in overrides}
    return {model: price for model, price in read.items() if isinstance(price, kind)}


def _lookup(table: dict[str, Any], model: str) -> Any:
    return table.get(model) or table.get(_SNAPSHOT.sub("", model))


def _amount(name: str, value: Any) -> Decimal:
    """Read a price of 0 or more; raise ValueError naming ``name`` when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number")
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"{name} must be a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name} must be a number of 0 or more")
    return amount


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _seconds(value: Any) -> Decimal | None:
    """A reported number of seconds, 0 or more, exactly; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = Decimal(str(value))
    return seconds if seconds.is_finite() and seconds >= 0 else None

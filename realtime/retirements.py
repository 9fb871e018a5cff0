"""The realtime, GPT-Live and transcription models OpenAI has shut down or will shut down,
as data.

Each row names a model, its shutdown date and the replacement OpenAI recommends. The rows
come from the official ``openai`` package's "Deprecated values" notes
(``openai/types/realtime/realtime_session_create_request.py`` for session models and
``audio_transcription.py`` for transcription models; ``openai/types/live/`` has none yet)
and the deprecations page those notes cite, https://developers.openai.com/api/docs/deprecations.
No GPT-Live model has an announced shutdown. A unit test reads the installed package's notes
and fails when a model they list is missing here, so upgrading the package cannot leave this
table behind.

Plain data with no Django import: the system checks, ``mint_secret``, the admin and the
offline emulator all read the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

DEPRECATIONS_URL = "https://developers.openai.com/api/docs/deprecations"


@dataclass(frozen=True)
class Retirement:
    model: str
    shutdown: date
    replacement: str  # as the source recommends it; it may be retiring itself


@dataclass(frozen=True)
class Notice:
    """What applies to one model on one day: it shuts down later, or it has shut down."""

    model: str
    shutdown: date
    replacement: str  # the first model along the replacements that is not retiring
    shut_down: bool

    def __str__(self) -> str:
        when = self.shutdown.isoformat()
        if self.shut_down:
            return f"OpenAI shut {self.model} down on {when}; use {self.replacement} instead."
        return f"OpenAI shuts {self.model} down on {when}; use {self.replacement} before then."


def _rows(shutdown: str, replacement: str, *models: str) -> tuple[Retirement, ...]:
    day = date.fromisoformat(shutdown)
    return tuple(Retirement(model, day, replacement) for model in models)


RETIREMENTS: tuple[Retirement, ...] = (
    # Announced in the package's notes (3.57). The replacements are the 2.1 family, whose
    # full model is the default of the agents SDKs (agents-js, openai-agents) since 2026-07.
    *_rows("2027-01-20", "gpt-realtime-2.1", "gpt-realtime", "gpt-realtime-2025-08-28"),
    *_rows(
        "2027-01-20",
        "gpt-realtime-2.1-mini",
        "gpt-realtime-mini",
        "gpt-realtime-mini-2025-12-15",
        "gpt-audio-mini",
        "gpt-audio-mini-2025-12-15",
    ),
    # The page recommends "gpt-live-transcribe or gpt-transcribe"; gpt-transcribe is the one
    # a conversation session takes with server VAD (gpt-live-transcribe streams continuously).
    *_rows(
        "2027-02-26",
        "gpt-transcribe",
        "whisper-1",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-4o-transcribe",
        "gpt-4o-transcribe-diarize",
    ),
    # Already shut down (from the deprecations page's earlier notices): the package still
    # lists them among the session models, with no note.
    *_rows("2025-09-10", "gpt-4o-realtime-preview", "gpt-4o-realtime-preview-2024-10-01"),
    *_rows(
        "2026-05-07",
        "gpt-realtime-1.5",
        "gpt-4o-realtime-preview",
        "gpt-4o-realtime-preview-2024-12-17",
        "gpt-4o-realtime-preview-2025-06-03",
    ),
    *_rows("2026-05-07", "gpt-realtime-mini", "gpt-4o-mini-realtime-preview"),
    *_rows(
        "2026-07-23",
        "gpt-realtime-mini",
        "gpt-4o-mini-realtime-preview-2024-12-17",
        "gpt-realtime-mini-2025-10-06",
    ),
    *_rows("2026-07-23", "gpt-audio-mini", "gpt-audio-mini-2025-10-06"),
)


def utc_today() -> date:
    return datetime.now(UTC).date()


def notice_for(model: str, today: date | None = None) -> Notice | None:
    """Return what applies to ``model`` on ``today`` (default: today in UTC), or None."""
    # Read on each call (a few dozen rows), so a test's row applies like a shipped one.
    by_model = {row.model: row for row in RETIREMENTS}
    row = by_model.get(model)
    if row is None:
        return None
    today = today or utc_today()
    replacement = row.replacement
    seen = {model}
    # A replacement may be on its way out too: recommend the first one that is not.
    while (later := by_model.get(replacement)) is not None and replacement not in seen:
        seen.add(replacement)
        replacement = later.replacement
    return Notice(model, row.shutdown, replacement, shut_down=today >= row.shutdown)

"""Cut the user's turns from input audio: the buffer, VAD, commit and clear, transcription.

Audio arrives in the internal format (PCM16 mono 24 kHz) and runs the session's audio clock.
With turn detection on, speech that starts and stops is committed as a user item and, if
the session says so, answered; speech that starts while a response plays interrupts it.

- a committed turn's input transcription reads "(N.N seconds of speech)", N.N the committed
  speech;
- after ``idle_timeout_ms`` of input audio with no speech since the last response, the
  silent stretch is committed (``input_audio_buffer.timeout_triggered``) and answered.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from realtime.emulator import audio, deltas, ids, usage
from realtime.emulator.errors import ApiError
from realtime.emulator.items import Items
from realtime.emulator.spec import json_type

if TYPE_CHECKING:
    from realtime.emulator.conversation import Conversation
    from realtime.emulator.responses import Responses

MIN_COMMIT_MS = 100
SEMANTIC_SILENCE_MS = {"low": 800, "medium": 500, "high": 250, "auto": 500}
MAX_APPEND_BYTES = 15 * 1024 * 1024
# Silence kept before speech beyond the prefix padding, covering the VAD's onset; older
# silence can never join a speech item, so it is forgotten (a muted call stays small).
KEEP_BEFORE_SPEECH_MS = 1000


class Turns:
    """The input audio buffer and the detector that cuts turns from it."""

    def __init__(self, conversation: Conversation, items: Items, responses: Responses) -> None:
        self._conversation = conversation
        self._emit = conversation.emit
        self._items = items
        self._responses = responses
        self.input_buffer = bytearray()
        self.buffer_started_ms = 0  # session-timeline position of input_buffer[0]
        self.speech_item_id: str | None = None
        self.idle_since_ms: int | None = None  # audio position since which nobody has spoken
        self.vad = self._new_vad()

    # --- client events ----------------------------------------------------------------------

    async def append(self, event: dict[str, Any]) -> None:
        encoded = event["audio"]
        if not isinstance(encoded, str):
            raise ApiError(
                "Invalid type for 'audio': expected a string, but got "
                f"{json_type(encoded)} instead.",
                code="invalid_type",
                param="audio",
            )
        if len(encoded) > MAX_APPEND_BYTES:
            raise ApiError(
                "Invalid 'audio': string too long. Expected a string with maximum length "
                f"{MAX_APPEND_BYTES}, but got a string with length {len(encoded)} instead.",
                code="string_above_max_length",
                param="audio",
            )
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                "Invalid 'audio'. Expected base64-encoded audio data.",
                code="invalid_value",
                param="audio",
            ) from None
        await self.feed_audio(audio.to_internal(data, self._input_format()))

    async def commit(self, event: dict[str, Any]) -> None:
        buffered_ms = audio.duration_ms(self.input_buffer)
        if buffered_ms < MIN_COMMIT_MS:
            raise ApiError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        await self._commit_buffer(self.speech_item_id or ids.item_id(), buffered_ms)

    async def clear(self, event: dict[str, Any]) -> None:
        self._drop_buffer()
        self.vad.reset()
        self.speech_item_id = None
        await self._emit({"type": "input_audio_buffer.cleared"})

    # --- audio in -------------------------------------------------------------------------

    async def feed_audio(self, pcm: bytes) -> None:
        """Take microphone audio (internal format) from a WebSocket append or a WebRTC track."""
        stats = self._conversation.stats
        stats["audio_in_ms"] += audio.duration_ms(pcm)
        self.input_buffer += pcm
        # The detector always listens (it keeps the audio clock and the level); its verdicts
        # count only when turn detection is on.
        changes = self.vad.feed(pcm)
        stats["max_input_level"] = self.vad.loudest
        if not self._vad_enabled():
            return
        for change in changes:
            if isinstance(change, audio.SpeechStarted):
                await self._speech_started(change.audio_start_ms)
            else:
                await self._speech_stopped(change.audio_end_ms)
        if not self.vad.in_speech:
            keep_ms = self.turn_detection().get("prefix_padding_ms", 300) + KEEP_BEFORE_SPEECH_MS
            if audio.duration_ms(self.input_buffer) > 2 * keep_ms:  # trim now and then, not always
                self._drop_buffer(until_ms=self.vad.position_ms - keep_ms)
        await self._check_idle()

    async def _check_idle(self) -> None:
        timeout_ms = self.turn_detection().get("idle_timeout_ms")
        if (
            not timeout_ms
            or self.idle_since_ms is None
            or self.vad.in_speech
            or self._responses.active is not None
            or self.vad.position_ms - self.idle_since_ms < timeout_ms
        ):
            return
        start_ms, end_ms = self.idle_since_ms, self.vad.position_ms
        self.idle_since_ms = None
        item_id = ids.item_id()
        self._items.idle_ids.add(item_id)
        await self._emit(
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": start_ms,
                "audio_end_ms": end_ms,
                "item_id": item_id,
            }
        )
        await self._commit_buffer(item_id, end_ms - start_ms)
        self._responses.start({})

    async def _speech_started(self, audio_start_ms: int) -> None:
        self.speech_item_id = ids.item_id()
        self.idle_since_ms = None
        # Keep only the prefix padding before speech in the buffer, as the service does.
        self._drop_buffer(until_ms=audio_start_ms)
        await self._emit(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": audio_start_ms,
                "item_id": self.speech_item_id,
            }
        )
        if self.turn_detection().get("interrupt_response", True):
            await self._responses.interrupt()

    async def _speech_stopped(self, audio_end_ms: int) -> None:
        item_id = self.speech_item_id or ids.item_id()
        await self._emit(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": audio_end_ms,
                "item_id": item_id,
            }
        )
        speech_ms = audio_end_ms - self.buffer_started_ms
        await self._commit_buffer(item_id, speech_ms)
        if (
            self._conversation.session.get("type") == "realtime"
            and self.turn_detection().get("create_response", True)
            and self._responses.active is None
        ):
            self._responses.start({})

    async def _commit_buffer(self, item_id: str, speech_ms: float) -> None:
        previous = self._items.last_id()
        self._drop_buffer()
        self.vad.reset()
        self.speech_item_id = None
        await self._emit(
            {
                "type": "input_audio_buffer.committed",
                "previous_item_id": previous,
                "item_id": item_id,
            }
        )
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self._items.audio_ms[item_id] = speech_ms
        self._conversation.stats["turns"] += 1
        await self._items.add(item, previous_item_id=previous)
        if self._transcription_model():
            self._conversation.spawn(self._transcribe(item, speech_ms))

    async def _transcribe(self, item: dict[str, Any], speech_ms: float) -> None:
        """Send the user's words as the transcription model would: deltas, then done."""
        transcript = f"({speech_ms / 1000:.1f} seconds of speech)"
        for word in deltas.words(transcript):
            await self._emit(
                {
                    "type": "conversation.item.input_audio_transcription.delta",
                    "item_id": item["id"],
                    "content_index": 0,
                    "delta": word,
                    "obfuscation": deltas.obfuscation(),
                }
            )
        item["content"][0]["transcript"] = transcript
        input_tokens = usage.audio_tokens_in(speech_ms)
        output_tokens = usage.text_tokens(transcript)
        await self._emit(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item["id"],
                "content_index": 0,
                "transcript": transcript,
                "usage": {
                    "type": "tokens",
                    "total_tokens": input_tokens + output_tokens,
                    "input_tokens": input_tokens,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": input_tokens},
                    "output_tokens": output_tokens,
                },
            }
        )

    # --- the idle clock -------------------------------------------------------------------

    def start_idle_clock(self) -> None:
        """Count idle time from now: a response has just ended."""
        self.idle_since_ms = self.vad.position_ms

    def playback_stopped(self) -> None:
        """Restart a running idle clock: idle counts from the end of playback."""
        if self.idle_since_ms is not None:
            self.idle_since_ms = self.vad.position_ms

    # --- helpers ----------------------------------------------------------------------------

    def _drop_buffer(self, until_ms: float | None = None) -> None:
        """Forget buffered input audio, all of it or up to a session-timeline position."""
        if until_ms is None:
            until_ms = self.buffer_started_ms + audio.duration_ms(self.input_buffer)
        cut = max(0, int((until_ms - self.buffer_started_ms) * audio.BYTES_PER_MS))
        cut -= cut % 2
        del self.input_buffer[:cut]
        self.buffer_started_ms = until_ms

    def _audio_input(self) -> dict[str, Any]:
        return self._conversation.session.get("audio", {}).get("input", {})

    def turn_detection(self) -> dict[str, Any]:
        return self._audio_input().get("turn_detection") or {}

    def _vad_enabled(self) -> bool:
        return bool(self.turn_detection())

    def restart_vad(self) -> None:
        """Detect turns with the session's new settings from the current audio position on."""
        self.vad = self._new_vad(position_ms=self.vad.position_ms)

    def _new_vad(self, position_ms: int = 0) -> audio.VoiceActivityDetector:
        """Return a detector for the current settings; the session's audio clock carries on."""
        settings = self.turn_detection()
        if settings.get("type") == "semantic_vad":
            silence = SEMANTIC_SILENCE_MS[settings.get("eagerness", "auto")]
            return audio.VoiceActivityDetector(silence_duration_ms=silence, position_ms=position_ms)
        return audio.VoiceActivityDetector(
            threshold=settings.get("threshold", 0.5),
            prefix_padding_ms=settings.get("prefix_padding_ms", 300),
            silence_duration_ms=settings.get("silence_duration_ms", 200),
            position_ms=position_ms,
        )

    def _input_format(self) -> dict[str, Any]:
        return self._audio_input().get("format") or {
            "type": "audio/pcm",
            "rate": audio.SAMPLE_RATE,
        }

    def _transcription_model(self) -> str | None:
        transcription = self._audio_input().get("transcription")
        return transcription.get("model") if transcription else None

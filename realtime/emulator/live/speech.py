"""Speak for the Live model: its voice streamed as output audio with a timed transcript.

One thing is spoken at a time, in the order asked. Speech is placed on the session timeline
from the position where it starts; each ``session.output_transcript.delta`` carries its
word's share of that span as ``start_ms``/``end_ms``, and each chunk of audio its own span
(sidebands see it). Audio is paced at the emulator's ``pace`` like the realtime replies: on
a WebRTC call it goes to the call's track, elsewhere to ``session.output_audio.delta``.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING

from realtime.emulator import audio, deltas

if TYPE_CHECKING:
    from realtime.emulator.live.session import LiveSession

MAX_FIXTURE_MS = 30_000


class Speaker:
    """The model's voice: replies and fixtures, one at a time, interruptible."""

    def __init__(self, session: LiveSession) -> None:
        self._session = session
        self._turn = asyncio.Lock()
        self._current: asyncio.Task | None = None
        self.fixture_playing = False
        self.replies = 0

    def say(self, text: str) -> None:
        """Speak ``text`` once what is being said now is done."""
        self._session.spawn(self._say(text))

    async def _say(self, text: str) -> None:
        async with self._turn:
            self.replies += 1
            await self._speak(audio.synthesize_speech(text), text)

    async def play_fixture(self, pcm: bytes, client_event_id: str | None) -> None:
        """Play an audio fixture: the model stops speaking and hears nothing until it ends."""
        self.interrupt()
        self.fixture_playing = True
        await self._session.emit({"type": "session.output_audio.fixture.playing"}, client_event_id)
        self._session.spawn(self._play_fixture(pcm, client_event_id))

    async def _play_fixture(self, pcm: bytes, client_event_id: str | None) -> None:
        try:
            async with self._turn:
                await self._speak(pcm, None)
            await self._session.emit(
                {"type": "session.output_audio.fixture.played"}, client_event_id
            )
        finally:
            self.fixture_playing = False

    def interrupt(self) -> bool:
        """Stop the reply being spoken, as the model yields to a speaker; whether it spoke."""
        if self.fixture_playing or self._current is None or self._current.done():
            return False
        self._current.cancel()
        if self._session.audio_sink is not None:
            self._session.audio_sink.clear()
        return True

    async def _speak(self, pcm: bytes, text: str | None) -> None:
        """Stream ``pcm`` (and the words of ``text``) on the timeline, in real time / pace."""
        self._current = asyncio.current_task()
        session = self._session
        settings = session.settings
        start_ms = session.position_ms
        total_ms = audio.duration_ms(pcm)
        words = deltas.words(text) if text else []
        chunk_bytes = settings.audio_chunk_ms * audio.BYTES_PER_MS
        chunks = [pcm[start : start + chunk_bytes] for start in range(0, len(pcm), chunk_bytes)]
        said = 0
        sent_ms = 0.0
        started = time.monotonic()
        for index, chunk in enumerate(chunks):
            # Words follow the audio: by the end of each chunk, its share of the words.
            due = math.ceil(len(words) * (index + 1) / len(chunks))
            while said < due:
                await session.emit(
                    {
                        "type": "session.output_transcript.delta",
                        "delta": words[said],
                        "start_ms": start_ms + int(total_ms * said / len(words)),
                        "end_ms": start_ms + int(total_ms * (said + 1) / len(words)),
                    }
                )
                said += 1
            if session.audio_sink is not None:
                session.audio_sink.play(chunk)
            chunk_ms = audio.duration_ms(chunk)
            await session.emit_audio(
                chunk, start_ms + int(sent_ms), start_ms + int(sent_ms + chunk_ms)
            )
            sent_ms += chunk_ms
            delay = started + sent_ms / 1000 / settings.pace - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

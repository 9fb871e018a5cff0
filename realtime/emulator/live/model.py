"""Decide what the emulated Live model hears and says: utterances, replies and delegations.

The server owns the turns, so the "model" listens to the input audio itself. It is
deterministic, so tests can tell a real round trip from silence:

- It hears the session's input audio (silence while muted or while a fixture plays) through
  the emulator's VAD at fixed settings: threshold 0.5, no prefix padding, and 500 ms of
  silence ends an utterance. Speech that starts while the model speaks interrupts it.
- An utterance is heard as "(N.N seconds of speech)", N.N the time from its first voiced
  frame to its last, unless a test said what the next utterance is (the control API's
  ``POST /_emulator/live/hear``): then it is heard as that text. The words arrive as
  ``session.input_transcript.delta`` events spread over the utterance on the timeline.
- It answers an utterance "I heard N.N seconds of audio.", and a heard text
  'You said: "<text>".', unless it delegates the turn:

  - under ``responses`` delegation, a heard text that names a function tool of the backend
    (the realtime emulator's rule: case-insensitive whole word; ``tool_choice`` "required"
    calls the first, "none" never) is delegated: ``session.delegation.created`` (target
    ``responses``, with the backend's ``response_id``), then the backend's
    ``response.event`` frames ending in that function call (see
    :mod:`~realtime.emulator.live.backend`);
  - under ``client`` delegation the session names no tools, so a heard text that asks a
    question (ends with "?") is delegated: ``session.delegation.created`` (target
    ``client``), and the model waits for the application's commentary.

- Context the application appends on its own (``session.instructions.append`` with
  ``delegation_id: null``) is taken as a turn, as a typed message is: it is answered like a
  heard text, 'You said: "<content>".', or delegated by the same rules. (The service would
  weigh it as instructions; the emulator's rule lets a page's typed message get an answer.)
- ``session.commentary.append`` is spoken as given: the spoken result of a delegation.
- The backend's text answers are spoken as they complete.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realtime.emulator import audio, deltas, ids

if TYPE_CHECKING:
    from realtime.emulator.live.session import LiveSession

VAD_THRESHOLD = 0.5
END_OF_UTTERANCE_MS = 500


class LiveModel:
    """The model's ears and its decisions about each utterance."""

    def __init__(self, session: LiveSession) -> None:
        self._session = session
        self.vad = audio.VoiceActivityDetector(
            threshold=VAD_THRESHOLD, prefix_padding_ms=0, silence_duration_ms=END_OF_UTTERANCE_MS
        )
        self.turns = 0
        self._utterance_start_ms = 0

    @property
    def position_ms(self) -> int:
        """Return the session timeline's position: all the input audio heard so far."""
        return self.vad.position_ms

    async def hear(self, pcm: bytes) -> None:
        """Listen to input audio (internal format) as the model hears it."""
        for change in self.vad.feed(pcm):
            if isinstance(change, audio.SpeechStarted):
                self._utterance_start_ms = change.audio_start_ms
                self._session.speaker.interrupt()
            else:
                self._session.spawn(self._answer(self._utterance_start_ms, change.audio_end_ms))

    async def _answer(self, start_ms: int, end_ms: int) -> None:
        self.turns += 1
        seconds = (end_ms - start_ms) / 1000
        heard = self._session.take_heard()
        await self._transcribe(heard or f"({seconds:.1f} seconds of speech)", start_ms, end_ms)
        if heard is None:
            self._session.speaker.say(f"I heard {seconds:.1f} seconds of audio.")
        else:
            await self._reply(heard, end_ms)

    async def take_context(self, content: str, offset_ms: int) -> None:
        """Answer context appended with no delegation as a turn: like a heard text."""
        self.turns += 1
        await self._reply(content, offset_ms)

    async def _reply(self, text: str, offset_ms: int) -> None:
        """Answer a text the model took in: delegate it if the rules say so, else echo it."""
        if not await self._delegate(text, offset_ms):
            self._session.speaker.say(f'You said: "{text}".')

    async def _transcribe(self, transcript: str, start_ms: int, end_ms: int) -> None:
        words = deltas.words(transcript)
        span = end_ms - start_ms
        for index, word in enumerate(words):
            await self._session.emit(
                {
                    "type": "session.input_transcript.delta",
                    "delta": word,
                    "start_ms": start_ms + span * index // len(words),
                    "end_ms": start_ms + span * (index + 1) // len(words),
                }
            )

    async def _delegate(self, text: str, offset_ms: int) -> bool:
        """Delegate a heard text if the rules say so; whether it was delegated."""
        session = self._session
        delegation = session.session["delegation"]
        if delegation["type"] == "responses":
            tool = session.backend.tool_named(text)
            if tool is None:
                return False
            await session.backend.delegate(text, tool, offset_ms)
            return True
        if delegation["type"] == "client" and text.rstrip().endswith("?"):
            delegation_id = ids.item_id()
            session.delegations[delegation_id] = "client"
            await session.emit(
                {
                    "type": "session.delegation.created",
                    "offset_ms": offset_ms,
                    "delegation": {"id": delegation_id, "type": "delegation", "target": "client"},
                }
            )
            return True
        return False

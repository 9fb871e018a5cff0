"""Debian's Chromium with a fake microphone: shared by the browser tests and the page
latency benchmark."""

import wave
from pathlib import Path

from realtime.emulator import audio

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def microphone_flag(recording: Path) -> str:
    return f"--use-file-for-fake-audio-capture={recording}"


def write_microphone(path: Path, pattern: list[tuple[str, int]]) -> Path:
    """A WAV file Chromium loops as the microphone: ("words", 0) is synthesised speech,
    ("", ms) that much silence, in order."""
    pcm = b"".join(
        audio.synthesize_speech(text) if text else b"\0" * (ms * audio.BYTES_PER_MS)
        for text, ms in pattern
    )
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(audio.SAMPLE_RATE)
        wav.writeframes(pcm)
    return path


# One spoken turn, then silence long enough for the reply to play out undisturbed.
ONE_TURN = [("", 700), ("hello there how are you", 0), ("", 9000)]

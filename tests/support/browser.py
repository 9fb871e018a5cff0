"""Debian's Chromium with a fake microphone: shared by the browser tests and the page
latency benchmark."""

import os
import wave
from pathlib import Path

from realtime.emulator import audio

# Debian's Chromium, which `make deps` installs; CHROMIUM names another (a test of the
# harness points it at nothing).
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
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
    # Chromium leaves 127.0.0.1 and ::1 out of its candidates unless told: with them, the
    # emulator sees a client on this machine and the call pairs on loopback.
    "--allow-loopback-in-peer-connection",
]

# The page sends its offer as soon as it is made, before the browser has gathered any
# candidate (OpenAI needs none), so nothing in it shows that the browser is on this
# machine. Waiting for the candidates here puts them in the offer, so the emulator answers
# on loopback; the page's code is not changed. Each peer is kept for a test to inspect.
LOOPBACK_PEERS = """
window.__peers = [];
window.RTCPeerConnection = class extends window.RTCPeerConnection {
  constructor(...args) {
    super(...args);
    window.__peers.push(this);
  }

  async setLocalDescription(...args) {
    await super.setLocalDescription(...args);
    while (this.iceGatheringState !== "complete") {
      await new Promise((resolve) =>
        this.addEventListener("icegatheringstatechange", resolve, { once: true }),
      );
    }
  }
};
"""


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

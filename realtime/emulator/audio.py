"""The emulator's audio: voice activity detection, speech-like synthesis, format conversion.

Internally everything is PCM16 little-endian mono at 24 kHz, the GA default format.
"""

from __future__ import annotations

import fractions
import functools
import hashlib
import math
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

SAMPLE_RATE = 24_000
BYTES_PER_MS = 48  # PCM16 mono at 24 kHz
WEBRTC_RATE = 48_000
WEBRTC_FRAME_SAMPLES = 960  # 20 ms at 48 kHz
G711_RATE = 8_000
FULL_SCALE = 32768.0

# --- levels -------------------------------------------------------------------------------


def duration_ms(pcm: bytes | bytearray) -> float:
    return len(pcm) / BYTES_PER_MS


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")


def level(pcm: bytes) -> float:
    """RMS as a fraction of full scale, 0..1."""
    samples = _samples(pcm)
    if not samples.size:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))) / FULL_SCALE)


# --- voice activity -----------------------------------------------------------------------

FRAME_MS = 10
FRAME_BYTES = FRAME_MS * BYTES_PER_MS
ONSET_FRAMES = 3  # 30 ms of voiced frames before speech counts: clicks do not
# threshold 0.0 -> -70 dBFS, 0.5 -> -45 dBFS, 1.0 -> -20 dBFS
FLOOR_AT_ZERO_DBFS = -70.0
FLOOR_SPAN_DB = 50.0


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int


class VoiceActivityDetector:
    """Server VAD on internal-format PCM, judged in 10 ms frames.

    A frame is voiced when its RMS level is above a floor that ``threshold`` sets linearly in
    dBFS: 0.0 -> -70, 0.5 -> -45, 1.0 -> -20 (a higher threshold needs louder speech, as in the
    service). Speech starts after 30 ms of consecutive voiced frames, reported at the first
    voiced frame minus ``prefix_padding_ms``; it stops once silence has lasted
    ``silence_duration_ms``, reported at the end of the last voiced frame. Times count from
    the start of all audio fed (or ``position_ms``), like the service's
    ``audio_start_ms``/``audio_end_ms``. ``loudest`` is the highest frame level heard, 0..1.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 200,
        position_ms: int = 0,
    ) -> None:
        floor_dbfs = FLOOR_AT_ZERO_DBFS + FLOOR_SPAN_DB * threshold
        # Compare mean squares, not dB: no log per frame.
        self._floor_power = (10 ** (floor_dbfs / 20) * FULL_SCALE) ** 2
        self._prefix_padding_ms = prefix_padding_ms
        self._silence_frames = max(1, math.ceil(silence_duration_ms / FRAME_MS))
        self._pending = b""
        self._frames = position_ms // FRAME_MS  # whole frames judged so far
        self._loudest_power = 0.0
        self.reset()

    @property
    def loudest(self) -> float:
        return math.sqrt(self._loudest_power) / FULL_SCALE

    @property
    def position_ms(self) -> int:
        return self._frames * FRAME_MS + len(self._pending) // BYTES_PER_MS

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def reset(self) -> None:
        self._in_speech = False
        self._voiced_run = 0
        self._silent_run = 0
        self._last_voiced_end = 0

    def feed(self, pcm: bytes) -> list[SpeechStarted | SpeechStopped]:
        data = self._pending + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        if not whole:
            return []
        frames = np.frombuffer(data[:whole], dtype="<i2").reshape(-1, FRAME_BYTES // 2)
        powers = np.mean(np.square(frames, dtype=np.float64), axis=1)
        self._loudest_power = max(self._loudest_power, float(powers.max()))
        voiced = powers > self._floor_power
        changes: list[SpeechStarted | SpeechStopped] = []
        for is_voiced in voiced.tolist():
            self._frames += 1
            end_ms = self._frames * FRAME_MS
            if is_voiced:
                self._voiced_run += 1
                self._silent_run = 0
                self._last_voiced_end = end_ms
                if not self._in_speech and self._voiced_run >= ONSET_FRAMES:
                    self._in_speech = True
                    first_voiced = end_ms - self._voiced_run * FRAME_MS
                    changes.append(SpeechStarted(max(0, first_voiced - self._prefix_padding_ms)))
            else:
                self._voiced_run = 0
                self._silent_run += 1
                if self._in_speech and self._silent_run >= self._silence_frames:
                    self._in_speech = False
                    changes.append(SpeechStopped(self._last_voiced_end))
        return changes


# --- speech-like synthesis ----------------------------------------------------------------

MS_PER_CHARACTER = 65
MIN_SPEECH_MS = 400
WORD_GAP_MS = 60
PEAK = 10 ** (-6 / 20)  # -6 dBFS
# Rough vowel formants (F1, F2) in Hz; a syllable takes one, chosen from the text.
VOWELS = ((730, 1090), (270, 2290), (530, 1840), (570, 840), (300, 870), (660, 1720))


def speech_duration_ms(text: str) -> int:
    return max(MIN_SPEECH_MS, len(text) * MS_PER_CHARACTER)


@functools.lru_cache(maxsize=512)
def synthesize_speech(text: str) -> bytes:
    """Deterministic, speech-like audio for a transcript: voiced syllables on a moving pitch,
    shaped like vowels, with short gaps between words. Same text, same bytes, so replies
    (which repeat: "I heard 1.2 seconds of audio.") are synthesised once and cached."""
    total = int(speech_duration_ms(text) * SAMPLE_RATE / 1000)
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    t = np.arange(total) / SAMPLE_RATE
    # A gently falling intonation with a slow wobble around a voice in 110..220 Hz.
    base = 110 + 110 * rng.random()
    pitch = base * (1.1 - 0.2 * t / max(t[-1], 1e-9)) * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    words = text.split() or [text or "."]
    envelope = np.zeros(total)
    vowel_of = np.zeros(total, dtype=int)
    letters = sum(len(word) for word in words)
    gap = int(WORD_GAP_MS * SAMPLE_RATE / 1000)
    usable = max(total - gap * (len(words) - 1), len(words))
    cursor = 0
    for word in words:
        length = max(1, int(usable * len(word) / max(letters, 1)))
        syllables = max(1, math.ceil(len(word) / 3))
        for index in range(syllables):
            start = cursor + index * length // syllables
            end = cursor + (index + 1) * length // syllables
            span = np.arange(end - start) / max(end - start - 1, 1)
            # Quick attack, slower decay: the shape of a spoken syllable.
            envelope[start:end] = np.minimum(span / 0.15, 1) * np.minimum((1 - span) / 0.35, 1)
            vowel_of[start:end] = rng.integers(len(VOWELS))
        cursor += length + gap
    signal = np.zeros(total)
    for harmonic in range(1, 9):
        frequency = pitch * harmonic
        gain = np.zeros(total)
        for vowel, (f1, f2) in enumerate(VOWELS):
            mask = vowel_of == vowel
            resonance = np.exp(-(((frequency[mask] - f1) / 150) ** 2)) + 0.6 * np.exp(
                -(((frequency[mask] - f2) / 200) ** 2)
            )
            gain[mask] = (0.3 + resonance) / harmonic
        signal += gain * np.sin(phase * harmonic)
    signal *= envelope
    peak = np.max(np.abs(signal)) or 1.0
    return (signal / peak * PEAK * (FULL_SCALE - 1)).astype("<i2").tobytes()


# --- formats ------------------------------------------------------------------------------


def _resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Speech-grade resampling by linear interpolation; length scales exactly."""
    if source_rate == target_rate or not samples.size:
        return samples.astype(np.float64)
    count = round(samples.size * target_rate / source_rate)
    positions = np.arange(count) * (source_rate / target_rate)
    return np.interp(positions, np.arange(samples.size), samples.astype(np.float64))


def _to_pcm16(samples: np.ndarray) -> bytes:
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


# G.711 per ITU-T G.711, vectorised.
MU_LAW_BIAS = 0x84
MU_LAW_CLIP = 32635


def _mu_law_encode(samples: np.ndarray) -> np.ndarray:
    values = samples.astype(np.int32)
    sign = np.where(values < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(values), MU_LAW_CLIP) + MU_LAW_BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def _mu_law_decode(codes: np.ndarray) -> np.ndarray:
    values = ~codes.astype(np.int32) & 0xFF
    sign = values & 0x80
    exponent = (values >> 4) & 0x07
    mantissa = values & 0x0F
    magnitude = (((mantissa << 3) + MU_LAW_BIAS) << exponent) - MU_LAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude)


def _a_law_encode(samples: np.ndarray) -> np.ndarray:
    values = samples.astype(np.int32)
    sign = np.where(values >= 0, 0x80, 0)
    magnitude = np.minimum(np.abs(values), 32767) >> 3
    exponent = np.clip(np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 4, 0, 7)
    mantissa = np.where(exponent == 0, magnitude >> 1, magnitude >> exponent) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8)


def _a_law_decode(codes: np.ndarray) -> np.ndarray:
    values = codes.astype(np.int32) ^ 0x55
    sign = values & 0x80
    exponent = (values >> 4) & 0x07
    mantissa = values & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1)
    )
    return np.where(sign != 0, magnitude, -magnitude)


G711 = {
    "audio/pcmu": (_mu_law_encode, _mu_law_decode),
    "audio/pcma": (_a_law_encode, _a_law_decode),
}


def to_internal(data: bytes, fmt: dict[str, Any]) -> bytes:
    """Audio in a session format -> internal PCM16 mono 24 kHz."""
    codec = G711.get(fmt.get("type"))
    if codec is None:
        # PCM16 at its own rate: 24 kHz for realtime sessions, 16 or 24 kHz for Live ones.
        rate = fmt.get("rate") or SAMPLE_RATE
        if rate == SAMPLE_RATE:
            return data
        return _to_pcm16(_resample(_samples(data), rate, SAMPLE_RATE))
    decoded = codec[1](np.frombuffer(data, dtype=np.uint8))
    return _to_pcm16(_resample(decoded, G711_RATE, SAMPLE_RATE))


def from_internal(pcm: bytes, fmt: dict[str, Any]) -> bytes:
    """Internal PCM16 mono 24 kHz -> audio in a session format."""
    codec = G711.get(fmt.get("type"))
    if codec is None:
        rate = fmt.get("rate") or SAMPLE_RATE
        if rate == SAMPLE_RATE:
            return pcm
        return _to_pcm16(_resample(_samples(pcm), SAMPLE_RATE, rate))
    narrowband = _resample(_samples(pcm), SAMPLE_RATE, G711_RATE)
    return codec[0](np.clip(np.round(narrowband), -32768, 32767)).tobytes()


def from_webrtc_frame(frame: av.AudioFrame) -> bytes:
    """A decoded WebRTC frame (s16, mono or stereo, any rate) -> internal format."""
    samples = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mono = samples.reshape(channels, -1).astype(np.float64).mean(axis=0)
    else:
        mono = samples.reshape(-1, channels).astype(np.float64).mean(axis=1)
    if frame.sample_rate == 2 * SAMPLE_RATE:
        # 48 kHz, the usual case: average pairs, which also filters a little.
        mono = mono[: mono.size - mono.size % 2].reshape(-1, 2).mean(axis=1)
    else:
        mono = _resample(mono, frame.sample_rate, SAMPLE_RATE)
    return _to_pcm16(mono)


def to_webrtc_frames(pcm: bytes, *, start_pts: int) -> list[av.AudioFrame]:
    """Internal format -> 20 ms frames at 48 kHz mono s16, ready for an aiortc track."""
    wide = np.repeat(_samples(pcm), 2)  # 24 kHz -> 48 kHz by sample doubling
    padding = (-wide.size) % WEBRTC_FRAME_SAMPLES
    wide = np.concatenate([wide, np.zeros(padding, dtype="<i2")]).astype("<i2")
    frames = []
    for index, start in enumerate(range(0, wide.size, WEBRTC_FRAME_SAMPLES)):
        frame = av.AudioFrame.from_ndarray(
            wide[start : start + WEBRTC_FRAME_SAMPLES].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = WEBRTC_RATE
        frame.pts = start_pts + index * WEBRTC_FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, WEBRTC_RATE)
        frames.append(frame)
    return frames

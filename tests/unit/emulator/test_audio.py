"""realtime.emulator.audio: the VAD, speech synthesis and format conversions."""

import fractions

import av
import numpy as np
import pytest

from realtime.emulator import audio
from realtime.emulator.audio import SpeechStarted, SpeechStopped, VoiceActivityDetector

SPEECH = audio.synthesize_speech("hello there, how are you today")


def silence(ms: int) -> bytes:
    return b"\0" * (ms * audio.BYTES_PER_MS)


def tone(ms: int, amplitude: float, frequency: float = 220.0) -> bytes:
    t = np.arange(ms * audio.SAMPLE_RATE // 1000) / audio.SAMPLE_RATE
    return (np.sin(2 * np.pi * frequency * t) * amplitude * 32767).astype("<i2").tobytes()


def feed_in_chunks(detector: VoiceActivityDetector, pcm: bytes, chunk_bytes: int = 960) -> list:
    changes = []
    for start in range(0, len(pcm), chunk_bytes):
        changes += detector.feed(pcm[start : start + chunk_bytes])
    return changes


def test_silence_never_triggers_the_vad():
    assert feed_in_chunks(VoiceActivityDetector(), silence(3000)) == []


def test_speech_starts_and_stops_once_where_it_really_is():
    changes = feed_in_chunks(
        VoiceActivityDetector(prefix_padding_ms=0), silence(500) + SPEECH + silence(500)
    )

    speech_end = 500 + audio.duration_ms(SPEECH)
    assert len(changes) == 2
    start, stop = changes
    assert isinstance(start, SpeechStarted)
    assert isinstance(stop, SpeechStopped)
    assert abs(start.audio_start_ms - 500) <= 20
    assert abs(stop.audio_end_ms - speech_end) <= 20


def test_prefix_padding_moves_the_reported_start_earlier():
    pcm = silence(800) + SPEECH + silence(400)

    [plain, _] = feed_in_chunks(VoiceActivityDetector(prefix_padding_ms=0), pcm)
    [padded, _] = feed_in_chunks(VoiceActivityDetector(prefix_padding_ms=300), pcm)

    assert plain.audio_start_ms - padded.audio_start_ms == 300


def test_the_stop_is_reported_only_after_the_silence_duration():
    detector = VoiceActivityDetector(silence_duration_ms=500)
    feed_in_chunks(detector, silence(200) + SPEECH)

    early = feed_in_chunks(detector, silence(400))
    late = feed_in_chunks(detector, silence(200))

    assert early == []
    assert [type(change) for change in late] == [SpeechStopped]


def test_a_higher_threshold_ignores_quieter_speech():
    quiet = silence(300) + tone(600, amplitude=0.01) + silence(400)  # about -43 dBFS

    assert len(feed_in_chunks(VoiceActivityDetector(threshold=0.3), quiet)) == 2
    assert feed_in_chunks(VoiceActivityDetector(threshold=0.8), quiet) == []


def test_a_five_millisecond_click_is_not_speech():
    click = silence(300) + tone(5, amplitude=0.9) + silence(500)

    assert feed_in_chunks(VoiceActivityDetector(), click) == []


def test_odd_sized_chunks_give_the_same_events_as_one_feed():
    pcm = silence(300) + SPEECH + silence(400)

    whole = VoiceActivityDetector().feed(pcm)
    pieces = feed_in_chunks(VoiceActivityDetector(), pcm, chunk_bytes=333)

    assert pieces == whole


def test_reset_forgets_speech_but_keeps_the_clock():
    detector = VoiceActivityDetector()
    feed_in_chunks(detector, silence(200) + SPEECH[: len(SPEECH) // 2])
    assert detector.in_speech
    position = detector.position_ms

    detector.reset()

    assert not detector.in_speech
    assert detector.position_ms == position


def test_speech_synthesis_is_deterministic_and_follows_the_text_length():
    short, long = audio.synthesize_speech("hi there"), audio.synthesize_speech("hi there " * 6)

    assert audio.synthesize_speech("hi there") == short
    assert audio.synthesize_speech("hi thera") != short
    assert audio.duration_ms(long) > 4 * audio.duration_ms(short) / 2
    assert audio.duration_ms(short) == audio.speech_duration_ms("hi there")


def test_speech_peaks_near_minus_six_dbfs():
    peak = np.max(np.abs(np.frombuffer(SPEECH, dtype="<i2"))) / 32768

    assert abs(20 * np.log10(peak) + 6) < 0.5


def test_speech_is_never_shorter_than_400_ms():
    assert audio.duration_ms(audio.synthesize_speech("")) == 400


@pytest.mark.parametrize("law", ["audio/pcmu", "audio/pcma"])
def test_g711_round_trips_keep_level_and_duration(law):
    encoded = audio.from_internal(SPEECH, {"type": law})
    decoded = audio.to_internal(encoded, {"type": law})

    assert len(encoded) == len(SPEECH) // 6  # 8 kHz, one byte a sample
    assert len(decoded) == len(SPEECH)
    level_change_db = 20 * np.log10(audio.level(decoded) / audio.level(SPEECH))
    assert abs(level_change_db) < 1


def test_pcm_at_24_khz_passes_through_unchanged():
    pcm_format = {"type": "audio/pcm", "rate": 24000}

    assert audio.to_internal(SPEECH, pcm_format) == SPEECH
    assert audio.from_internal(SPEECH, pcm_format) == SPEECH


def test_a_stereo_48_khz_webrtc_frame_becomes_internal_audio():
    t = np.arange(960) / 48_000
    sine = (np.sin(2 * np.pi * 440 * t) * 10_000).astype("<i2")
    frame = av.AudioFrame.from_ndarray(
        np.repeat(sine, 2).reshape(1, -1), format="s16", layout="stereo"
    )
    frame.sample_rate = 48_000

    pcm = audio.from_webrtc_frame(frame)

    assert audio.duration_ms(pcm) == 20
    assert abs(audio.level(pcm) - 10_000 / 32768 / np.sqrt(2)) < 0.01


def test_internal_audio_becomes_consecutive_20_ms_webrtc_frames():
    frames = audio.to_webrtc_frames(SPEECH[: 50 * audio.BYTES_PER_MS], start_pts=960)

    assert len(frames) == 3  # 50 ms, the last frame padded
    assert [frame.samples for frame in frames] == [960, 960, 960]
    assert [frame.pts for frame in frames] == [960, 1920, 2880]
    assert frames[0].sample_rate == 48_000
    assert frames[0].time_base == fractions.Fraction(1, 48_000)


def test_level_is_zero_for_nothing_and_silence():
    assert audio.level(b"") == 0.0
    assert audio.level(silence(100)) == 0.0

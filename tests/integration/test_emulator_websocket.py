"""The emulator's WebSocket: the handshake's failures, in-session errors and conversations."""

import asyncio
import base64
import json

import httpx
import pytest
import websockets

from realtime.emulator import audio
from tests.support.realtime_client import connect, silence, types

KEY = "sk-test-emulator-key"
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def url(emulator) -> str:
    return f"{emulator.websocket_url}/realtime?model=gpt-realtime-2.1"


async def closed_with(client) -> tuple[int, str]:
    with pytest.raises(websockets.ConnectionClosed):
        await client.next()
    return client.socket.close_code, client.socket.close_reason


async def text_session(client, **session) -> None:
    """Switch a session to text output with VAD off, and wait for the update."""
    await client.until("session.created")
    await client.update_session(
        {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": None}},
            **session,
        }
    )


async def say_text(client, text: str) -> None:
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    await client.until("conversation.item.done")
    await client.send({"type": "response.create"})


def decoded_audio(events) -> bytes:
    return b"".join(
        base64.b64decode(event["delta"])
        for event in events
        if event["type"] == "response.output_audio.delta"
    )


# --- the handshake ---------------------------------------------------------------------------


async def test_a_bad_key_gets_an_error_event_then_close_3000(url):
    async with connect(url, key="xx-" + "not-a-key" * 3) as client:
        event = await client.next()
        code, reason = await closed_with(client)

    assert event["type"] == "error"
    assert event["error"]["code"] == "invalid_api_key"
    assert event["error"]["event_id"] is None
    assert (code, reason) == (3000, "invalid_request_error.invalid_api_key")


async def test_no_credentials_gets_close_3000_without_a_code(url):
    async with connect(url) as client:
        event = await client.next()
        code, reason = await closed_with(client)

    assert event["error"]["message"] == "Missing bearer or basic authentication in header"
    assert event["error"]["code"] is None
    assert (code, reason) == (3000, "invalid_request_error")


@pytest.mark.parametrize(
    ("query", "code"),
    [("", "missing_model"), ("?model=gpt-nope", "invalid_model")],
)
async def test_a_missing_or_bad_model_gets_close_4000(emulator, query, code):
    async with connect(f"{emulator.websocket_url}/realtime{query}", key=KEY) as client:
        event = await client.next()
        close = await closed_with(client)

    assert event["error"]["code"] == code
    assert close == (4000, f"invalid_request_error.{code}")


async def test_a_shut_down_model_gets_an_error_event_instead_of_session_created(emulator):
    query = "?model=gpt-4o-realtime-preview"  # shut down on 2026-05-07
    async with connect(f"{emulator.websocket_url}/realtime{query}", key=KEY) as client:
        event = await client.next()
        close = await closed_with(client)

    assert event["type"] == "error"
    assert (event["error"]["code"], event["error"]["message"]) == (
        "invalid_model",
        'Model "gpt-4o-realtime-preview" is not supported in realtime mode.',
    )
    assert close == (4000, "invalid_request_error.invalid_model")


async def test_a_secret_minted_for_a_shut_down_model_is_refused_when_it_connects(url, emulator):
    async with httpx.AsyncClient() as api:
        answer = await api.post(
            f"{emulator.base_url}/realtime/client_secrets",
            json={"session": {"type": "realtime", "model": "gpt-4o-realtime-preview"}},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    protocols = ["realtime", f"openai-insecure-api-key.{answer.json()['value']}"]

    async with connect(url, subprotocols=protocols) as client:
        event = await client.next()
        close = await closed_with(client)

    assert answer.status_code == 200  # the mint takes any model; connecting is refused
    assert event["error"]["code"] == "invalid_model"
    assert close == (4000, "invalid_request_error.invalid_model")


@pytest.mark.parametrize("model", ["gpt-realtime-2.1", "gpt-realtime-2.1-mini", "gpt-audio-1.5"])
async def test_current_models_get_session_created(emulator, model):
    async with connect(f"{emulator.websocket_url}/realtime?model={model}", key=KEY) as client:
        created = await client.next()

    assert created["type"] == "session.created"
    assert created["session"]["model"] == model


async def test_a_session_update_to_a_shut_down_model_is_refused_and_changes_nothing(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.send(
            {
                "type": "session.update",
                "event_id": "evt_1",
                "session": {
                    "type": "realtime",
                    "model": "gpt-4o-realtime-preview",
                    "instructions": "Speak French.",
                },
            }
        )
        error = await client.next()
        after = await client.update_session({"type": "realtime"})

    assert (error["error"]["code"], error["error"]["param"]) == ("invalid_model", "session.model")
    assert error["error"]["event_id"] == "evt_1"
    assert after["model"] == "gpt-realtime-2.1"
    assert after["instructions"] != "Speak French."  # the whole update was discarded


async def test_a_beta_header_gets_close_4000_beta_api_shape_disabled(url):
    async with connect(url, key=KEY, headers={"OpenAI-Beta": "realtime=v1"}) as client:
        event = await client.next()
        close = await closed_with(client)

    assert event["error"]["code"] == "beta_api_shape_disabled"
    assert close == (4000, "invalid_request_error.beta_api_shape_disabled")


async def test_an_unknown_call_id_is_refused_at_the_handshake_with_404(emulator):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(f"{emulator.websocket_url}/realtime?call_id=rtc_u1_nope", key=KEY):
            pass

    assert refused.value.response.status_code == 404


async def test_a_browser_secret_in_the_subprotocols_is_accepted_selecting_realtime(url, emulator):
    async with httpx.AsyncClient() as api:
        answer = await api.post(
            f"{emulator.base_url}/realtime/client_secrets",
            json={"session": {"type": "realtime", "instructions": "Be terse."}},
            headers={"Authorization": f"Bearer {KEY}"},
        )
    minted = answer.json()
    protocols = [
        "realtime",
        f"openai-insecure-api-key.{minted['value']}",
        "openai-agents-sdk.0.20.0",
    ]

    async with connect(url, subprotocols=protocols) as client:
        created = await client.next()

    assert client.socket.subprotocol == "realtime"
    assert created["type"] == "session.created"
    assert created["session"]["instructions"] == "Be terse."


async def test_session_created_is_first_and_expires_in_an_hour(url):
    async with connect(url, key=KEY) as client:
        created = await client.next()

    assert created["type"] == "session.created"
    assert created["session"]["model"] == "gpt-realtime-2.1"
    import time

    assert abs(created["session"]["expires_at"] - (time.time() + 3600)) < 10


# --- errors inside a session are not fatal ---------------------------------------------------


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "invalid_json"),
        (b"\x00\x01binary", "invalid_event"),
        (json.dumps({"type": "nope", "event_id": "evt_1"}), "invalid_value"),
        (
            json.dumps(
                {"type": "session.update", "session": {"type": "realtime", "bogus_field": 1}}
            ),
            "unknown_parameter",
        ),
        ("[" * 100_000 + "]" * 100_000, "invalid_json"),  # deeper than Python's parser goes
        (
            '{"type": "session.update", "session": {"type": "realtime", "metadata": '
            + "[" * 200
            + "]" * 200
            + "}}",
            "invalid_json",  # deeper than the service reads
        ),
    ],
    ids=["not json", "binary", "unknown type", "unknown field", "too deep to parse", "too deep"],
)
async def test_bad_client_events_get_an_error_event_and_the_session_goes_on(url, message, code):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.socket.send(message)
        error = await client.next()
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "instructions": "still here"},
            }
        )
        updated = await client.until("session.updated")

    assert error["type"] == "error"
    assert error["error"]["code"] == code
    assert updated[-1]["session"]["instructions"] == "still here"


async def test_an_unknown_type_names_the_supported_values_and_echoes_the_event_id(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.send({"type": "nope", "event_id": "evt_client_1"})
        error = (await client.next())["error"]

    assert error["param"] == "type"
    assert error["event_id"] == "evt_client_1"
    assert error["message"].startswith("Invalid value: 'nope'. Supported values are: ")


async def test_a_rejected_session_update_changes_nothing(url):
    async with connect(url, key=KEY) as client:
        created = (await client.next())["session"]
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "instructions": "changed", "bogus_field": True},
            }
        )
        error = (await client.next())["error"]
        await client.send({"type": "session.update", "session": {"type": "realtime"}})
        after = (await client.until("session.updated"))[-1]["session"]

    assert error["param"] == "session.bogus_field"
    assert after["instructions"] == created["instructions"]


async def test_session_update_without_a_type_is_missing_required_parameter(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.send({"type": "session.update", "session": {"instructions": "x"}})
        error = (await client.next())["error"]

    assert (error["code"], error["param"]) == ("missing_required_parameter", "session.type")


# --- conversations ---------------------------------------------------------------------------


async def test_a_text_turn_follows_the_services_event_order(url):
    async with connect(url, key=KEY) as client:
        await text_session(client)
        await say_text(client, "hello emulator")
        events = await client.until("rate_limits.updated")

    order = [kind for kind in types(events) if kind != "response.output_text.delta"]
    assert order == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == 'You said: "hello emulator".'
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "completed"
    assert done["usage"]["output_token_details"]["text_tokens"] == -(-len(text) // 4)


async def test_an_audio_turn_with_server_vad_follows_the_services_event_order(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.say()
        events = await client.until("rate_limits.updated")

    order = [
        kind
        for kind in types(events)
        if kind not in {"response.output_audio.delta", "response.output_audio_transcript.delta"}
    ]
    assert order == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
        "rate_limits.updated",
    ]


async def test_the_audio_reply_is_audible_and_states_what_was_heard(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.say("one two three four five six")
        events = await client.until("response.done")

    pcm = decoded_audio(events)
    assert audio.level(pcm) > 0.05
    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")[
        "transcript"
    ]
    assert transcript.startswith("I heard ")
    assert transcript.endswith(" seconds of audio.")
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    heard_seconds = float(transcript.split()[2])
    assert abs(heard_seconds - (stopped["audio_end_ms"] - started["audio_start_ms"]) / 1000) < 0.1
    usage = next(e for e in events if e["type"] == "response.done")["response"]["usage"]
    assert usage["output_token_details"]["audio_tokens"] == -(-int(audio.duration_ms(pcm)) // 50)
    assert usage["input_token_details"]["audio_tokens"] > 0


async def test_input_transcription_reports_the_speech_when_enabled(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.update_session(
            {
                "type": "realtime",
                "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
            }
        )
        await client.say()
        events = await client.until("conversation.item.input_audio_transcription.completed")

    completed = events[-1]
    assert completed["transcript"].endswith("seconds of speech)")
    assert completed["usage"]["type"] == "tokens"
    assert "conversation.item.input_audio_transcription.delta" in types(events)


async def test_silence_after_a_reply_past_idle_timeout_triggers_a_prompt(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.update_session(
            {
                "type": "realtime",
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}
                },
            }
        )
        await client.say()
        await client.until("rate_limits.updated")
        await client.append(silence(4900))
        with pytest.raises(TimeoutError):
            await client.next(seconds=0.3)  # not yet: under 5 s of silence
        await client.append(silence(200))
        events = await client.until("response.done")

    triggered = events[0]
    assert triggered["type"] == "input_audio_buffer.timeout_triggered"
    assert triggered["audio_end_ms"] - triggered["audio_start_ms"] >= 5000
    assert types(events)[1:4] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    reply = events[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert reply == "Are you still there?"


async def test_with_vad_off_commit_needs_100_ms_and_creates_no_response(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.update_session(
            {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        await client.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
        empty = await client.next()
        await client.append(audio.synthesize_speech("a few words"))
        await client.send({"type": "input_audio_buffer.commit"})
        committed = await client.until("conversation.item.done")
        await client.send({"type": "input_audio_buffer.clear"})
        cleared = await client.next()

    assert empty["error"]["code"] == "input_audio_buffer_commit_empty"
    assert empty["error"]["event_id"] == "evt_commit"
    assert types(committed) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert cleared["type"] == "input_audio_buffer.cleared"


async def test_a_second_response_while_one_is_active_is_refused(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.send({"type": "response.create"})
        created = await client.until("response.created")
        await client.send({"type": "response.create"})
        events = await client.until("error")

    assert events[-1]["error"]["code"] == "conversation_already_has_active_response"
    assert created[-1]["response"]["id"] in events[-1]["error"]["message"]


async def test_response_cancel_ends_the_response_as_cancelled(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.send({"type": "response.create"})
        await client.until("response.content_part.added")
        await client.send({"type": "response.cancel"})
        done = (await client.until("response.done"))[-1]["response"]

    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"


async def test_cancel_with_nothing_active_is_an_error(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.send({"type": "response.cancel"})
        error = (await client.next())["error"]

    assert error["code"] == "response_cancel_not_active"


async def test_speech_during_a_response_cancels_it_turn_detected(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.send({"type": "response.create"})
        await client.until("response.content_part.added")
        await client.append(audio.synthesize_speech("wait a moment please"))
        events = await client.until("response.done")

    assert "input_audio_buffer.speech_started" in types(events)
    assert events[-1]["response"]["status_details"]["reason"] == "turn_detected"


async def test_truncate_cuts_the_assistant_audio_and_its_transcript(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.say()
        events = await client.until("response.done")
        item = events[-1]["response"]["output"][0]
        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item["id"],
                "content_index": 0,
                "audio_end_ms": 300,
            }
        )
        truncated = await client.next()
        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item["id"],
                "content_index": 0,
                "audio_end_ms": 999_999,
            }
        )
        too_long = await client.until("error")
        await client.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
        retrieved = await client.until("conversation.item.retrieved")

    assert truncated == {
        **truncated,
        "type": "conversation.item.truncated",
        "item_id": item["id"],
        "audio_end_ms": 300,
    }
    assert too_long[-1]["error"]["param"] == "audio_end_ms"
    assert retrieved[-1]["item"]["content"][0]["transcript"] == ""


async def test_an_item_is_inserted_after_its_previous_item_id_or_at_the_root(url):
    def message(text):
        return {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }

    async with connect(url, key=KEY) as client:
        await text_session(client)
        await client.send({"type": "conversation.item.create", "item": message("first")})
        first = (await client.until("conversation.item.done"))[-1]["item"]
        await client.send({"type": "conversation.item.create", "item": message("second")})
        await client.until("conversation.item.done")
        await client.send(
            {
                "type": "conversation.item.create",
                "item": message("between"),
                "previous_item_id": first["id"],
            }
        )
        between = (await client.until("conversation.item.done"))[-1]
        await client.send(
            {
                "type": "conversation.item.create",
                "item": message("zeroth"),
                "previous_item_id": "root",
            }
        )
        zeroth = (await client.until("conversation.item.done"))[-1]
        await client.send(
            {
                "type": "conversation.item.create",
                "item": message("lost"),
                "previous_item_id": "item_nosuchitem",
            }
        )
        missing = (await client.until("error"))[-1]["error"]

    assert between["previous_item_id"] == first["id"]
    assert zeroth["previous_item_id"] is None
    assert (missing["code"], missing["param"]) == ("item_not_found", "previous_item_id")


async def test_a_long_silence_does_not_grow_the_input_buffer(url, emulator):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.append(silence(20_000))
        await client.say()
        events = await client.until("response.done")

    transcript = next(e for e in events if e["type"] == "response.output_audio_transcript.done")[
        "transcript"
    ]
    seconds = float(transcript.split()[2])
    assert seconds < 3  # the speech and its padding, not the 20 s of silence before it


async def test_items_can_be_retrieved_and_deleted(url):
    async with connect(url, key=KEY) as client:
        await text_session(client)
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "remember me"}],
                },
            }
        )
        item = (await client.until("conversation.item.done"))[-1]["item"]
        await client.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
        retrieved = await client.next()
        await client.send({"type": "conversation.item.delete", "item_id": item["id"]})
        deleted = await client.next()
        await client.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
        missing = await client.next()

    assert retrieved["item"]["content"][0]["text"] == "remember me"
    assert deleted == {**deleted, "type": "conversation.item.deleted", "item_id": item["id"]}
    assert missing["error"]["code"] == "item_not_found"


async def test_a_user_text_naming_a_tool_gets_a_function_call_then_an_answer(url):
    async with connect(url, key=KEY) as client:
        await text_session(client, tools=[TOOL])
        await say_text(client, "get_weather Paris")
        events = await client.until("response.done")
        call = events[-1]["response"]["output"][0]
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": '{"sky": "clear"}',
                },
            }
        )
        await client.until("conversation.item.done")
        await client.send({"type": "response.create"})
        answer = await client.until("response.done")

    assert call["type"] == "function_call"
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["name"] == "get_weather"
    text = answer[-1]["response"]["output"][0]["content"][0]["text"]
    assert text == 'The get_weather tool returned: {"sky": "clear"}.'


async def test_without_a_tools_name_the_model_answers_in_words(url):
    async with connect(url, key=KEY) as client:
        await text_session(client, tools=[TOOL])
        await say_text(client, "tell me a joke")
        done = (await client.until("response.done"))[-1]["response"]

    assert done["output"][0]["type"] == "message"


async def test_the_voice_cannot_change_once_the_assistant_has_spoken(url):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.send({"type": "response.create"})
        await client.until("response.done")
        await client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}},
            }
        )
        error = (await client.until("error"))[-1]["error"]

    assert error["code"] == "cannot_update_voice"


async def test_g711_mu_law_in_and_out(url):
    mu_law = {"type": "audio/pcmu"}
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.update_session(
            {
                "type": "realtime",
                "audio": {"input": {"format": mu_law}, "output": {"format": mu_law}},
            }
        )
        speech = audio.from_internal(
            silence(200) + audio.synthesize_speech("hello there") + silence(600), mu_law
        )
        for start in range(0, len(speech), 160):  # 20 ms of 8 kHz µ-law
            await client.send(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(speech[start : start + 160]).decode(),
                }
            )
        events = await client.until("response.done")

    reply = decoded_audio(events)
    assert "input_audio_buffer.speech_started" in types(events)
    assert audio.level(audio.to_internal(reply, mu_law)) > 0.05


async def test_a_transcription_session_transcribes_and_never_responds(emulator):
    url = f"{emulator.websocket_url}/realtime?intent=transcription"
    async with connect(url, key=KEY) as client:
        created = await client.next()
        await client.update_session(
            {
                "type": "transcription",
                "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
            }
        )
        await client.say()
        events = await client.until("conversation.item.input_audio_transcription.completed")
        with pytest.raises(TimeoutError):
            await client.next(seconds=0.5)

    assert created["session"]["object"] == "realtime.transcription_session"
    assert not any(kind.startswith("response.") for kind in types(events))


async def test_a_session_ends_with_session_expired():
    from realtime.emulator.testing import EmulatorProcess

    with EmulatorProcess("--session-seconds", "1", "--check-events") as short:
        async with connect(
            f"{short.websocket_url}/realtime?model=gpt-realtime-2.1", key=KEY
        ) as client:
            await client.until("session.created")
            error = await client.next(seconds=5)
            with pytest.raises(websockets.ConnectionClosed):
                await client.next()
        assert short.invalid_events() == []

    assert error["error"]["code"] == "session_expired"


# --- faults ----------------------------------------------------------------------------------


async def test_an_injected_drop_breaks_the_socket_after_n_events(url, emulator):
    emulator.fault("realtime", drop_after_events=1)

    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        code, _ = await closed_with(client)

    assert code == 1011


async def test_an_injected_never_open_leaves_the_handshake_pending(url, emulator):
    emulator.fault("realtime", never_open=True)

    async def open_socket() -> None:
        async with connect(url, key=KEY):
            pass

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(open_socket(), 1)


async def test_an_injected_status_refuses_the_handshake(url, emulator):
    emulator.fault("realtime", status=500)

    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(url, key=KEY):
            pass

    assert refused.value.response.status_code == 500


async def test_client_events_are_recorded_with_audio_elided(url, emulator):
    async with connect(url, key=KEY) as client:
        await client.until("session.created")
        await client.append(silence(40))

    events = [record["event"] for record in emulator.received() if record["kind"] == "event"]
    assert events[0]["type"] == "input_audio_buffer.append"
    assert events[0]["audio"].endswith("base64 characters>")

"""The official openai SDK, pointed at the emulator, completes realtime turns unchanged.

With ``--check-events`` the emulator also validates every event it sends with the SDK's
strict discriminated union; the ``emulator_judge`` fixture fails a test on any rejection.
"""

import base64

from openai import AsyncOpenAI

from realtime.emulator import audio
from tests.support.realtime_client import silence

KEY = "sk-test-emulator-key"


def client_for(emulator) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=KEY,
        base_url=emulator.base_url,
        websocket_base_url=emulator.websocket_url,
        max_retries=0,
    )


async def events_until(connection, event_type: str) -> list:
    seen = []
    async for event in connection:
        seen.append(event)
        if event.type == event_type:
            return seen
    raise AssertionError(f"the connection closed before {event_type}")


async def test_the_sdk_completes_a_text_turn(emulator):
    async with client_for(emulator).realtime.connect(model="gpt-realtime-2.1") as connection:
        await connection.session.update(session={"type": "realtime", "output_modalities": ["text"]})
        await connection.conversation.item.create(
            item={
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello from the SDK"}],
            }
        )
        await connection.response.create()
        events = await events_until(connection, "response.done")

    done = events[-1].response
    assert done.status == "completed"
    assert done.output[0].content[0].text == 'You said: "hello from the SDK".'
    assert done.usage.total_tokens > 0


async def test_the_sdk_completes_an_audio_turn(emulator):
    speech = silence(200) + audio.synthesize_speech("hello from the SDK") + silence(600)
    async with client_for(emulator).realtime.connect(model="gpt-realtime-2.1") as connection:
        await events_until(connection, "session.created")
        for start in range(0, len(speech), 960):
            await connection.input_audio_buffer.append(
                audio=base64.b64encode(speech[start : start + 960]).decode()
            )
        events = await events_until(connection, "response.done")

    kinds = [event.type for event in events]
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.created")
    reply = b"".join(
        base64.b64decode(event.delta)
        for event in events
        if event.type == "response.output_audio.delta"
    )
    assert audio.level(reply) > 0.05
    assert events[-1].response.status == "completed"


async def test_the_sdk_reads_the_refusal_of_a_shut_down_model(emulator):
    async with client_for(emulator).realtime.connect(model="gpt-4o-realtime-preview") as connection:
        event = await connection.recv()

    assert event.type == "error"
    assert (event.error.code, event.error.param) == ("invalid_model", "model")

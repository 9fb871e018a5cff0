"""realtime.emulator.schema: what the service accepts, and its errors word for word."""

from datetime import date
from typing import get_args

import pytest
from openai.types.realtime import (
    RealtimeClientEvent,
    RealtimeSessionCreateRequest,
    RealtimeSessionCreateResponse,
)
from openai.types.realtime.realtime_transcription_session_create_response import (
    RealtimeTranscriptionSessionCreateResponse,
)

from realtime.emulator import availability, schema, sessions
from realtime.emulator.errors import ApiError


def refusal(function, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as raised:
        function(*args, **kwargs)
    return raised.value


# --- client secrets --------------------------------------------------------------------------


def test_an_empty_client_secret_body_is_a_realtime_session_for_ten_minutes():
    assert schema.validate_client_secret_request({}) == (600, {"type": "realtime"})


def test_top_level_model_in_client_secret_body_is_an_unknown_parameter():
    error = refusal(schema.validate_client_secret_request, {"model": "gpt-realtime"})

    assert (error.message, error.code, error.param, error.status) == (
        "Unknown parameter: 'model'.",
        "unknown_parameter",
        "model",
        400,
    )


@pytest.mark.parametrize(
    ("seconds", "code", "message"),
    [
        (9, "integer_below_min_value", "Expected a value >= 10, but got 9 instead."),
        (7201, "integer_above_max_value", "Expected a value <= 7200, but got 7201 instead."),
    ],
)
def test_expiry_bounds_are_10_to_7200_seconds(seconds, code, message):
    error = refusal(
        schema.validate_client_secret_request,
        {"expires_after": {"anchor": "created_at", "seconds": seconds}},
    )

    assert (error.code, error.param) == (code, "expires_after.seconds")
    assert error.message.endswith(message)


def test_the_only_expiry_anchor_is_created_at():
    error = refusal(
        schema.validate_client_secret_request, {"expires_after": {"anchor": "now", "seconds": 60}}
    )

    assert error.message == "Invalid value: 'now'. Supported values are: 'created_at'."
    assert error.param == "expires_after.anchor"


def test_a_session_without_type_is_missing_required_parameter():
    error = refusal(schema.validate_client_secret_request, {"session": {"model": "gpt-realtime"}})

    assert (error.message, error.code) == (
        "Missing required parameter: 'session.type'.",
        "missing_required_parameter",
    )


def test_string_audio_format_is_an_invalid_type():
    error = refusal(
        schema.validate_session_request,
        {"type": "realtime", "audio": {"input": {"format": "pcm16"}}},
    )

    assert error.message == (
        "Invalid type for 'session.audio.input.format': expected an object, but got a string "
        "instead."
    )
    assert (error.code, error.param) == ("invalid_type", "session.audio.input.format")


def test_rate_16000_is_below_minimum():
    error = refusal(
        schema.validate_session_request,
        {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
    )

    assert error.code == "integer_below_min_value"
    assert error.param == "session.audio.input.format.rate"
    assert "Expected a value >= 24000" in error.message


def test_an_unknown_format_lists_the_supported_ones():
    error = refusal(
        schema.validate_session_request,
        {"type": "realtime", "audio": {"output": {"format": {"type": "audio/mp3"}}}},
    )

    assert error.message == (
        "Invalid value: 'audio/mp3'. Supported values are: 'audio/pcm', 'audio/pcmu', and "
        "'audio/pcma'."
    )


@pytest.mark.parametrize(
    ("session", "param"),
    [
        ({"voice": "alloy"}, "session.voice"),
        ({"modalities": ["audio"]}, "session.modalities"),
        ({"audio": {"input": {"bogus": 1}}}, "session.audio.input.bogus"),
        ({"tools": [{"type": "function", "name": "f", "strict": True}]}, "session.tools[0].strict"),
    ],
)
def test_beta_and_unknown_fields_are_unknown_parameters_with_their_path(session, param):
    error = refusal(schema.validate_session_request, {"type": "realtime", **session})

    assert (error.code, error.param) == ("unknown_parameter", param)


def test_both_output_modalities_at_once_are_refused():
    error = refusal(
        schema.validate_session_request,
        {"type": "realtime", "output_modalities": ["audio", "text"]},
    )

    assert error.code == "invalid_value"


def test_threshold_is_a_decimal_between_0_and_1():
    error = refusal(
        schema.validate_session_request,
        {
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}},
        },
    )

    assert error.code == "decimal_above_max_value"


def test_a_boolean_is_not_an_integer():
    error = refusal(
        schema.validate_session_request,
        {
            "type": "realtime",
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": True}}
            },
        },
    )

    assert error.message.endswith("expected an integer, but got a boolean instead.")


def test_calls_accept_only_realtime_sessions():
    error = refusal(schema.validate_session_request, {"type": "transcription"}, types=("realtime",))

    assert error.message == "Invalid value: 'transcription'. Supported values are: 'realtime'."


def test_a_wide_valid_request_is_accepted_and_valid_for_the_sdk_too():
    request = {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "Be kind.",
        "output_modalities": ["text"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "noise_reduction": {"type": "far_field"},
                "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en"},
                "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
            },
            "output": {
                "format": {"type": "audio/pcma"},
                "voice": {"id": "voice_123"},
                "speed": 1.2,
            },
        },
        "tools": [
            {
                "type": "function",
                "name": "lookup",
                "description": "Look up.",
                "parameters": {"type": "object", "properties": {}},
            }
        ],
        "tool_choice": {"type": "function", "name": "lookup"},
        "max_output_tokens": 1024,
        "tracing": "auto",
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.8},
        "include": ["item.input_audio_transcription.logprobs"],
        "prompt": {"id": "pmpt_1", "version": "2", "variables": {"city": "Paris"}},
    }

    assert schema.validate_session_request(request) is request
    RealtimeSessionCreateRequest.model_validate(request)


# --- effective sessions ----------------------------------------------------------------------


def test_the_default_session_is_the_services_and_valid_for_the_sdk():
    session = sessions.effective_session(None)

    RealtimeSessionCreateResponse.model_validate(session)
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "alloy",
        "speed": 1.0,
    }
    assert session["instructions"].startswith("Your knowledge cutoff is 2023-10.")


def test_a_transcription_session_has_its_own_object_and_is_valid_for_the_sdk():
    session = sessions.effective_session({"type": "transcription"})

    RealtimeTranscriptionSessionCreateResponse.model_validate(session)
    assert session["object"] == "realtime.transcription_session"
    assert "instructions" not in session


def test_requested_fields_go_over_the_defaults():
    session = sessions.effective_session(
        {
            "type": "realtime",
            "audio": {
                "output": {"voice": "cedar"},
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 700}},
            },
        }
    )

    assert session["audio"]["output"]["voice"] == "cedar"
    assert session["audio"]["output"]["speed"] == 1.0
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700
    assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.5


def test_a_semantic_vad_request_gets_semantic_defaults():
    session = sessions.effective_session(
        {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}
    )

    assert session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": True,
    }
    RealtimeSessionCreateResponse.model_validate(session)


# --- session.update --------------------------------------------------------------------------


def test_session_update_without_type_is_missing_required_parameter():
    error = refusal(
        sessions.apply_session_update, sessions.effective_session(None), {"instructions": "x"}
    )

    assert (error.code, error.param) == ("missing_required_parameter", "session.type")


def test_session_update_with_unknown_field_names_it_and_changes_nothing():
    current = sessions.effective_session(None)
    before = repr(current)

    error = refusal(
        sessions.apply_session_update,
        current,
        {"type": "realtime", "instructions": "new", "bogus_field": 1},
    )

    assert error.message == "Unknown parameter: 'session.bogus_field'."
    assert repr(current) == before


def test_turn_detection_null_disables_vad():
    updated = sessions.apply_session_update(
        sessions.effective_session(None),
        {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
    )

    assert updated["audio"]["input"]["turn_detection"] is None
    RealtimeSessionCreateResponse.model_validate(updated)


def test_session_update_merges_deeply_and_keeps_the_rest():
    current = sessions.effective_session(None)

    updated = sessions.apply_session_update(
        current, {"type": "realtime", "audio": {"output": {"speed": 1.25}}}
    )

    assert updated["audio"]["output"]["speed"] == 1.25
    assert updated["audio"]["output"]["voice"] == "alloy"
    assert updated["id"] == current["id"]
    assert current["audio"]["output"]["speed"] == 1.0


def test_a_session_cannot_change_its_type():
    error = refusal(
        sessions.apply_session_update, sessions.effective_session(None), {"type": "transcription"}
    )

    assert error.param == "session.type"


def test_temperature_is_accepted_and_ignored_as_the_service_does():
    updated = sessions.apply_session_update(
        sessions.effective_session(None), {"type": "realtime", "temperature": 0.8}
    )

    assert "temperature" not in updated


@pytest.mark.parametrize("field", ["id", "object", "expires_at"])
def test_read_only_session_fields_are_unknown_parameters(field):
    error = refusal(
        sessions.apply_session_update,
        sessions.effective_session(None),
        {"type": "realtime", field: "x"},
    )

    assert error.param == f"session.{field}"


# --- models ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", ["gpt-realtime-2.1", "gpt-realtime-2.1-mini", "gpt-realtime-2", "gpt-audio-1.5"]
)
def test_current_realtime_and_audio_models_are_served(model):
    availability.check_served(model)


@pytest.mark.parametrize("model", ["gpt-4o-realtime-preview", "gpt-realtime-mini-2025-10-06"])
def test_a_shut_down_model_is_refused_as_any_model_the_service_does_not_serve(model):
    error = refusal(availability.check_served, model)

    assert (error.message, error.code, error.param, error.status) == (
        f'Model "{model}" is not supported in realtime mode.',
        "invalid_model",
        "model",
        400,
    )


def test_a_model_is_refused_from_its_shutdown_date_on():
    availability.check_served("gpt-realtime", today=date(2027, 1, 19))

    error = refusal(availability.check_served, "gpt-realtime", today=date(2027, 1, 20))

    assert error.code == "invalid_model"


def test_the_default_model_gives_way_to_its_replacement_once_shut_down():
    assert availability.default_model(date(2027, 1, 19)) == "gpt-realtime"
    assert availability.default_model(date(2027, 1, 20)) == "gpt-realtime-2.1"


def test_the_current_transcription_model_is_accepted():
    request = {
        "type": "realtime",
        "model": "gpt-realtime-2.1",
        "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
    }

    assert schema.validate_client_secret_request({"session": request}) == (600, request)


def test_session_update_to_a_shut_down_model_is_refused_and_changes_nothing():
    current = sessions.effective_session({"type": "realtime", "model": "gpt-realtime-2.1"})

    error = refusal(
        sessions.apply_session_update,
        current,
        {"type": "realtime", "model": "gpt-4o-realtime-preview", "instructions": "Hi."},
    )

    assert (error.code, error.param) == ("invalid_model", "session.model")
    assert current["instructions"] != "Hi."


def test_session_update_naming_the_current_model_is_accepted():
    current = sessions.effective_session({"type": "realtime", "model": "gpt-realtime-2.1"})
    update = {"type": "realtime", "model": "gpt-realtime-2.1"}

    assert sessions.apply_session_update(current, update)["model"] == "gpt-realtime-2.1"


# --- items, responses, client events ---------------------------------------------------------


def test_a_user_message_cannot_carry_assistant_content():
    error = refusal(
        schema.validate_item,
        {"type": "message", "role": "user", "content": [{"type": "output_text", "text": "hi"}]},
    )

    assert error.param == "item.content[0].type"


def test_a_function_call_output_needs_its_call_id():
    error = refusal(schema.validate_item, {"type": "function_call_output", "output": "{}"})

    assert error.message == "Missing required parameter: 'item.call_id'."


def test_response_create_validates_its_params_under_response():
    error = refusal(schema.validate_response_create, {"max_output_tokens": 5000})

    assert (error.code, error.param) == ("integer_above_max_value", "response.max_output_tokens")


def test_response_create_accepts_item_references():
    params = {"input": [{"type": "item_reference", "id": "item_1"}], "conversation": "none"}

    assert schema.validate_response_create(params) is params


def test_an_event_without_type_is_invalid_event():
    error = refusal(schema.validate_client_event, {"session": {}})

    assert (error.message, error.code) == ("The 'type' field is missing.", "invalid_event")


def test_an_unknown_event_type_lists_the_supported_types():
    error = refusal(schema.validate_client_event, {"type": "nope"})

    supported = ", ".join(f"'{kind}'" for kind in schema.CLIENT_EVENT_TYPES[:-1])
    assert error.message == (
        f"Invalid value: 'nope'. Supported values are: {supported}, and "
        f"'{schema.CLIENT_EVENT_TYPES[-1]}'."
    )
    assert error.param == "type"


def test_an_event_with_a_stray_field_names_it():
    error = refusal(schema.validate_client_event, {"type": "response.cancel", "bogus": 1})

    assert error.message == "Unknown parameter: 'bogus'."


def test_truncate_needs_all_three_fields():
    error = refusal(
        schema.validate_client_event,
        {"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0},
    )

    assert error.param == "audio_end_ms"


def test_the_accepted_event_types_are_the_sdks_client_events():
    union = get_args(RealtimeClientEvent)[0]  # Annotated[Union[...], discriminator]
    sdk_types = {get_args(model.model_fields["type"].annotation)[0] for model in get_args(union)}

    assert set(schema.CLIENT_EVENT_TYPES) == sdk_types

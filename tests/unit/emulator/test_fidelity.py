"""The judge: the openai SDK's strict union accepts the service's events and catches others."""

from realtime.emulator.fidelity import event_checker

PART_ADDED = {
    "type": "response.content_part.added",
    "event_id": "event_1",
    "response_id": "resp_1",
    "item_id": "item_1",
    "output_index": 0,
    "content_index": 0,
    "part": {"type": "audio", "transcript": ""},
}


def test_a_valid_event_passes_the_judge():
    invalid: list = []

    event_checker(invalid)(PART_ADDED)

    assert invalid == []


def test_an_item_content_type_in_a_content_part_is_caught():
    # The trap the GA docs warn of: parts are "audio"/"text", not "output_audio".
    invalid: list = []

    event_checker(invalid)({**PART_ADDED, "part": {"type": "output_audio", "transcript": ""}})

    assert len(invalid) == 1
    assert invalid[0]["event"]["type"] == "response.content_part.added"


def test_function_call_arguments_done_without_a_name_is_caught():
    invalid: list = []

    event_checker(invalid)(
        {
            "type": "response.function_call_arguments.done",
            "event_id": "event_2",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "call_id": "call_1",
            "arguments": "{}",
        }
    )

    assert len(invalid) == 1

"""Server tools: what the model is told of a function, what it is told back, and the checks."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from realtime.checks import check_server_tools
from realtime.conf import get_settings
from realtime.tools import ToolContext
from realtime.tools.calls import ServerToolCalls
from realtime.tools.registry import describe, load, registered_tools
from realtime.tools.runner import run

TOOLS = "tests.support.tools"
CONTEXT = ToolContext(user=None, session_id=7, transport="websocket", client_ip="127.0.0.1")


def tool(name: str):
    return describe(f"{TOOLS}.{name}")


def test_a_function_becomes_a_tool_named_and_described_by_itself():
    definition = tool("lookup_order").definition()
    assert definition["type"] == "function"
    assert definition["name"] == "lookup_order"
    # The docstring's first paragraph only; the context parameter is not the model's.
    assert definition["description"] == "Look up an order by its number: its status, and who asked."
    assert definition["parameters"] == {
        "type": "object",
        "properties": {"order": {"title": "Order", "type": "string"}},
        "required": ["order"],
        "additionalProperties": False,
    }


def test_the_schema_follows_the_hints_literals_enums_lists_optionals_and_models():
    parameters = tool("ship").definition()["parameters"]
    properties = parameters["properties"]
    assert parameters["required"] == ["address", "size"]
    assert properties["speed"]["enum"] == ["standard", "express"]
    assert properties["weight"]["type"] == "number"
    assert {"items": {"type": "string"}, "type": "array"} in properties["items"]["anyOf"]
    definitions = parameters["$defs"]
    assert definitions["Size"]["enum"] == ["small", "large"]
    assert definitions["Address"]["required"] == ["street", "city"]  # a TypedDict
    assert definitions["Gift"]["properties"]["wrapped"]["type"] == "boolean"  # a dataclass


def test_every_unusable_entry_is_named_with_its_reason():
    paths = [
        f"{TOOLS}.lookup_order",
        f"{TOOLS}.takes_an_opaque_thing",
        f"{TOOLS}.untyped",
        f"{TOOLS}.undocumented",
        f"{TOOLS}.NOT_A_FUNCTION",
        "tests.support.no_such_module.tool",
        f"{TOOLS}.lookup_order",
        f"{TOOLS}.add_numbers",
    ]
    tools, problems = load(paths, declared_names=["add_numbers"])
    assert list(tools) == ["lookup_order"]
    reasons = dict(problems)
    assert "cannot be told about" in reasons[f"{TOOLS}.takes_an_opaque_thing"]
    assert "Opaque" in reasons[f"{TOOLS}.takes_an_opaque_thing"]
    assert reasons[f"{TOOLS}.untyped"] == "parameter 'order' has no type hint"
    assert "no docstring" in reasons[f"{TOOLS}.undocumented"]
    assert reasons[f"{TOOLS}.NOT_A_FUNCTION"] == "is not a function"
    assert "cannot be imported" in reasons["tests.support.no_such_module.tool"]
    assert [message for path, message in problems if path == f"{TOOLS}.lookup_order"] == [
        f"a tool named 'lookup_order' exists already ({TOOLS}.lookup_order)"
    ]
    assert "exists already (REALTIME_TOOLS)" in reasons[f"{TOOLS}.add_numbers"]


@override_settings(REALTIME_SERVER_TOOLS=[f"{TOOLS}.lookup_order", f"{TOOLS}.untyped"])
def test_a_bad_entry_is_a_check_error_naming_it():
    errors = check_server_tools()
    assert [error.id for error in errors] == ["realtime.E018"]
    assert f"'{TOOLS}.untyped'" in errors[0].msg
    with pytest.raises(SystemCheckError, match=r"realtime\.E018.*tests\.support\.tools\.untyped"):
        call_command("check")


@override_settings(REALTIME_SERVER_TOOLS=[f"{TOOLS}.lookup_order", f"{TOOLS}.add_numbers"])
def test_sessions_the_server_configures_declare_its_tools_beside_the_declared_ones():
    declared = {"type": "function", "name": "client_side", "parameters": {"type": "object"}}
    with override_settings(REALTIME_TOOLS=[declared]):
        tools = get_settings().session_config()["tools"]
    assert [tool["name"] for tool in tools] == ["client_side", "lookup_order", "add_numbers"]
    assert list(registered_tools()) == ["lookup_order", "add_numbers"]


# --- one run ---------------------------------------------------------------------------------


async def test_a_sync_tool_runs_with_the_context_of_who_asks():
    result = await run(tool("lookup_order"), '{"order": "42"}', CONTEXT, time_limit=5)
    assert result.status == "completed"
    assert json.loads(result.output) == {
        "order": "42",
        "status": "shipped",
        "asked_by": None,
        "transport": "websocket",
    }
    assert result.duration_ms > 0


async def test_an_async_tool_runs_on_the_loop_and_its_result_is_json():
    result = await run(tool("add_numbers"), '{"first": 40}', CONTEXT, time_limit=5)
    assert (result.status, result.output) == ("completed", "42")


async def test_a_tool_that_raises_tells_the_model_the_error():
    result = await run(tool("explode"), '{"reason": "drill"}', CONTEXT, time_limit=5)
    assert result.status == "error"
    assert json.loads(result.output) == {"error": "RuntimeError: the warehouse is on fire (drill)"}


async def test_a_tool_past_its_timeout_tells_the_model_so():
    for name in ("dawdle", "dawdle_in_a_thread"):
        result = await run(tool(name), '{"reason": "x"}', CONTEXT, time_limit=0.2)
        assert result.status == "timeout"
        assert json.loads(result.output) == {"error": f"{name} did not finish within 0.2 seconds"}
        assert result.duration_ms < 2000


async def test_arguments_that_do_not_fit_are_refused_before_the_function_runs():
    result = await run(tool("add_numbers"), '{"first": "forty", "third": 1}', CONTEXT, time_limit=5)
    assert result.status == "invalid_arguments"
    error = json.loads(result.output)["error"]
    assert error.startswith("invalid arguments for add_numbers: first:")
    assert "third: Extra inputs are not permitted" in error
    broken = await run(tool("add_numbers"), '{"first": 4', CONTEXT, time_limit=5)
    assert broken.status == "invalid_arguments"


async def test_an_error_never_tells_the_model_a_secret():
    key = "sk-" + "proj-" + "a" * 40
    result = await run(tool("explode"), json.dumps({"reason": key}), CONTEXT, time_limit=5)
    assert key not in result.output
    assert "sk-" in result.output  # masked, not dropped


# --- a session's calls -----------------------------------------------------------------------


class Upstream:
    """What ServerToolCalls sends, as OpenAI would receive it."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def types(self) -> list[str]:
        return [event["type"] for event in self.sent]


def calls_of(upstream: Upstream, *names: str) -> ServerToolCalls:
    return ServerToolCalls(
        {name: tool(name) for name in names},
        upstream.send,
        transport="websocket",
        user_id=None,
        client_ip=None,
        timeout=5,
    )


def arguments_done(call_id: str, name: str, arguments: str) -> str:
    return json.dumps(
        {
            "type": "response.function_call_arguments.done",
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
            "item_id": f"item_{call_id}",
        }
    )


def response_done(*items: dict) -> str:
    return json.dumps(
        {"type": "response.done", "response": {"status": "completed", "output": list(items)}}
    )


async def settle(calls: ServerToolCalls) -> None:
    while calls.running:
        await asyncio.wait(list(calls.running.values()))
    await asyncio.sleep(0.01)


async def test_a_call_is_answered_with_its_output_then_one_response_after_the_callers_response():
    upstream = Upstream()
    calls = calls_of(upstream, "add_numbers")
    calls.server_frame(json.dumps({"type": "response.created"}))
    calls.server_frame(arguments_done("call_1", "add_numbers", '{"first": 1}'))
    await settle(calls)
    # The output is sent at once; the response waits for the one under way to end.
    assert upstream.types() == ["conversation.item.create"]
    assert upstream.sent[0]["item"] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": "3",
    }
    # response.done repeats the call: it is not run twice.
    calls.server_frame(
        response_done({"type": "function_call", "call_id": "call_1", "name": "add_numbers"})
    )
    await settle(calls)
    assert upstream.types() == ["conversation.item.create", "response.create"]
    assert calls.owns("call_1")
    assert not calls.owns("call_2")


async def test_parallel_calls_are_answered_with_one_response_after_the_last():
    upstream = Upstream()
    calls = calls_of(upstream, "add_numbers", "wait_a_moment")
    calls.server_frame(json.dumps({"type": "response.created"}))
    calls.server_frame(
        response_done(
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "add_numbers",
                "arguments": '{"first": 2}',
            },
            {
                "type": "function_call",
                "call_id": "c2",
                "name": "wait_a_moment",
                "arguments": '{"reason": "r"}',
            },
        )
    )
    await settle(calls)
    assert upstream.types() == [
        "conversation.item.create",
        "conversation.item.create",
        "response.create",
    ]


async def test_a_call_of_a_tool_the_server_does_not_have_is_left_to_the_client():
    upstream = Upstream()
    calls = calls_of(upstream, "add_numbers")
    calls.server_frame(arguments_done("call_9", "client_side", "{}"))
    calls.server_frame(response_done())
    await settle(calls)
    assert upstream.sent == []
    assert not calls.owns("call_9")
    refusal = calls.refusal(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_9"},
        }
    )
    assert refusal is None


async def test_a_clients_output_for_a_server_call_is_refused():
    upstream = Upstream()
    calls = calls_of(upstream, "add_numbers")
    calls.server_frame(arguments_done("call_1", "add_numbers", '{"first": 1}'))
    refusal = calls.refusal(
        {
            "type": "conversation.item.create",
            "event_id": "evt_client",
            "item": {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": "Tool add_numbers not found",
            },
        }
    )
    assert refusal["type"] == "error"
    assert refusal["error"]["code"] == "server_tool_call"
    assert refusal["error"]["event_id"] == "evt_client"
    await settle(calls)


async def test_closing_cancels_the_runs_under_way():
    upstream = Upstream()
    calls = calls_of(upstream, "dawdle")
    calls.server_frame(arguments_done("call_1", "dawdle", '{"reason": "x"}'))
    await asyncio.sleep(0.05)
    await calls.close()
    assert calls.running == {}
    assert upstream.sent == []


async def test_a_call_whose_response_barge_in_cancelled_still_gets_its_output():
    upstream = Upstream()
    calls = calls_of(upstream, "add_numbers")
    calls.server_frame(json.dumps({"type": "response.created"}))
    cancelled = {
        "type": "response.done",
        "response": {
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "output": [
                {
                    "type": "function_call",
                    "status": "completed",
                    "call_id": "call_1",
                    "name": "add_numbers",
                    "arguments": '{"first": 5}',
                }
            ],
        },
    }
    calls.server_frame(json.dumps(cancelled))
    # The user's new turn is answered meanwhile: the tool's answer waits for it.
    calls.server_frame(json.dumps({"type": "response.created"}))
    await settle(calls)
    assert upstream.types() == ["conversation.item.create"]
    assert upstream.sent[0]["item"]["output"] == "7"
    calls.server_frame(response_done())
    await settle(calls)
    assert upstream.types() == ["conversation.item.create", "response.create"]


async def test_the_readmes_example_tool_tells_the_time_and_an_unknown_zone_is_an_error():
    example = describe("voiceproject.example_tools.current_time")
    assert example.definition()["parameters"]["properties"]["timezone"]["default"] == "UTC"
    result = await run(example, '{"timezone": "Europe/Paris"}', CONTEXT, time_limit=5)
    answer = json.loads(result.output)
    assert (answer["timezone"], answer["asked_by"]) == ("Europe/Paris", "a visitor")
    unknown = await run(example, '{"timezone": "Mars/Olympus"}', CONTEXT, time_limit=5)
    assert unknown.status == "error"
    assert "Mars/Olympus" in json.loads(unknown.output)["error"]


async def test_a_refused_ask_for_the_answer_is_made_again_after_the_response_under_way():
    upstream = Upstream()
    calls = calls_of(upstream, "add_numbers")
    calls.server_frame(arguments_done("call_1", "add_numbers", '{"first": 1}'))
    await settle(calls)
    calls.server_frame(response_done())
    await settle(calls)
    ask = upstream.sent[-1]
    assert ask["type"] == "response.create"
    # A client's response.create got there first: ours is refused, the other runs.
    calls.server_frame(
        json.dumps(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "conversation_already_has_active_response",
                    "event_id": ask["event_id"],
                },
            }
        )
    )
    await settle(calls)
    assert upstream.types().count("response.create") == 1
    calls.server_frame(response_done())
    await settle(calls)
    assert upstream.types().count("response.create") == 2

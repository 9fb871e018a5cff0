"""Decide what the emulated model answers: a deterministic reply, or a call to a tool.

The "model" is deterministic, so tests can tell a real round trip from silence:

- an audio turn is answered "I heard N.N seconds of audio." (N.N the committed speech);
- a text turn is answered 'You said: "<text>".';
- with function tools in the session, a user text that names a tool (case-insensitive,
  whole word) makes the response a call to that tool (``tool_choice`` "required" calls the
  first tool, "none" never calls one); its arguments give every string property of the
  tool's parameters the user's text with the tool's name removed, numbers 0, booleans false.
  After the client adds the ``function_call_output`` and sends ``response.create``, the
  answer is 'The <name> tool returned: <output>.';
- a silent stretch committed by the idle timeout is answered "Are you still there?".
"""

from __future__ import annotations

import re
from typing import Any

from realtime.emulator.items import Items, message_text


def reply_text(items: Items) -> str:
    """Return what the model says to the conversation's last user or tool item."""
    last = items.last_user_or_tool()
    if last is None:
        return "How can I help?"
    if last["type"] == "function_call_output":
        call = next(
            (
                item
                for item in items.by_id.values()
                if item.get("type") == "function_call" and item.get("call_id") == last["call_id"]
            ),
            None,
        )
        name = call["name"] if call else "function"
        return f"The {name} tool returned: {last.get('output', '')}."
    text = message_text(last)
    if text is not None:
        return f'You said: "{text}".'
    if last["id"] in items.idle_ids:
        return "Are you still there?"
    seconds = items.audio_ms.get(last["id"], 0) / 1000
    return f"I heard {seconds:.1f} seconds of audio."


def tool_to_call(
    items: Items, session: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any] | None:
    """Return the function tool the response calls, or None when it speaks instead."""
    tools = [
        tool
        for tool in params.get("tools", session.get("tools") or [])
        if tool.get("type") == "function"
    ]
    choice = params.get("tool_choice", session.get("tool_choice", "auto"))
    last = items.last_user_or_tool()
    if not tools or choice == "none" or last is None or last["type"] != "message":
        return None
    if isinstance(choice, dict):
        return next((tool for tool in tools if tool["name"] == choice.get("name")), None)
    if choice == "required":
        return tools[0]
    text = (message_text(last) or "").lower()
    return next(
        (tool for tool in tools if re.search(rf"\b{re.escape(tool['name'].lower())}\b", text)),
        None,
    )


def tool_arguments(tool: dict[str, Any], user_text: str) -> dict[str, Any]:
    """Return the call's arguments: the user's text without the tool's name, 0 or false."""
    mention = re.sub(rf"\b{re.escape(tool['name'])}\b", "", user_text, flags=re.IGNORECASE)
    mention = " ".join(mention.split())
    defaults = {"string": mention, "number": 0, "integer": 0, "boolean": False}
    properties = (tool.get("parameters") or {}).get("properties") or {}
    return {
        name: defaults.get(spec.get("type"))
        for name, spec in properties.items()
        if isinstance(spec, dict) and spec.get("type") in defaults
    }

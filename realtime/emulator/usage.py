"""Count the tokens a response or a transcription uses, and the rate limits they leave.

Token usage follows the lengths: text is one token per 4 characters (rounded up), input audio
one token per 100 ms, output audio one token per 50 ms.
"""

from __future__ import annotations

import math
from typing import Any

from realtime.emulator.items import Items, message_text

RATE_LIMIT_TOKENS = 40_000


def response_usage(items: Items, session: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """Return the usage of a response whose output is ``item``: the conversation is its input."""
    context_text = "".join(
        message_text(entry) or "" for entry in items.by_id.values() if entry is not item
    ) + str(session.get("instructions") or "")
    input_text = text_tokens(context_text)
    input_audio = sum(
        audio_tokens_in(ms)
        for item_id, ms in items.audio_ms.items()
        if items.by_id.get(item_id, {}).get("role") == "user"
    )
    if item["type"] == "function_call":
        output_text, output_audio = text_tokens(item["arguments"]), 0
    else:
        part = item["content"][0] if item["content"] else {}
        output_text = text_tokens(part.get("transcript") or part.get("text") or "")
        output_audio = audio_tokens_out(items.audio_ms.get(item["id"], 0))
    cached = (input_text + input_audio) // 2
    total = input_text + input_audio + output_text + output_audio
    return {
        "total_tokens": total,
        "input_tokens": input_text + input_audio,
        "output_tokens": output_text + output_audio,
        "input_token_details": {
            "text_tokens": input_text,
            "audio_tokens": input_audio,
            "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {
                "text_tokens": min(cached, input_text),
                "audio_tokens": cached - min(cached, input_text),
                "image_tokens": 0,
            },
        },
        "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
    }


def rate_limits(tokens_used: int) -> list[dict[str, Any]]:
    """Return the session's rate limits once it has used ``tokens_used`` tokens."""
    return [
        {
            "name": "tokens",
            "limit": RATE_LIMIT_TOKENS,
            "remaining": max(0, RATE_LIMIT_TOKENS - tokens_used),
            "reset_seconds": round(tokens_used / RATE_LIMIT_TOKENS * 60, 3),
        }
    ]


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def audio_tokens_in(ms: float) -> int:
    return math.ceil(ms / 100)


def audio_tokens_out(ms: float) -> int:
    return math.ceil(ms / 50)

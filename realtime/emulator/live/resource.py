"""Resolve the ``SessionResource`` a Live session reports, and the changes an update makes.

The resource is what ``session.started``, ``session.updated`` and ``session.closed`` carry:
the startup configuration with the server's defaults filled in, and only the fields of the
SDK's ``openai/types/live/session_resource.py`` (so ``idle_timeout_s`` and ``wake_policy``,
accepted by a WebRTC create, are kept apart and never echoed).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from realtime.emulator import audio
from realtime.emulator.errors import ApiError

DEFAULT_VOICE = "marin"
DEFAULT_FORMAT = {"type": "audio/pcm", "rate": audio.SAMPLE_RATE}
# acknowledgement_delay_ms when a session names none: 400 with decisions, 0 otherwise.
DEFAULT_ACKNOWLEDGEMENT_MS = {"client": 0, "responses": 0, "decisions": 400}
# The Live models and their dated snapshots (gpt-live-1-2026-09-01).
LIVE_MODEL = re.compile(r"^gpt-live-1(\.1)?(-\d{4}-\d{2}-\d{2})?$")


def check_model(model: str, *, param: str = "session.model") -> None:
    """Raise the service's refusal unless ``model`` is a Live model.

    A Realtime model (the realtime emulator's family: "realtime" in the name, or
    ``gpt-audio…``) is refused as ``invalid_model``, as the reverse mistake is on
    ``/v1/realtime``; any other name is ``model_not_found``.
    """
    if LIVE_MODEL.match(model):
        return
    if "realtime" in model or model.startswith("gpt-audio"):
        raise ApiError(
            f'Model "{model}" is not supported in live mode; use it with /v1/realtime.',
            code="invalid_model",
            param=param,
        )
    raise ApiError(
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
        param=param,
    )


def resolve(
    config: dict[str, Any], *, session_id: str, expires_at: int, transport: str
) -> dict[str, Any]:
    """Return the session resource for a validated startup ``config``."""
    requested_audio = config.get("audio") or {}
    voice = (requested_audio.get("output") or {}).get("voice") or DEFAULT_VOICE
    resolved_audio: dict[str, Any] = {"output": {"voice": voice}}
    if transport == "websocket":
        resolved_audio["format"] = requested_audio.get("format") or dict(DEFAULT_FORMAT)
    resource = {
        "id": session_id,
        "expires_at": expires_at,
        "model": config["model"],
        "status": "active",
        "audio": resolved_audio,
        "delegation": _resolve_delegation(config.get("delegation")),
        "input": config.get("input") or [],
        "instructions": config.get("instructions") or None,
        "safety_identifier": config.get("safety_identifier"),
        "store": bool(config.get("store")),
        "triggers": config.get("triggers") or [],
    }
    if config.get("client"):
        resource["client"] = config["client"]
    return copy.deepcopy(resource)


def apply_update(resource: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Return the resource with a validated ``session.update`` applied.

    The delegation keeps its type; fields an update omits keep their values (a null one
    clears it); ``triggers`` is replaced when given, an empty list disabling them.
    """
    updated = copy.deepcopy(resource)
    if "delegation" in update:
        current = updated["delegation"]
        change = update["delegation"] or {"type": "client"}
        if change["type"] != current["type"]:
            raise ApiError(
                f"Cannot change the delegation type from '{current['type']}' to "
                f"'{change['type']}' after the session has started.",
                code="invalid_value",
                param="session.delegation.type",
            )
        for key, value in change.items():
            if key in {"responses", "decisions"} and value is not None:
                settings = current.setdefault(key, {})
                settings.update(value)
                for cleared in [name for name, kept in settings.items() if kept is None]:
                    del settings[cleared]
            elif key == "acknowledgement_delay_ms" and value is not None:
                current[key] = value
    if update.get("triggers") is not None:
        updated["triggers"] = update["triggers"]
    return updated


def delegation_type(resource: dict[str, Any]) -> str:
    return resource["delegation"]["type"]


def input_format(resource: dict[str, Any]) -> dict[str, Any]:
    """Return the format of the session's audio on its primary WebSocket."""
    return resource["audio"].get("format") or DEFAULT_FORMAT


def _resolve_delegation(delegation: dict[str, Any] | None) -> dict[str, Any]:
    resolved = dict(delegation or {"type": "client"})
    if resolved.get("acknowledgement_delay_ms") is None:
        resolved["acknowledgement_delay_ms"] = DEFAULT_ACKNOWLEDGEMENT_MS[resolved["type"]]
    return resolved

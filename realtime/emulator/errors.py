"""The service's error shape, for REST answers and WebSocket ``error`` events."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the real service would report: over REST with ``status``, over WebSocket as
    a non-fatal ``error`` event."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        type: str = "invalid_request_error",
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.type = type
        self.status = status

    def body(self) -> dict[str, Any]:
        """The REST body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def event(self, event_id: str, client_event_id: str | None) -> dict[str, Any]:
        """The WebSocket/data-channel ``error`` event."""
        return {
            "type": "error",
            "event_id": event_id,
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "event_id": client_event_id,
            },
        }


def unknown_parameter(param: str) -> ApiError:
    return ApiError(f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)


def missing_parameter(param: str) -> ApiError:
    return ApiError(
        f"Missing required parameter: '{param}'.", code="missing_required_parameter", param=param
    )

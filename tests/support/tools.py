"""Server tools the tests name in REALTIME_SERVER_TOOLS: one of each kind a project writes."""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass
from typing import Literal

from typing_extensions import TypedDict  # pydantic needs its TypedDict before Python 3.12

from realtime.tools import ToolContext


def lookup_order(order: str, context: ToolContext) -> dict:
    """Look up an order by its number: its status, and who asked.

    This second paragraph is for developers; the model sees only the first.
    """
    user = context.user
    return {
        "order": order,
        "status": "shipped",
        "asked_by": user.get_username() if user is not None else None,
        "transport": context.transport,
    }


async def add_numbers(first: int, second: int = 2) -> int:
    """Add two numbers."""
    await asyncio.sleep(0)
    return first + second


def explode(reason: str) -> str:
    """A tool that always fails."""
    raise RuntimeError(f"the warehouse is on fire ({reason})")


async def dawdle(reason: str) -> str:
    """A tool that never finishes in time."""
    await asyncio.sleep(60)
    return "too late"


def dawdle_in_a_thread(reason: str) -> str:
    """A sync tool that never finishes in time."""
    time.sleep(3)
    return "too late"


async def wait_a_moment(reason: str) -> str:
    """Take a second, then answer."""
    await asyncio.sleep(1.5)
    return f"done waiting ({reason.strip()})"


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


class Address(TypedDict):
    street: str
    city: str


@dataclass
class Gift:
    wrapped: bool
    note: str | None = None


def ship(
    address: Address,
    size: Size,
    speed: Literal["standard", "express"] = "standard",
    items: list[str] | None = None,
    gift: Gift | None = None,
    weight: float = 1.0,
) -> str:
    """Ship a parcel."""
    return f"{size.value} parcel to {address['city']} ({speed}, {len(items or [])} items)"


class Opaque:
    pass


def takes_an_opaque_thing(thing: Opaque) -> str:
    """A parameter pydantic cannot describe."""
    return "never"


def untyped(order) -> str:
    """No type hint."""
    return "never"


def undocumented(order: str) -> str:
    return "never"


NOT_A_FUNCTION = 42

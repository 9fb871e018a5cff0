"""Check a JSON value against a spec, and refuse it in the service's wording.

A spec is a small tree of frozen dataclasses (:class:`Str`, :class:`Obj`, :class:`Tagged`, …)
that says what the service accepts; :func:`check` walks a value against it and raises
:class:`ApiError` with the message, code and param the service answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from realtime.emulator.errors import ApiError, missing_parameter, unknown_parameter

# --- the spec language --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Spec:
    nullable: bool = False


@dataclass(frozen=True)
class Anything(Spec):
    """Any JSON value: free-form objects such as a tool's JSON-schema parameters."""


@dataclass(frozen=True)
class Str(Spec):
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Int(Spec):
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Num(Spec):
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Bool(Spec):
    pass


@dataclass(frozen=True)
class Arr(Spec):
    item: Spec = field(default_factory=Anything)


@dataclass(frozen=True)
class Obj(Spec):
    fields: dict[str, Spec] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    values: Spec | None = None  # a map: any key, each value of this spec


@dataclass(frozen=True)
class Tagged(Spec):
    """An object whose ``type`` picks its shape; ``default`` is the shape when ``type`` is
    absent, if it may be."""

    variants: dict[str, Obj] = field(default_factory=dict)
    default: str | None = None


@dataclass(frozen=True)
class Either(Spec):
    """One of several specs, picked by the value's JSON type."""

    options: tuple[Spec, ...] = ()


def obj(required: tuple[str, ...] = (), nullable: bool = False, **fields: Spec) -> Obj:
    """Return an object spec whose fields are given as keywords."""
    return Obj(fields=fields, required=required, nullable=nullable)


# --- the walker ---------------------------------------------------------------------------


def json_type(value: Any) -> str:
    """Return how the service names a JSON value's type in its errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _expected(spec: Spec) -> str:
    return {
        Str: "a string",
        Int: "an integer",
        Num: "a number",
        Bool: "a boolean",
        Arr: "an array",
    }.get(type(spec), "an object")


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def invalid_type(path: str, spec: Spec, value: Any) -> ApiError:
    return ApiError(
        f"Invalid type for '{path}': expected {_expected(spec)}, but got "
        f"{json_type(value)} instead.",
        code="invalid_type",
        param=path,
    )


def invalid_value(path: str, value: Any, choices: tuple[str, ...]) -> ApiError:
    listed = [f"'{choice}'" for choice in choices]
    supported = (
        listed[0]
        if len(listed) == 1
        else ", ".join(listed[:-1]) + ("," if len(listed) > 2 else "") + f" and {listed[-1]}"
    )
    return ApiError(
        f"Invalid value: '{value}'. Supported values are: {supported}.",
        code="invalid_value",
        param=path,
    )


def _out_of_range(path: str, value: float, kind: str, bound: float, below: bool) -> ApiError:
    relation, word = (">=", "below minimum") if below else ("<=", "above maximum")
    return ApiError(
        f"Invalid '{path}': {kind} {word} value. Expected a value {relation} {bound}, but got "
        f"{value} instead.",
        code=f"{kind}_{'below_min' if below else 'above_max'}_value",
        param=path,
    )


def check(spec: Spec, value: Any, path: str) -> None:
    """Raise the service's ApiError if ``value`` does not fit ``spec``."""
    if value is None:
        if spec.nullable or isinstance(spec, Anything):
            return
        raise invalid_type(path, spec, value)
    if isinstance(spec, Anything):
        return
    if isinstance(spec, Either):
        for option in spec.options:
            if _fits_json_type(option, value):
                check(option, value, path)
                return
        raise invalid_type(path, spec.options[-1], value)
    if isinstance(spec, Tagged):
        _check_tagged(spec, value, path)
        return
    if not _fits_json_type(spec, value):
        raise invalid_type(path, spec, value)
    if isinstance(spec, Str) and spec.choices is not None and value not in spec.choices:
        raise invalid_value(path, value, spec.choices)
    if isinstance(spec, Int | Num):
        kind = "integer" if isinstance(spec, Int) else "decimal"
        if spec.minimum is not None and value < spec.minimum:
            raise _out_of_range(path, value, kind, spec.minimum, below=True)
        if spec.maximum is not None and value > spec.maximum:
            raise _out_of_range(path, value, kind, spec.maximum, below=False)
    if isinstance(spec, Arr):
        for index, element in enumerate(value):
            check(spec.item, element, f"{path}[{index}]")
    if isinstance(spec, Obj):
        _check_object(spec, value, path)


def _fits_json_type(spec: Spec, value: Any) -> bool:
    if isinstance(spec, Str):
        return isinstance(value, str)
    if isinstance(spec, Int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(spec, Num):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(spec, Bool):
        return isinstance(value, bool)
    if isinstance(spec, Arr):
        return isinstance(value, list)
    if isinstance(spec, Obj | Tagged):
        return isinstance(value, dict)
    return True


def _check_object(spec: Obj, value: dict[str, Any], path: str) -> None:
    for key, element in value.items():
        if spec.values is not None:
            check(spec.values, element, join_path(path, key))
        elif key not in spec.fields:
            raise unknown_parameter(join_path(path, key))
        else:
            check(spec.fields[key], element, join_path(path, key))
    for key in spec.required:
        if key not in value:
            raise missing_parameter(join_path(path, key))


def _check_tagged(spec: Tagged, value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise invalid_type(path, Obj(), value)
    tag = value.get("type", spec.default)
    if tag is None:
        raise missing_parameter(join_path(path, "type"))
    if tag not in spec.variants:
        raise invalid_value(join_path(path, "type"), tag, tuple(spec.variants))
    _check_object(spec.variants[tag], value, path)

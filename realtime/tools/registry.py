"""The server's tools: plain Python functions named in ``REALTIME_SERVER_TOOLS``.

Each dotted path names a function, sync or async. Its name is the tool's name, its
docstring's first paragraph the description, and its parameters' type hints the JSON schema
the model sees: pydantic builds one model of the parameters (``arguments_model``), which
both writes the schema (``TypeAdapter(...).json_schema()``, as openai-agents does) and
checks the arguments the model sends before the function runs. A parameter named
``context`` is not the model's: it receives a ``realtime.tools.ToolContext``.

``load`` reports every entry it cannot use (a bad path, a duplicate name, a hint pydantic
cannot describe) as a ``ToolProblem`` naming it: ``manage.py check`` shows them
(``realtime.E018``), and ``registered_tools`` refuses to serve a broken list.
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple, get_type_hints

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model

CONTEXT_PARAMETER = "context"
# OpenAI's rule for a function tool's name.
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
CHECK_ID = "realtime.E018"


@dataclass(frozen=True)
class ServerTool:
    """A function the server runs when the model calls it."""

    path: str
    function: Callable[..., Any]
    name: str
    description: str
    arguments_model: type[BaseModel]
    parameters: dict[str, Any]  # the JSON schema of arguments_model
    takes_context: bool

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.function)

    def definition(self) -> dict[str, Any]:
        """The function tool as a session declares it to the model."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": copy.deepcopy(self.parameters),
        }


class ToolProblem(NamedTuple):
    path: str
    message: str


def load(
    paths: Iterable[str], declared_names: Iterable[str] = ()
) -> tuple[dict[str, ServerTool], list[ToolProblem]]:
    """Import and describe each path; return the tools by name and the problems found."""
    tools: dict[str, ServerTool] = {}
    problems: list[ToolProblem] = []
    declared = set(declared_names)
    for path in paths:
        try:
            tool = describe(path)
        except ToolError as error:
            problems.append(ToolProblem(path, str(error)))
            continue
        if tool.name in tools or tool.name in declared:
            where = "REALTIME_TOOLS" if tool.name in declared else tools[tool.name].path
            problems.append(
                ToolProblem(path, f"a tool named {tool.name!r} exists already ({where})")
            )
            continue
        tools[tool.name] = tool
    return tools, problems


class ToolError(Exception):
    """A function that cannot be a tool, and why."""


def describe(path: str) -> ServerTool:
    """The tool of the function at ``path``; raise ``ToolError`` saying why it cannot be one."""
    try:
        function = import_string(path)
    except ImportError as error:
        raise ToolError(f"cannot be imported: {error}") from None
    if not inspect.isfunction(function):
        raise ToolError("is not a function")
    name = function.__name__
    if not TOOL_NAME.fullmatch(name):
        raise ToolError(f"{name!r} is not a tool name (letters, digits, _ and -, at most 64)")
    description = _first_paragraph(inspect.getdoc(function))
    if not description:
        raise ToolError("has no docstring: its first paragraph tells the model what it does")
    model, takes_context = _arguments_model(function)
    try:
        parameters = parameters_schema(model)
    except Exception as error:  # pydantic's errors say which hint it cannot describe
        raise ToolError(f"has a parameter the model cannot be told about: {_gist(error)}") from None
    return ServerTool(path, function, name, description, model, parameters, takes_context)


def parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = TypeAdapter(model).json_schema()
    schema.pop("title", None)
    return schema


def _arguments_model(function: Callable[..., Any]) -> tuple[type[BaseModel], bool]:
    try:
        hints = get_type_hints(function)
    except Exception as error:
        raise ToolError(f"has type hints that cannot be read: {error}") from None
    fields: dict[str, Any] = {}
    takes_context = False
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name == CONTEXT_PARAMETER:
            if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise ToolError("takes context positionally: it is given as a keyword")
            takes_context = True
            continue
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ToolError(f"takes *{parameter.name}: the model needs named parameters")
        if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ToolError(f"takes {parameter.name} positionally only: arguments are named")
        if parameter.name not in hints:
            raise ToolError(f"parameter {parameter.name!r} has no type hint")
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)
    try:
        model = create_model(
            f"{function.__name__}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
    except Exception as error:
        raise ToolError(f"has a parameter the model cannot be told about: {_gist(error)}") from None
    return model, takes_context


def _gist(error: Exception) -> str:
    """pydantic's first line: what it could not describe (the rest is advice and a link)."""
    return str(error).strip().split("\n")[0]


def _first_paragraph(docstring: str | None) -> str:
    if not docstring:
        return ""
    return " ".join(docstring.strip().split("\n\n")[0].split())


@cache
def _loaded(paths: tuple[str, ...], declared: tuple[str, ...]) -> dict[str, ServerTool]:
    tools, problems = load(paths, declared)
    if problems:
        raise ImproperlyConfigured(
            "; ".join(
                f"REALTIME_SERVER_TOOLS entry {path!r} {message}" for path, message in problems
            )
        )
    return tools


def registered_tools() -> dict[str, ServerTool]:
    """The server's tools by name, from the settings (imported once per list)."""
    from realtime.conf import get_settings

    conf = get_settings()
    return _loaded(conf.server_tools, tuple(tool["name"] for tool in conf.tools))

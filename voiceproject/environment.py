"""Strict reading of settings from the process environment and dotenv files.

django-environ reads the files and parses ``DATABASE_URL``; the typed readers here are
strict where django-environ is lenient (``DEBUG=yes please`` must fail, not mean False),
and every failure is a :class:`ConfigError` whose message names the variable, so the
settings module can turn it into one clear line at start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, get_args, get_origin
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
DEFAULT_ENV_FILES = ".env.local,.env"


class ConfigError(ImproperlyConfigured):
    """A setting is missing or malformed; the message is fit to show as is."""


def read_environment(base_dir: Path, process_env: Mapping[str, str] | None = None) -> Env:
    """Merge the process environment over ``.env.local`` over ``.env``.

    ``ENV_FILES`` (comma-separated, relative to ``base_dir``) changes which files are read;
    empty reads none. The process environment itself is never modified.
    """
    values = dict(os.environ if process_env is None else process_env)
    file_names = values.get("ENV_FILES", DEFAULT_ENV_FILES)
    for name in (part.strip() for part in file_names.split(",")):
        if name:
            for key, value in _read_dotenv(base_dir / name).items():
                values.setdefault(key, value)  # earlier sources win
    return Env(values)


class _DotenvReader(environ.Env):
    """django-environ's file parser, pointed at a scratch dict instead of os.environ."""

    ENVIRON: dict[str, str] = {}


def _read_dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    _DotenvReader.ENVIRON = {}
    _DotenvReader.read_env(path, overwrite=True)
    return _DotenvReader.ENVIRON


class Env:
    """Typed, strict accessors over a fixed mapping of environment values."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def raw(self, name: str) -> str | None:
        return self._values.get(name)

    def str(self, name: str, default: str = "") -> str:
        value = self._values.get(name)
        return default if value is None else value.strip()

    def bool(self, name: str, default: bool) -> bool:
        value = self._values.get(name)
        if value is None:
            return default
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ConfigError(f"{name}={value!r} is not a boolean; use true or false")

    def int(self, name: str, default: int) -> int:
        value = self._values.get(name)
        if value is None or not value.strip():
            return default
        try:
            return int(value.strip())
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a whole number") from None

    def float(self, name: str, default: float) -> float:
        value = self._values.get(name)
        if value is None or not value.strip():
            return default
        try:
            return float(value.strip())
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a number") from None

    def list(self, name: str, default: Iterable[str]) -> list[str]:
        value = self._values.get(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def json(self, name: str, default: Any) -> Any:
        value = self._values.get(name)
        if value is None or not value.strip():
            return default
        try:
            return json.loads(value)
        except ValueError as error:
            raise ConfigError(f"{name} is not valid JSON: {error}") from None

    def typed(self, name: str, kind: Any, default: Any) -> Any:
        """Read ``name`` as the type hint ``kind`` says, with the reader of that type.

        ``str``, ``bool``, ``int`` and ``float`` have theirs; a tuple of strings is a
        comma-separated list and a tuple of anything else (objects, say) a JSON list. Tuples
        come back as lists, as settings modules hold them.
        """
        readers = {str: self.str, bool: self.bool, int: self.int, float: self.float}
        if kind in readers:
            return readers[kind](name, default)
        if get_origin(kind) is tuple:
            if get_args(kind)[0] is str:
                return self.list(name, default)
            return self.json(name, list(default))
        raise TypeError(f"{name}: no reader for {kind!r}")

    def origins(self, name: str, default: Iterable[str]) -> list[str]:
        origins = self.list(name, default)
        for origin in origins:
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ConfigError(
                    f"{name} entry {origin!r} must be an origin with its scheme, "
                    "like https://voice.example.com"
                )
        return origins

    def database(self, name: str, default: str) -> dict[str, Any]:
        url = self.str(name) or default
        try:
            config = environ.Env.db_url_config(url)
        except (ImproperlyConfigured, ValueError, KeyError) as error:
            raise ConfigError(f"{name} is not a database URL Django can use: {error}") from None
        if not config.get("ENGINE") or not config.get("NAME"):
            raise ConfigError(f"{name} does not name a database engine and database")
        return config

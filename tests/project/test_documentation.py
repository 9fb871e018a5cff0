"""The README and .env.example stay true: every setting and error code is documented."""

from pathlib import Path

import pytest

from realtime.conf import RULES, SETTING_NAMES, TYPE_RULE_ID
from realtime.errors import HTTP_PROBLEMS as PROBLEMS
from realtime.hints import UPSTREAM_HINTS

PROJECT = Path(__file__).resolve().parents[2]
README = (PROJECT / "README.md").read_text()
ENV_EXAMPLE = (PROJECT / ".env.example").read_text()
PROJECT_SETTINGS = [
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "DATABASE_POOL_TIMEOUT",
    "REDIS_URL",
    "STATIC_ROOT",
    "CONTENT_SECURITY_POLICY",
    "LOG_FORMAT",
    "ENV_FILES",
]


@pytest.mark.parametrize("name", [*SETTING_NAMES.values(), *PROJECT_SETTINGS])
def test_every_setting_is_in_the_readme_table_and_env_example(name):
    assert f"| `{name}` |" in README
    assert f"{name}=" in ENV_EXAMPLE


@pytest.mark.parametrize("code", sorted(PROBLEMS))
def test_every_error_code_is_in_the_readme(code):
    assert f"| `{code}` | {PROBLEMS[code].status} |" in README


@pytest.mark.parametrize("code", sorted(UPSTREAM_HINTS))
def test_every_upstream_code_with_a_hint_is_named_in_the_readme(code):
    assert f"`{code}`" in README


def test_the_readme_shows_both_commands_and_the_benchmark_figures():
    assert "make run" in README
    assert "make test" in README
    assert "BENCHMARK_TABLE" not in README
    assert "bench/relay_overhead.py" in README


@pytest.mark.parametrize("check_id", sorted({TYPE_RULE_ID, *(rule.id for rule in RULES)}))
def test_every_settings_check_id_is_in_the_readme(check_id):
    assert f"| `{check_id}` |" in README

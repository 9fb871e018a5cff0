"""The app's settings rules: every problem is found, each under its own system check id."""

from dataclasses import fields

import pytest
from django.core.exceptions import ImproperlyConfigured

from realtime.checks import check_realtime_settings
from realtime.conf import RULES, SETTING_NAMES, TYPE_RULE_ID, RealtimeSettings

# One setting that breaks each rule, in field order, with the id it is reported under.
ONE_BAD_SETTING_PER_RULE = [
    ("OPENAI_API_KEY", "ek_1234567890", "realtime.E003"),
    ("OPENAI_BASE_URL", "api.openai.com/v1", "realtime.E004"),
    ("REALTIME_MODEL", "", "realtime.E005"),
    ("REALTIME_LIVE_MODEL", "gpt-realtime-2.1", "realtime.E019"),
    ("REALTIME_SECRET_TTL", 5, "realtime.E006"),
    ("REALTIME_TRANSPORT", "carrier-pigeon", "realtime.E007"),
    ("REALTIME_WEBRTC_FLOW", "beta", "realtime.E008"),
    ("REALTIME_DEBUG", "yes", "realtime.E001"),
    ("REALTIME_READ_TIMEOUT", 0, "realtime.E009"),
    ("REALTIME_RATE_LIMIT", -1, "realtime.E010"),
    ("REALTIME_RATE_LIMIT_WINDOW", 0, "realtime.E011"),
    ("REALTIME_ERROR_BODY_LIMIT", 255, "realtime.E012"),
    ("REALTIME_TOOLS", [{"type": "mcp"}], "realtime.E013"),
    ("REALTIME_ALLOWED_MODELS", [""], "realtime.E014"),
    ("REALTIME_PROXY_CLIENT_EVENTS", ["session.delete"], "realtime.E015"),
]


def test_the_defaults_have_no_problems():
    assert RealtimeSettings().problems() == []
    assert check_realtime_settings() == []


def test_check_reports_every_invalid_setting_with_its_own_id(settings):
    for name, value, _ in ONE_BAD_SETTING_PER_RULE:
        setattr(settings, name, value)

    errors = check_realtime_settings()

    assert [(error.id, error.msg.split("=")[0]) for error in errors] == [
        (check_id, name) for name, _, check_id in ONE_BAD_SETTING_PER_RULE
    ]


def test_check_reports_every_setting_that_breaks_the_same_rule(settings):
    settings.REALTIME_CONNECT_TIMEOUT = 0
    settings.REALTIME_PROXY_SEND_TIMEOUT = -1

    errors = check_realtime_settings()

    assert [(error.id, error.msg) for error in errors] == [
        ("realtime.E009", "REALTIME_CONNECT_TIMEOUT=0 must be a positive number of seconds"),
        ("realtime.E009", "REALTIME_PROXY_SEND_TIMEOUT=-1 must be a positive number of seconds"),
    ]


@pytest.mark.parametrize(
    ("changes", "check_id"),
    [
        ({"secret_ttl": "ten"}, "realtime.E001"),
        ({"proxy_client_events": ("",)}, "realtime.E014"),
        ({"openai_api_key": 42}, "realtime.E001"),
    ],
)
def test_a_setting_reports_only_the_first_rule_it_breaks(changes, check_id):
    assert [problem.id for problem in RealtimeSettings(**changes).problems()] == [check_id]


def test_validation_names_every_bad_setting_in_one_message():
    with pytest.raises(ImproperlyConfigured) as raised:
        RealtimeSettings(secret_ttl=5, transport="smoke").validate()

    assert str(raised.value) == (
        "REALTIME_SECRET_TTL=5 must be 10..7200 seconds; "
        "REALTIME_TRANSPORT='smoke' must be one of webrtc, websocket"
    )


def test_a_single_problem_is_the_whole_message():
    with pytest.raises(ImproperlyConfigured) as raised:
        RealtimeSettings(tools=({"type": "function", "name": "f"}, {"type": "mcp"})).validate()

    assert str(raised.value) == (
        'REALTIME_TOOLS={\'type\': \'mcp\'} must be function tools: {"type": "function", "name": …}'
    )


def test_unknown_client_event_types_are_named_together():
    conf = RealtimeSettings(proxy_client_events=("session.update", "b.x", "a.x"))

    [problem] = conf.problems()

    assert problem.message == (
        "REALTIME_PROXY_CLIENT_EVENTS='a.x,b.x' are not realtime client event types"
    )


def test_the_server_key_is_hidden_whichever_rule_it_breaks():
    for key in ("ek_secretvalue123", ["sk-secretvalue123"]):
        [problem] = RealtimeSettings(openai_api_key=key).problems()

        assert "secretvalue" not in problem.message
        assert problem.message.startswith("OPENAI_API_KEY=<hidden> ")


def test_the_settings_repr_never_shows_the_server_key():
    conf = RealtimeSettings(openai_api_key="sk-secretvalue123")

    assert "secretvalue" not in repr(conf)
    assert "model='gpt-realtime-2.1'" in repr(conf)


def test_gpt_live_is_offered_with_gpt_live_1_1_by_default():
    conf = RealtimeSettings()

    assert (conf.live, conf.live_model) == (True, "gpt-live-1.1")


@pytest.mark.parametrize(("name", "value"), [("REALTIME_LIVE", "yes"), ("REALTIME_LIVE_MODEL", 1)])
def test_the_live_settings_have_their_defaults_types(settings, name, value):
    setattr(settings, name, value)

    [error] = check_realtime_settings()

    assert (error.id, error.msg.split("=")[0]) == (TYPE_RULE_ID, name)


@pytest.mark.parametrize("model", ["", "gpt-realtime-2.1", "gpt-live-transcribe", "live-1"])
def test_the_live_model_must_be_a_gpt_live_model(model):
    [problem] = RealtimeSettings(live_model=model).problems()

    assert problem == (
        "realtime.E019",
        f"REALTIME_LIVE_MODEL={model!r} must name a GPT-Live model",
    )


@pytest.mark.parametrize("model", ["gpt-live-1", "gpt-live-1.1-2026-09-01"])
def test_a_live_model_or_its_snapshot_is_a_valid_live_model(model):
    assert RealtimeSettings(live_model=model).problems() == []


def test_the_realtime_model_must_not_be_a_live_model():
    [problem] = RealtimeSettings(model="gpt-live-1.1").problems()

    assert problem.id == "realtime.E005"
    assert "a GPT-Live model goes in REALTIME_LIVE_MODEL" in problem.message


def test_the_live_model_needs_no_place_in_the_allowed_models():
    conf = RealtimeSettings()

    assert conf.model_for("gpt-live-1.1", conf.live_model) == "gpt-live-1.1"


def test_a_live_session_takes_only_the_live_models_the_allow_list_names():
    conf = RealtimeSettings(allowed_models=("gpt-live-1", "gpt-realtime-2.1-mini"))

    assert conf.model_for("gpt-live-1", conf.live_model) == "gpt-live-1"
    assert conf.model_for("gpt-realtime-2.1-mini", conf.live_model) == "gpt-live-1.1"
    assert conf.model_for("gpt-live-2", conf.live_model) == "gpt-live-1.1"


def test_a_realtime_session_never_takes_an_allowed_live_model():
    conf = RealtimeSettings(allowed_models=("gpt-live-1",))

    assert conf.model_for("gpt-live-1") == "gpt-realtime-2.1"


def test_every_rule_has_its_own_id_apart_from_the_retiring_model_checks():
    ids = [TYPE_RULE_ID, *(rule.id for rule in RULES)]

    assert len(ids) == len(set(ids))
    assert not {"realtime.E002", "realtime.W002"} & set(ids)


def test_every_rule_is_about_fields_that_exist():
    names = {field.name for field in fields(RealtimeSettings)}

    assert all(set(rule.fields) <= names for rule in RULES)
    assert set(SETTING_NAMES) == names

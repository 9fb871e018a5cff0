"""Admin for agents: staff change what the assistant says and may do, without a deploy.

The form offers what the settings allow: the configured models of each API (Realtime's and
GPT-Live's, from the one allow-list), the registered server tools. Saving checks the rest
(``Agent.clean``: the allow-list, the retiring-models table, whether GPT-Live is on).
Each save that changes a session's configuration makes a revision, listed read-only on the
agent's page; sessions name the revision they started with.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import capfirst

from realtime.agent_models import Agent, AgentRevision
from realtime.agents import DELEGATION_MODEL
from realtime.conf import get_settings
from realtime.pricing import is_live_model
from realtime.tools.registry import registered_tools


class AgentForm(forms.ModelForm):
    server_tools = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The server's tools (REALTIME_SERVER_TOOLS) this agent may call.",
    )

    class Meta:
        model = Agent
        fields = (
            "name",
            "slug",
            "is_active",
            "is_default",
            "instructions",
            "server_tools",
            "voice",
            "model",
            "transcription",
            "transcription_model",
            "turn_detection",
            "eagerness",
            "api",
            "live_model",
            "delegation",
            "delegation_model",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conf = get_settings()
        tools = registered_tools()
        self.fields["server_tools"].choices = [
            (name, f"{name}: {tool.description}") for name, tool in tools.items()
        ]
        realtime_models = [model for model in conf.allowed_models if not is_live_model(model)]
        self.fields["model"] = self._model_choice(
            "model", "REALTIME_MODEL", conf.model, realtime_models
        )
        live_models = [model for model in conf.allowed_models if is_live_model(model)]
        self.fields["live_model"] = self._model_choice(
            "live_model", "REALTIME_LIVE_MODEL", conf.live_model, live_models
        )
        backend = self.fields["delegation_model"]
        backend.help_text = (
            f"Responses delegation: the model that calls the tools (empty: {DELEGATION_MODEL})."
        )
        if not conf.live:
            self.fields["api"].help_text = "REALTIME_LIVE is off: this server offers Realtime only."

    def _model_choice(
        self, field: str, setting: str, default: str, allowed: list[str]
    ) -> forms.ChoiceField:
        """A choice of the setting's model (empty) or another the allow-list names."""
        others = [model for model in allowed if model != default]
        choices = [("", f"{setting} ({default})"), *((model, model) for model in others)]
        current = getattr(self.instance, field)
        if self.instance.pk and current and current not in others:
            # One the choices lack (no longer allowed) stays visible; saving says what is wrong.
            choices.append((current, current))
        return forms.ChoiceField(
            label=capfirst(Agent._meta.get_field(field).verbose_name),
            required=False,
            choices=choices,
            help_text=f"{setting}, or one of REALTIME_ALLOWED_MODELS.",
        )

    def clean_server_tools(self) -> list[str]:
        return list(self.cleaned_data.get("server_tools") or [])


class AgentRevisionInline(admin.TabularInline):
    model = AgentRevision
    extra = 0
    can_delete = False
    fields = ("version", "created_at", "instructions", "configuration")
    readonly_fields = fields
    ordering = ("-version",)
    verbose_name_plural = "versions (what sessions were told, newest first)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentForm
    list_display = (
        "name",
        "slug",
        "api",
        "model_display",
        "voice",
        "is_active",
        "is_default",
        "version",
    )
    list_filter = ("is_active", "is_default", "api", "voice", "turn_detection")
    search_fields = ("name", "slug", "instructions")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("version", "updated_at")
    inlines = [AgentRevisionInline]
    fieldsets = (
        (None, {"fields": ("name", "slug", "is_active", "is_default")}),
        ("What the assistant is told", {"fields": ("instructions", "server_tools")}),
        ("Voice and model", {"fields": ("voice", "model")}),
        (
            "Listening",
            {"fields": ("transcription", "transcription_model", "turn_detection", "eagerness")},
        ),
        ("GPT-Live", {"fields": ("api", "live_model", "delegation", "delegation_model")}),
        ("History", {"fields": ("version", "updated_at")}),
    )

    @admin.display(description="model", ordering="model")
    def model_display(self, agent: Agent) -> str:
        """The model the agent's sessions start with, on the API they start on."""
        conf = get_settings()
        if agent.api == "live":
            return agent.live_model or f"{conf.live_model} (REALTIME_LIVE_MODEL)"
        return agent.model or f"{conf.model} (REALTIME_MODEL)"

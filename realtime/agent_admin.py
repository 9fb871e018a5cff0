"""Admin for agents: staff change what the assistant says and may do, without a deploy.

The form offers what the settings allow: the configured models, the registered server
tools. Saving checks the rest (``Agent.clean``: the allow-list, the retiring-models table).
Each save that changes a session's configuration makes a revision, listed read-only on the
agent's page; sessions name the revision they started with.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from realtime.agent_models import Agent, AgentRevision
from realtime.conf import get_settings
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
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conf = get_settings()
        tools = registered_tools()
        self.fields["server_tools"].choices = [
            (name, f"{name}: {tool.description}") for name, tool in tools.items()
        ]
        models = [conf.model, *(model for model in conf.allowed_models if model != conf.model)]
        self.fields["model"] = forms.ChoiceField(
            required=False,
            choices=[("", f"REALTIME_MODEL ({conf.model})"), *((m, m) for m in models[1:])],
            help_text="REALTIME_MODEL, or one of REALTIME_ALLOWED_MODELS.",
        )
        if self.instance.pk and self.instance.model and self.instance.model not in models:
            # A model no longer allowed stays visible, and saving says why it cannot stay.
            self.fields["model"].choices += [(self.instance.model, self.instance.model)]

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
    list_display = ("name", "slug", "model_display", "voice", "is_active", "is_default", "version")
    list_filter = ("is_active", "is_default", "voice", "turn_detection")
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
        ("History", {"fields": ("version", "updated_at")}),
    )

    @admin.display(description="model", ordering="model")
    def model_display(self, agent: Agent) -> str:
        return agent.model or f"{get_settings().model} (REALTIME_MODEL)"

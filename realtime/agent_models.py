"""Agents staff edit in the admin: what the assistant is told, how it sounds, what it may do.

An ``Agent`` is a named configuration for sessions: instructions, voice, model,
transcription, turn detection and the server tools it may call. Each change of what a
session would be told makes a new ``AgentRevision`` (its number is the agent's
``version``), and each session row names the revision it started with, so that staff can
read what a past conversation was told even after the agent changed. ``realtime.agents``
turns an agent into the profile a session uses.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


class TurnDetection(models.TextChoices):
    SERVER_VAD = "server_vad", _("server VAD (silence ends the turn)")
    SEMANTIC_VAD = "semantic_vad", _("semantic VAD (the model judges when the user is done)")


class Eagerness(models.TextChoices):
    AUTO = "auto", _("auto")
    LOW = "low", _("low (lets the user finish)")
    MEDIUM = "medium", _("medium")
    HIGH = "high", _("high (answers soonest)")


class Delegation(models.TextChoices):
    """Who does a GPT-Live session's tool work (Live has no tools of its own)."""

    RESPONSES = "responses", _("responses (OpenAI's Responses backend calls the tools)")
    CLIENT = "client", _("client (the application answers each delegated task)")


class Agent(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(
        unique=True, help_text=_("the page at /agents/<slug>/ talks to this agent")
    )
    instructions = models.TextField(
        help_text=_("what the assistant is told, as the session's instructions")
    )
    voice = models.CharField(
        max_length=20, choices=[(voice, voice) for voice in VOICES], default="marin"
    )
    model = models.CharField(
        max_length=100,
        blank=True,
        help_text=_("empty: REALTIME_MODEL; otherwise one of REALTIME_ALLOWED_MODELS"),
    )
    transcription = models.BooleanField(
        _("transcribe the user"),
        default=True,
        help_text=_("for the transcript and the session log"),
    )
    transcription_model = models.CharField(
        max_length=100, blank=True, help_text=_("empty: REALTIME_TRANSCRIPTION_MODEL")
    )
    turn_detection = models.CharField(
        max_length=20, choices=TurnDetection.choices, default=TurnDetection.SERVER_VAD
    )
    eagerness = models.CharField(
        max_length=10,
        choices=Eagerness.choices,
        default=Eagerness.AUTO,
        help_text=_("semantic VAD only"),
    )
    server_tools = models.JSONField(
        default=list, blank=True, help_text=_("the REALTIME_SERVER_TOOLS this agent may call")
    )
    api = models.CharField(
        _("API"),
        max_length=10,
        choices=[("realtime", "Realtime"), ("live", "GPT-Live")],
        default="realtime",
        help_text=_("the API the page starts on (users may switch where REALTIME_LIVE is on)"),
    )
    live_model = models.CharField(
        _("GPT-Live model"), max_length=100, blank=True, help_text=_("empty: REALTIME_LIVE_MODEL")
    )
    delegation = models.CharField(
        _("GPT-Live delegation"),
        max_length=10,
        choices=Delegation.choices,
        default=Delegation.RESPONSES,
    )
    delegation_model = models.CharField(
        _("GPT-Live backend model"),
        max_length=100,
        blank=True,
        # realtime.agents.DELEGATION_MODEL (the admin's form names it from there).
        help_text=_("responses delegation: the model that calls the tools (empty: gpt-5-mini)"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(
        _("default"), default=False, help_text=_("the agent of the page at / (one at most)")
    )
    version = models.PositiveIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="realtime_one_default_agent",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, and start a new revision when what sessions are told has changed."""
        with transaction.atomic():
            if self.is_default:
                # The one default moves here (the constraint would refuse a second).
                Agent.objects.filter(is_default=True).exclude(pk=self.pk).update(is_default=False)
            latest = self.revisions.order_by("-version").first() if self.pk else None
            changed = latest is None or latest.configuration != self.snapshot()
            if changed:
                self.version += 1
            super().save(*args, **kwargs)
            if changed:
                AgentRevision.objects.create(
                    agent=self,
                    version=self.version,
                    instructions=self.instructions,
                    configuration=self.snapshot(),
                )

    def clean(self) -> None:
        from realtime import agents  # the settings and the registered tools

        problems = agents.configuration_problems(self)
        if problems:
            raise ValidationError(problems)

    def snapshot(self) -> dict[str, Any]:
        """What a session of this agent is configured with, as stored in its revisions."""
        return {
            "instructions": self.instructions,
            "voice": self.voice,
            "model": self.model,
            "transcription": self.transcription,
            "transcription_model": self.transcription_model,
            "turn_detection": self.turn_detection,
            "eagerness": self.eagerness,
            "server_tools": list(self.server_tools),
            "api": self.api,
            "live_model": self.live_model,
            "delegation": self.delegation,
            "delegation_model": self.delegation_model,
        }

    def current_revision(self) -> AgentRevision | None:
        return self.revisions.filter(version=self.version).first()


class AgentRevision(models.Model):
    """An agent's configuration as it was from one change to the next."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    instructions = models.TextField()
    configuration = models.JSONField()
    created_at = models.DateTimeField(_("from"), auto_now_add=True)

    class Meta:
        ordering = ["agent", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "version"], name="realtime_agent_version")
        ]

    def __str__(self) -> str:
        return f"{self.agent} v{self.version}"

"""Diagnostics: what happened between our users, this server and OpenAI.

A ``RealtimeSession`` groups one user's attempt to talk, from the first mint or handshake
on; each ``UpstreamExchange`` is one request to OpenAI (or one refused before it got
there). Secrets are never stored: ``ek_`` secrets only as a fingerprint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from realtime.agent_models import Agent, AgentRevision

__all__ = [
    "Agent",
    "AgentRevision",
    "Api",
    "ConversationEntry",
    "EntryKind",
    "ExchangeKind",
    "Outcome",
    "RealtimeSession",
    "ResponseRecord",
    "Source",
    "Transport",
    "UpstreamExchange",
]


class Api(models.TextChoices):
    """OpenAI's voice APIs: a row's requests and conversation are of one of them."""

    REALTIME = "realtime", "Realtime"
    LIVE = "live", "GPT-Live"


class Transport(models.TextChoices):
    WEBRTC = "webrtc", "WebRTC"
    WEBSOCKET = "websocket", "WebSocket"


class Source(models.TextChoices):
    WEB = "web", _("web")
    CLI = "cli", _("command line")
    WEBSOCKET_PROXY = "websocket_proxy", _("WebSocket proxy")
    ADMIN = "admin", _("admin")  # staff's end_sessions action (realtime.ending)


class Attribution(models.Model):
    """Who asked, from where, for which model and call: kept on sessions and exchanges."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    model = models.CharField(max_length=100, blank=True)
    api = models.CharField(
        _("API"), max_length=20, choices=Api.choices, default=Api.REALTIME, db_index=True
    )
    call_id = models.CharField(_("call id"), max_length=100, blank=True, db_index=True)
    secret_fingerprint = models.CharField(
        _("secret fingerprint"), max_length=64, blank=True, db_index=True
    )

    class Meta:
        abstract = True


class RealtimeSession(Attribution):
    started_at = models.DateTimeField(_("started"), auto_now_add=True, db_index=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, db_index=True)
    transport = models.CharField(max_length=20, choices=Transport.choices, blank=True)
    # What the proxy or the sideband saw of the conversation (WebRTC media bypasses us).
    error_code = models.CharField(
        _("error code"),
        max_length=64,
        blank=True,
        db_index=True,
        help_text=_("why the proxy ended the session, if it did"),
    )
    client_close_code = models.PositiveSmallIntegerField(
        _("client close code"), null=True, blank=True
    )
    client_close_reason = models.CharField(_("client close reason"), max_length=200, blank=True)
    upstream_close_code = models.PositiveSmallIntegerField(
        _("upstream close code"), null=True, blank=True
    )
    upstream_close_reason = models.CharField(_("upstream close reason"), max_length=200, blank=True)
    frames_from_client = models.PositiveIntegerField(_("frames from client"), null=True, blank=True)
    bytes_from_client = models.PositiveBigIntegerField(
        _("bytes from client"), null=True, blank=True
    )
    frames_to_client = models.PositiveIntegerField(_("frames to client"), null=True, blank=True)
    bytes_to_client = models.PositiveBigIntegerField(_("bytes to client"), null=True, blank=True)
    input_tokens = models.PositiveIntegerField(_("input tokens"), null=True, blank=True)
    output_tokens = models.PositiveIntegerField(_("output tokens"), null=True, blank=True)
    total_tokens = models.PositiveIntegerField(_("total tokens"), null=True, blank=True)
    end_reason = models.CharField(
        _("end reason"),
        max_length=64,
        blank=True,
        db_index=True,
        help_text=_("how the conversation ended: hangup, client_closed, an error code, …"),
    )
    turns = models.PositiveIntegerField(_("turns"), null=True, blank=True)
    input_text_tokens = models.PositiveIntegerField(_("input text tokens"), null=True, blank=True)
    input_audio_tokens = models.PositiveIntegerField(_("input audio tokens"), null=True, blank=True)
    cached_text_tokens = models.PositiveIntegerField(_("cached text tokens"), null=True, blank=True)
    cached_audio_tokens = models.PositiveIntegerField(
        _("cached audio tokens"), null=True, blank=True
    )
    output_text_tokens = models.PositiveIntegerField(_("output text tokens"), null=True, blank=True)
    output_audio_tokens = models.PositiveIntegerField(
        _("output audio tokens"), null=True, blank=True
    )
    cost_usd = models.DecimalField(
        _("cost (USD)"),
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        help_text=_("empty when a model of the session has no price (unknown, not zero)"),
    )
    # GPT-Live is billed per second of the session, not per token: its latest cumulative
    # usage, the seconds billed at the active rate and at the paused (standby) rate.
    usage_seconds = models.DecimalField(
        _("billed seconds"),
        max_digits=12,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("GPT-Live: the session's billed duration, as its last usage reported it"),
    )
    active_seconds = models.DecimalField(
        _("active seconds"),
        max_digits=12,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("GPT-Live: the billed seconds at the active rate"),
    )
    paused_seconds = models.DecimalField(
        _("paused seconds"),
        max_digits=12,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("GPT-Live: the billed seconds at the standby rate (while paused)"),
    )
    records_dropped = models.PositiveIntegerField(
        _("records dropped"),
        default=0,
        help_text=_("conversation records lost because the recording buffer was full"),
    )
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    agent_revision = models.ForeignKey(
        AgentRevision,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sessions",
        verbose_name=_("agent version"),
        help_text=_("the agent's instructions and settings as the session started"),
    )
    server_process = models.CharField(
        _("server process"),
        max_length=200,
        blank=True,
        help_text=_(
            "the process that carries a proxied session (host:pid:start), so that a sweep "
            "can end what a stopped process left open"
        ),
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("realtime session")
        verbose_name_plural = _("realtime sessions")
        permissions = [("end_realtimesession", _("Can end live realtime sessions"))]

    def __str__(self) -> str:
        label = self.call_id or self.secret_fingerprint or f"#{self.pk}"
        return f"{self.get_transport_display() or 'session'} {label}"

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class ExchangeKind(models.TextChoices):
    CLIENT_SECRET = "client_secret", _("client secret")
    CALL = "call", _("WebRTC call")
    HANGUP = "hangup", _("WebRTC hangup")
    WEBSOCKET = "websocket", _("WebSocket")


class Outcome(models.TextChoices):
    OK = "ok", _("ok")
    REJECTED = "rejected", _("rejected before upstream")
    UPSTREAM_ERROR = "upstream_error", _("upstream error")
    UNREACHABLE = "unreachable", _("unreachable")
    TIMEOUT = "timeout", _("timeout")
    INVALID_ANSWER = "invalid_answer", _("invalid upstream answer")


class UpstreamExchange(Attribution):
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    session = models.ForeignKey(
        RealtimeSession,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exchanges",
    )
    kind = models.CharField(max_length=20, choices=ExchangeKind.choices, db_index=True)
    source = models.CharField(max_length=20, choices=Source.choices, db_index=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, db_index=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True, db_index=True)
    transport = models.CharField(
        max_length=20, choices=Transport.choices, blank=True, db_index=True
    )
    request_bytes = models.PositiveIntegerField(
        _("request bytes"), null=True, blank=True, help_text=_("SDP offer length for calls")
    )
    response_bytes = models.PositiveIntegerField(
        _("response bytes"), null=True, blank=True, help_text=_("SDP answer length for calls")
    )
    upstream_status = models.PositiveSmallIntegerField(
        _("upstream status"), null=True, blank=True, db_index=True
    )
    http_status = models.PositiveSmallIntegerField(
        _("our status"), null=True, blank=True, help_text=_("what this server answered")
    )
    upstream_error = models.TextField(_("upstream error body"), blank=True)
    upstream_ms = models.FloatField(
        _("upstream ms"), null=True, blank=True, help_text=_("time waiting on OpenAI")
    )
    total_ms = models.FloatField(_("total ms"), help_text=_("time to handle the request"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("upstream exchange")
        verbose_name_plural = _("upstream exchanges")

    def __str__(self) -> str:
        status = self.upstream_status or "-"
        return f"{self.get_kind_display()} {self.get_outcome_display()} ({status})"


class EntryKind(models.TextChoices):
    USER_SPEECH = "user_speech", _("user (spoken)")
    USER_TEXT = "user_text", _("user (typed)")
    ASSISTANT = "assistant", _("assistant")
    FUNCTION_CALL = "function_call", _("function call")
    FUNCTION_OUTPUT = "function_output", _("function output")
    TOOL_RUN = "tool_run", _("server tool run")
    ERROR = "error", _("error")
    SIDEBAND = "sideband", _("sideband")


class ConversationEntry(models.Model):
    """One moment of a conversation, as the proxy or the sideband heard it."""

    session = models.ForeignKey(RealtimeSession, on_delete=models.CASCADE, related_name="entries")
    at = models.DateTimeField(_("time"), db_index=True)
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    item_id = models.CharField(_("item id"), max_length=100, blank=True)
    response_id = models.CharField(_("response id"), max_length=100, blank=True)
    tool_call_id = models.CharField(_("tool call id"), max_length=100, blank=True)
    name = models.CharField(
        max_length=200, blank=True, help_text=_("the function's name, or the error's code")
    )
    text = models.TextField(
        blank=True,
        help_text=_("what was said or typed, a call's arguments or output, an error's message"),
    )
    status = models.CharField(
        max_length=40,
        blank=True,
        help_text=_(
            "completed, cancelled (barge-in), failed, incomplete; attach or drop; "
            "a tool run's error or timeout"
        ),
    )
    duration_ms = models.FloatField(
        _("duration (ms)"), null=True, blank=True, help_text=_("how long a server tool ran")
    )

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["session", "item_id"])]
        verbose_name = _("conversation entry")
        verbose_name_plural = _("conversation entries")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.item_id or self.name}".strip()


class ResponseRecord(models.Model):
    """One model response: its status, usage, cost and how fast it came."""

    session = models.ForeignKey(RealtimeSession, on_delete=models.CASCADE, related_name="responses")
    response_id = models.CharField(_("response id"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created"))
    status = models.CharField(max_length=20, blank=True)
    status_reason = models.CharField(_("status reason"), max_length=40, blank=True)
    turn_to_created_ms = models.FloatField(
        _("turn end → created ms"),
        null=True,
        blank=True,
        help_text=_("from the end of the user's speech (or message) to response.created"),
    )
    turn_to_first_output_ms = models.FloatField(
        _("turn end → first output ms"), null=True, blank=True
    )
    turn_to_done_ms = models.FloatField(_("turn end → done ms"), null=True, blank=True)
    created_to_first_output_ms = models.FloatField(
        _("created → first output ms"), null=True, blank=True
    )
    created_to_done_ms = models.FloatField(_("created → done ms"), null=True, blank=True)
    input_text_tokens = models.PositiveIntegerField(default=0)
    input_audio_tokens = models.PositiveIntegerField(default=0)
    cached_text_tokens = models.PositiveIntegerField(default=0)
    cached_audio_tokens = models.PositiveIntegerField(default=0)
    output_text_tokens = models.PositiveIntegerField(default=0)
    output_audio_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(
        _("cost (USD)"), max_digits=14, decimal_places=6, null=True, blank=True
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("response")
        verbose_name_plural = _("responses")

    def __str__(self) -> str:
        return f"{self.response_id or 'response'} {self.status}".strip()

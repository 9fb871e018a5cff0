"""Diagnostics: what happened between our users, this server and OpenAI.

A ``RealtimeSession`` groups one user's attempt to talk, from the first mint or handshake
on; each ``UpstreamExchange`` is one request to OpenAI (or one refused before it got
there). Secrets are never stored: ``ek_`` secrets only as a fingerprint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Transport(models.TextChoices):
    WEBRTC = "webrtc", "WebRTC"
    WEBSOCKET = "websocket", "WebSocket"


class Source(models.TextChoices):
    WEB = "web", _("web")
    CLI = "cli", _("command line")
    WEBSOCKET_PROXY = "websocket_proxy", _("WebSocket proxy")


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
    # What a proxied WebSocket session did; empty for WebRTC calls, which bypass this server.
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

    def __str__(self) -> str:
        label = self.call_id or self.secret_fingerprint or f"#{self.pk}"
        return f"{self.get_transport_display() or 'session'} {label}"


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

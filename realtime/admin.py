"""Admin for the diagnostics: read-only, because the rows are evidence of what happened."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from realtime import (
    admin_views,
    agent_admin,  # noqa: F401 - registers the agents' admin
)
from realtime.admin_actions import end_sessions, export_as_csv
from realtime.checks import model_notices
from realtime.models import Api, Outcome, RealtimeSession, UpstreamExchange

# Each outcome's colour is a class of realtime/admin.css: the Content-Security-Policy
# allows no inline style.
OUTCOME_CLASSES = {Outcome.OK: "realtime-ok", Outcome.REJECTED: "realtime-rejected"}


class ReadOnlyAdmin(admin.ModelAdmin):
    actions = [export_as_csv]

    class Media:
        css = {"all": ["realtime/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def outcome_badge(outcome: str, label: str) -> str:
    css_class = OUTCOME_CLASSES.get(outcome, "realtime-failed")
    return format_html('<strong class="{}">{}</strong>', css_class, label)


def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


@admin.register(UpstreamExchange)
class UpstreamExchangeAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "api",
        "kind",
        "outcome_display",
        "upstream_status",
        "http_status",
        "upstream_ms_display",
        "total_ms_display",
        "request_bytes",
        "response_bytes",
        "error_code",
        "source",
        "session_link",
    )
    list_filter = (
        "api",
        "kind",
        "outcome",
        "upstream_status",
        "transport",
        "source",
        "created_at",
    )
    search_fields = ("call_id", "client_ip", "upstream_error", "error_code", "secret_fingerprint")
    date_hierarchy = "created_at"
    list_select_related = ("session",)
    readonly_fields = ("session_link", "upstream_error_pretty")
    fieldsets = (
        (
            None,
            {"fields": ("created_at", "kind", "source", "outcome", "error_code", "session_link")},
        ),
        (
            "Upstream",
            {
                "fields": (
                    "upstream_status",
                    "http_status",
                    "upstream_ms",
                    "total_ms",
                    "upstream_error_pretty",
                )
            },
        ),
        (
            "Request",
            {
                "fields": (
                    "model",
                    "api",
                    "transport",
                    "request_bytes",
                    "response_bytes",
                    "call_id",
                    "secret_fingerprint",
                )
            },
        ),
        ("Client", {"fields": ("user", "client_ip", "user_agent")}),
    )

    @admin.display(description="outcome", ordering="outcome")
    def outcome_display(self, obj: UpstreamExchange) -> str:
        return outcome_badge(obj.outcome, obj.get_outcome_display())

    @admin.display(description="upstream ms", ordering="upstream_ms")
    def upstream_ms_display(self, obj: UpstreamExchange) -> str:
        return milliseconds(obj.upstream_ms)

    @admin.display(description="total ms", ordering="total_ms")
    def total_ms_display(self, obj: UpstreamExchange) -> str:
        return milliseconds(obj.total_ms)

    @admin.display(description="session", ordering="session")
    def session_link(self, obj: UpstreamExchange) -> str:
        if obj.session_id is None:
            return "—"
        url = reverse("admin:realtime_realtimesession_change", args=[obj.session_id])
        return format_html('<a href="{}">{}</a>', url, obj.session)

    @admin.display(description="upstream error body")
    def upstream_error_pretty(self, obj: UpstreamExchange) -> str:
        if not obj.upstream_error:
            return "—"
        try:
            text = json.dumps(json.loads(obj.upstream_error), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.upstream_error  # truncated or not JSON: show it as it came
        return format_html('<pre class="realtime-error-body">{}</pre>', text)


def live_totals(session: RealtimeSession) -> list[tuple[str, str]]:
    """A GPT-Live session's billed seconds, beside the totals every session shows."""
    if session.api != Api.LIVE or session.usage_seconds is None:
        return []
    active, paused = (_seconds(value) for value in (session.active_seconds, session.paused_seconds))
    billed = admin_views.duration(float(session.usage_seconds))
    return [("billed", f"{billed} ({active} s active, {paused} s paused)")]


def _seconds(value: Decimal | None) -> str:
    return "—" if value is None else f"{value.normalize():f}"


class ExchangeInline(admin.TabularInline):
    model = UpstreamExchange
    fields = (
        "exchange_link",
        "kind",
        "outcome",
        "upstream_status",
        "http_status",
        "upstream_ms_display",
        "total_ms_display",
        "request_bytes",
        "response_bytes",
        "error_code",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description="upstream ms")
    def upstream_ms_display(self, obj: UpstreamExchange) -> str:
        return milliseconds(obj.upstream_ms)

    @admin.display(description="total ms")
    def total_ms_display(self, obj: UpstreamExchange) -> str:
        return milliseconds(obj.total_ms)

    @admin.display(description="time")
    def exchange_link(self, obj: UpstreamExchange) -> str:
        url = reverse("admin:realtime_upstreamexchange_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.created_at.isoformat(" ", "seconds"))


class FailureFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [("failed", "failed"), ("ok", "all ok")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        # A proxied session can fail after a good handshake: its own error code says so.
        if self.value() == "failed":
            return queryset.filter(Q(failure_count__gt=0) | ~Q(error_code=""))
        if self.value() == "ok":
            return queryset.filter(failure_count=0, error_code="")
        return queryset


@admin.register(RealtimeSession)
class RealtimeSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "api",
        "transport",
        "source",
        "model",
        "user",
        "duration_display",
        "turns",
        "total_tokens",
        "cost_display",
        "end_reason_display",
        "exchange_count",
        "failure_display",
        "closes",
    )
    list_filter = (
        FailureFilter,
        "api",
        "transport",
        "source",
        ("model", admin.AllValuesFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
        ("agent", admin.RelatedOnlyFieldListFilter),
        ("end_reason", admin.AllValuesFieldListFilter),
        ("error_code", admin.AllValuesFieldListFilter),
        "started_at",
    )
    search_fields = (
        "call_id",
        "client_ip",
        "secret_fingerprint",
        "error_code",
        "end_reason",
        "client_close_reason",
        "upstream_close_reason",
        "server_process",
        "exchanges__error_code",
        "exchanges__upstream_error",
        "entries__text",
    )
    date_hierarchy = "started_at"
    list_select_related = ("user",)
    inlines = [ExchangeInline]
    change_form_template = "admin/realtime/realtimesession/change_form.html"
    change_list_template = "admin/realtime/realtimesession/change_list.html"
    actions = [export_as_csv, end_sessions]

    def has_end_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("realtime.end_realtimesession")

    def get_urls(self) -> list:
        cost = self.admin_site.admin_view(self.cost_per_day_view)
        return [path("cost/", cost, name="realtime_realtimesession_cost"), *super().get_urls()]

    def cost_per_day_view(self, request: HttpRequest) -> TemplateResponse:
        """Sessions and their cost per day, and per user and day: what staff are billed for."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        sessions = RealtimeSession.objects.all()
        context = {
            **self.admin_site.each_context(request),
            "title": "Cost per day",
            "opts": self.model._meta,
            "days": admin_views.cost_per_day(sessions, by_user=False),
            "user_days": admin_views.cost_per_day(sessions, by_user=True),
        }
        return TemplateResponse(
            request, "admin/realtime/realtimesession/cost_per_day.html", context
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        session = self.get_object(request, object_id)
        if session is not None:
            extra_context = {
                **(extra_context or {}),
                "totals": admin_views.totals(session) + live_totals(session),
                "timeline": admin_views.timeline(session),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                exchange_count=Count("exchanges"),
                failure_count=Count("exchanges", filter=~Q(exchanges__outcome=Outcome.OK)),
            )
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Staff look here when sessions fail. Not on POSTs: an action's answer may be a
        # download, which would leave the messages for a later page.
        if request.method == "GET":
            for setting, notice in model_notices():
                level = messages.ERROR if notice.shut_down else messages.WARNING
                self.message_user(request, f"{setting}: {notice}", level)
        return super().changelist_view(request, extra_context)

    @admin.display(description="duration")
    def duration_display(self, obj: RealtimeSession) -> str:
        return admin_views.duration(obj.duration_seconds)

    @admin.display(description="cost", ordering="cost_usd")
    def cost_display(self, obj: RealtimeSession) -> str:
        if obj.ended_at is None or obj.turns is None:
            return "—"  # not ended yet, or ended before anything was said
        # A Realtime session is billed its tokens, a GPT-Live one its seconds.
        billed = obj.total_tokens or obj.usage_seconds
        return admin_views.usd(obj.cost_usd) if billed else "$0.0000"

    @admin.display(description="end reason", ordering="end_reason")
    def end_reason_display(self, obj: RealtimeSession) -> str:
        return obj.end_reason or obj.error_code or ("—" if obj.ended_at else "live")

    @admin.display(description="closed (client / OpenAI)")
    def closes(self, obj: RealtimeSession) -> str:
        if obj.client_close_code is None and obj.upstream_close_code is None:
            return "-"
        return f"{obj.client_close_code or '-'} / {obj.upstream_close_code or '-'}"

    @admin.display(description="exchanges", ordering="exchange_count")
    def exchange_count(self, obj: RealtimeSession) -> int:
        return obj.exchange_count

    @admin.display(description="failures", ordering="failure_count")
    def failure_display(self, obj: RealtimeSession) -> str:
        if not obj.failure_count:
            return outcome_badge(Outcome.OK, "0")
        return outcome_badge(Outcome.UPSTREAM_ERROR, str(obj.failure_count))

"""The admin's actions on the diagnostics: export rows, end live sessions."""

from __future__ import annotations

import csv
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from realtime import ending

# Spreadsheet programs run cells that start with these as formulas.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@admin.action(description="Export selected rows as CSV", permissions=["view"])
def export_as_csv(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse:
    model = queryset.model
    columns = [field for field in model._meta.concrete_fields]
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{model._meta.model_name}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow([field.attname for field in columns])
    for row in queryset.order_by("pk").values_list(*[field.attname for field in columns]):
        writer.writerow([_csv_cell(value) for value in row])
    return response


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return f"'{value}"
    return "" if value is None else value


@admin.action(description="End selected live sessions", permissions=["end"])
def end_sessions(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    """End the selected sessions that are live, on whichever process holds each
    (``realtime.ending``); say what happened to each."""
    # On the server's event loop (the admin's sync view runs in a thread beside it), where
    # the process's shared upstream client lives.
    report = async_to_sync(ending.end_sessions)(list(queryset.values_list("pk", flat=True)))
    if report.ended:
        modeladmin.message_user(request, f"Ended {_sessions(report.ended)}.", messages.SUCCESS)
    if report.hung_up_here:
        modeladmin.message_user(
            request,
            f"Hung up {_sessions(report.hung_up_here, 'call')} at OpenAI that no sideband "
            "watched, and ended their records.",
            messages.SUCCESS,
        )
    if report.not_hung_up:
        modeladmin.message_user(
            request,
            f"Could not hang up {_sessions(report.not_hung_up, 'call')} at OpenAI: the "
            "upstream exchanges list has the hangup and OpenAI's answer.",
            messages.ERROR,
        )
    if report.unanswered and not report.channel_layer:
        modeladmin.message_user(
            request,
            f"{_sessions(report.unanswered).capitalize()} could not be ended: no channel "
            "layer is configured (CHANNEL_LAYERS), so the process holding them cannot be told.",
            messages.ERROR,
        )
    elif report.unanswered:
        modeladmin.message_user(
            request,
            f"{_sessions(report.unanswered).capitalize()} did not end within "
            f"{ending.ANSWER_TIMEOUT:g} s: the process holding them may be gone, or the "
            "processes share no channel layer (set REDIS_URL). manage.py sweep_sessions ends "
            "the sessions of stopped processes.",
            messages.WARNING,
        )
    if report.not_live:
        modeladmin.message_user(
            request, f"{_sessions(report.not_live).capitalize()} had ended already.", messages.INFO
        )


def _sessions(ids: list[int], noun: str = "session") -> str:
    return f"{len(ids)} {noun}{'' if len(ids) == 1 else 's'}"

"""Prometheus metrics (prometheus-client), served at ``GET /metrics`` to a scraper that
shows ``REALTIME_METRICS_TOKEN`` as its bearer token.

What is counted: live sessions by transport, exchanges by kind and outcome, the relay's
and the proxy's latency (a relayed request's total time; a proxied session's upstream
handshake), server tool calls by tool and outcome, sideband attaches, drops, takeovers and
hand-overs, sessions ended by transport and reason, and cost by model.

**Several processes.** Where ``PROMETHEUS_MULTIPROC_DIR`` names a folder (``make
run-prod`` sets one), every process writes its values there and a scrape of any process
sums them all (prometheus-client's multiprocess mode; live sessions count the live
processes only, each process removing its own as it stops). Without it, a scrape sees the
process it reached: scrape each process on a port of its own.

Without prometheus-client installed every function here does nothing and ``/metrics``
answers 404.
"""

from __future__ import annotations

import hmac
import os
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from realtime.answers import NO_STORE
from realtime.conf import get_settings

try:
    import prometheus_client
    from prometheus_client import multiprocess
except ImportError:  # the `production` extra is not installed
    prometheus_client = None

# Seconds: a mint or an SDP relay takes tens to hundreds of milliseconds.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20)


class _Metrics:
    def __init__(self) -> None:
        metric = prometheus_client
        self.open_sessions = metric.Gauge(
            "realtime_open_sessions",
            "Live sessions this server carries (proxied WebSockets, WebRTC calls' sidebands)",
            ["transport"],
            multiprocess_mode="livesum",
        )
        self.exchanges = metric.Counter(
            "realtime_exchanges",
            "Exchanges with OpenAI (or refused before it), by kind and outcome",
            ["kind", "outcome"],
        )
        self.relay_seconds = metric.Histogram(
            "realtime_relay_seconds",
            "Time to answer a relayed request (mint, call, hangup), by kind",
            ["kind"],
            buckets=LATENCY_BUCKETS,
        )
        self.proxy_connect_seconds = metric.Histogram(
            "realtime_proxy_connect_seconds",
            "Time for a proxied session to open OpenAI's socket",
            buckets=LATENCY_BUCKETS,
        )
        self.tool_calls = metric.Counter(
            "realtime_tool_calls", "Server tool calls, by tool and outcome", ["tool", "outcome"]
        )
        self.sideband_events = metric.Counter(
            "realtime_sideband_events",
            "Sideband attaches, drops, takeovers and hand-overs",
            ["event"],
        )
        self.sessions_ended = metric.Counter(
            "realtime_sessions_ended",
            "Sessions ended, by transport and reason",
            ["transport", "reason"],
        )
        self.cost = metric.Counter(
            "realtime_cost_usd", "What the sessions that ended cost, by model (USD)", ["model"]
        )


_metrics = _Metrics() if prometheus_client is not None else None


def enabled() -> bool:
    return _metrics is not None


def session_opened(transport: str) -> None:
    if _metrics is not None:
        _metrics.open_sessions.labels(transport).inc()


def session_closed(transport: str) -> None:
    if _metrics is not None:
        _metrics.open_sessions.labels(transport).dec()


def exchange(kind: str, outcome: str, total_ms: float, upstream_ms: float | None) -> None:
    if _metrics is None:
        return
    _metrics.exchanges.labels(kind, outcome).inc()
    if kind == "websocket":
        if upstream_ms is not None:
            _metrics.proxy_connect_seconds.observe(upstream_ms / 1000)
    else:
        _metrics.relay_seconds.labels(kind).observe(total_ms / 1000)


def tool_call(tool: str, outcome: str) -> None:
    if _metrics is not None:
        _metrics.tool_calls.labels(tool, outcome).inc()


def sideband_event(event: str) -> None:
    if _metrics is not None:
        _metrics.sideband_events.labels(event.replace(" ", "_")).inc()


def session_ended(transport: str, reason: str, model: str, cost_usd: Decimal | None) -> None:
    if _metrics is None:
        return
    _metrics.sessions_ended.labels(transport, reason or "unknown").inc()
    if cost_usd:
        _metrics.cost.labels(model or "unknown").inc(float(cost_usd))


def exposition() -> tuple[bytes, str]:
    """The metrics as a scrape reads them, and their content type: every process's in
    multiprocess mode, else this one's."""
    assert prometheus_client is not None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry: Any = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    return prometheus_client.generate_latest(registry), prometheus_client.CONTENT_TYPE_LATEST


def process_stopped() -> None:
    """Forget this process's live-session gauges (multiprocess mode), as it stops."""
    if prometheus_client is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())


@csrf_exempt  # it changes nothing: any other method is a plain 405
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` for Prometheus, with ``Authorization: Bearer <REALTIME_METRICS_TOKEN>``;
    404 while no token is set (or prometheus-client is missing), 401 for another bearer."""
    token = get_settings().metrics_token
    if not token or not enabled():
        message = (
            "Metrics are off on this server: set REALTIME_METRICS_TOKEN "
            "(and install prometheus-client)."
        )
        return JsonResponse(
            {"error": {"code": "metrics_off", "message": message}}, status=404, headers=NO_STORE
        )
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(given.encode(), token.encode()):
        message = "Send the metrics token as 'Authorization: Bearer <REALTIME_METRICS_TOKEN>'."
        return JsonResponse(
            {"error": {"code": "invalid_metrics_token", "message": message}},
            status=401,
            headers={**NO_STORE, "WWW-Authenticate": "Bearer"},
        )
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type, headers=NO_STORE)

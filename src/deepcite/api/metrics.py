"""Prometheus metrics of one app, in a registry of its own (two apps never share counters).

Requests are counted by route template (not raw path, which would let clients mint
label values), method and status; latency runs until the last body byte is sent,
so a streamed answer counts in full.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "<unmatched>"

_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60)
_STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "deepcite_http_requests",
            "HTTP requests handled, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "deepcite_http_request_duration_seconds",
            "Time from request to the last byte of the response.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.time_to_first_token = Histogram(
            "deepcite_time_to_first_token_seconds",
            "Time from a chat request to the first content token sent.",
            ["model", "stream"],
            buckets=_TTFT_BUCKETS,
            registry=self.registry,
        )
        self.stage_duration = Histogram(
            "deepcite_stage_duration_seconds",
            "Time of each stage of a chat request (queue, search, read, first_token, generate, overhead, total).",
            ["model", "stage"],
            buckets=_STAGE_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "deepcite_tokens",
            "Tokens used by chat completions, by model and kind (prompt or completion).",
            ["model", "kind"],
            registry=self.registry,
        )

    def observe_stages(self, model: str, durations: Mapping[str, float]) -> None:
        for stage, seconds in durations.items():
            self.stage_duration.labels(model=model, stage=stage).observe(seconds)

    def observe_tokens(self, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.tokens.labels(model=model, kind="prompt").inc(prompt_tokens)
        self.tokens.labels(model=model, kind="completion").inc(completion_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            route, method = route_template(scope), scope.get("method", "")
            self.metrics.requests.labels(route=route, method=method, status=str(status)).inc()
            self.metrics.latency.labels(route=route, method=method).observe(time.perf_counter() - started)

        async def measuring_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()

        try:
            await self.app(scope, receive, measuring_send)
        finally:
            # Also counts requests whose client went away before the last byte.
            record()

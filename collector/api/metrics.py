"""Prometheus metrics of the API (`/metrics`), and the middleware counting requests per route."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_QUEUE_HELP = {
    "influx_buffer": "Lines in the durable buffer waiting for InfluxDB",
    "influx_buffer_batches": "Records (commits) in the durable buffer waiting for InfluxDB",
    "influx_buffer_oldest_seconds": "Age of the oldest line waiting for InfluxDB",
    "influx_failing": "1 while deliveries to InfluxDB fail (the buffer backs off and retries)",
    "influx_expired_lines": "Lines InfluxDB dropped as older than its retention policy",
    "influx_rejected_lines": "Lines InfluxDB refused for good (kept in the buffer file)",
}


class Metrics:
    """One registry per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.accepted = Counter("hotline_results_accepted", "Results accepted", registry=r)
        self.rejected = Counter(
            "hotline_results_rejected", "Results rejected, by the field at fault", ["field"],
            registry=r,
        )  # fmt: skip
        self.duplicates = Counter("hotline_batches_duplicate", "Batches seen before", registry=r)
        self.requests = Counter(
            "hotline_api_requests", "API requests", ["endpoint", "status"], registry=r
        )
        self.in_progress = Gauge(
            "hotline_api_requests_in_progress", "API requests being answered", ["endpoint"],
            registry=r,
        )  # fmt: skip
        self.store_healthy = Gauge(
            "hotline_store_healthy", "1 when the last health check found the store working",
            registry=r,
        )  # fmt: skip
        self.ready = Gauge(
            "hotline_collector_ready", "1 once the state is rebuilt from the store", registry=r
        )
        self.queues: dict[str, Gauge] = {}
        self.ingest_seconds = Histogram(
            "hotline_ingest_seconds", "Time to make a batch durable and apply it", registry=r
        )
        self.open_outages = Gauge("hotline_open_outages", "Open outages", registry=r)
        self.component_up = Gauge(
            "hotline_component_up",
            "1 while the component is up, 0 while down; absent while it reports no data",
            ["component", "system"],
            registry=r,
        )
        self.open_incidents = Gauge("hotline_open_incidents", "Open incidents", registry=r)
        self.open_no_data = Gauge(
            "hotline_open_no_data", "Components silent now (no data)", registry=r
        )
        self.backups_missed = Gauge(
            "hotline_backups_missed",
            "Backups (daily, monthly) missed this month so far, each also alerted once",
            registry=r,
        )
        self.engine_items = Gauge(
            "hotline_engine_history_items", "Sample runs the state engine holds", registry=r
        )

    def set_components(self, states: dict[str, tuple[str, int | None]]) -> None:
        """`hotline_component_up` for each component: its system and 1/0, None when no data
        (the series is then absent, so an alert on `== 0` does not fire for a silent agent)."""
        self.component_up.clear()
        for component, (system, up) in states.items():
            if up is not None:
                self.component_up.labels(component=component, system=system).set(up)

    def set_queues(self, depths: dict[str, int]) -> None:
        """One gauge per queue the store reports (`hotline_store_influx_buffer`, …)."""
        for name, value in depths.items():
            gauge = self.queues.get(name)
            if gauge is None:
                help_text = _QUEUE_HELP.get(name, f"Store queue {name}")
                gauge = Gauge(f"hotline_store_{name}", help_text, registry=self.registry)
                self.queues[name] = gauge
            gauge.set(value)


class RequestMetrics:
    """ASGI middleware: requests in progress and answered, by route name (the handler's name)
    and status. Requests no route takes (404, 405) and the OpenAPI document are not counted."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = None
        if scope["type"] == "http":
            for route in scope["app"].router.routes:
                if route.matches(scope)[0] is Match.FULL:
                    name = route.name if getattr(route, "include_in_schema", True) else None
                    break
        if name is None:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress = self.metrics.in_progress.labels(name)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            in_progress.dec()
        self.metrics.requests.labels(name, str(status)).inc()

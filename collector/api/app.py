"""The collector's HTTP API (Starlette): thin handlers over `collector.service.Collector`.

Bearer tokens per agent and per operator, compared with `hmac.compare_digest` against every
configured token (so timing says nothing about which one nearly matched); tokens are never
logged. Ingest answers 202 only after the store committed the accepted results. Reads accept
any agent or operator token; changes (windows, incidents, disputes) need an operator's, whose
name is the identity recorded.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import re
import zlib
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from collector.api import views
from collector.config import Principal
from collector.domain.incidents import IncidentError
from collector.domain.ingest import MAX_INTERVAL, BatchError, parse_batch
from collector.domain.maintenance import classify
from collector.domain.model import Heartbeat
from collector.domain.timefmt import check_instant, format_instant, month_range, parse_instant
from collector.service import Collector, NotFound
from collector.store.base import BatchConflict, StoreError

try:
    import orjson
except ImportError:  # optional speed-up: json.loads decodes the same, only slower
    orjson = None

log = logging.getLogger("hotline.collector.api")

Handler = Callable[[Request, Principal | None], Awaitable[Response]]


class HTTPError(Exception):
    def __init__(self, status: int, error: str) -> None:
        self.status = status
        self.error = error


# digits -> "9", every other byte -> " ": a run of 19 nines marks an integer orjson might turn
# into a float (it keeps 64 bits; json keeps any size)
_DIGITS = bytes(57 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_NUMBER = b"9" * 19


def _loads(raw: bytes | bytearray, strict: bool = True) -> Any:
    """`json.loads`, through orjson (2.5x faster on an ingest batch, ~0.6 µs a result saved)
    where both decode alike: not for numbers of 19+ digits, and whatever orjson refuses (NaN,
    1e400, lone surrogates, a BOM, nesting over 1024 …) goes to json.loads, which takes it or
    says why not. `strict` refuses what json.loads takes but no store can keep: a lone
    surrogate anywhere (ingest checks its fields one by one instead, naming each)."""
    if orjson is not None and _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    data = json.loads(raw)
    if strict and not isinstance(data, str | int | float | bool | type(None)):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text holds a lone surrogate (not valid Unicode)") from None
    return data


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


MAX_DETAIL_BYTES = 64 * 1024  # a heartbeat's spool, health and host objects, each as JSON


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


class _Metrics:
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
            "hotline_store_healthy", "1 when the last /healthz found the store working",
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
        self.open_incidents = Gauge("hotline_open_incidents", "Open incidents", registry=r)
        self.open_no_data = Gauge(
            "hotline_open_no_data", "Components silent now (no data)", registry=r
        )
        self.engine_items = Gauge(
            "hotline_engine_history_items", "Sample runs the state engine holds", registry=r
        )

    def set_queues(self, depths: dict[str, int]) -> None:
        """One gauge per queue the store reports (`hotline_store_influx_buffer`, …)."""
        for name, value in depths.items():
            gauge = self.queues.get(name)
            if gauge is None:
                help_text = _QUEUE_HELP.get(name, f"Store queue {name}")
                gauge = Gauge(f"hotline_store_{name}", help_text, registry=self.registry)
                self.queues[name] = gauge
            gauge.set(value)


_QUEUE_HELP = {
    "influx_buffer": "Lines in the durable buffer waiting for InfluxDB",
    "influx_buffer_batches": "Records (commits) in the durable buffer waiting for InfluxDB",
    "influx_buffer_oldest_seconds": "Age of the oldest line waiting for InfluxDB",
    "influx_failing": "1 while deliveries to InfluxDB fail (the buffer backs off and retries)",
    "influx_expired_lines": "Lines InfluxDB dropped as older than its retention policy",
    "influx_rejected_lines": "Lines InfluxDB refused for good (kept in the buffer file)",
}


def create_app(collector: Collector, *, lifecycle: bool = True) -> Starlette:
    """The ASGI app. With `lifecycle`, the app starts and stops the collector (and its store)."""
    principals = collector.config.principals
    limit = collector.config.max_body
    metrics = _Metrics()

    def identify(request: Request) -> Principal | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        given = token.strip().encode()
        found = None
        for p in principals:  # every comparison runs: no early exit
            if hmac.compare_digest(p.token.encode(), given):
                found = p
        return found

    def endpoint(
        role: str, needs_state: bool = True
    ) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
        """`needs_state`: answer 503 until the collector rebuilt its state from the store (all
        but ingest, heartbeats, /healthz and /metrics, which work from the start)."""

        def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
            in_progress = metrics.in_progress.labels(fn.__name__)

            @functools.wraps(fn)
            async def handler(request: Request) -> Response:
                in_progress.inc()  # (track_inprogress() does not wrap coroutines)
                try:
                    who = None
                    if role != "public":
                        who = identify(request)
                        if who is None:
                            raise HTTPError(401, "missing or unknown bearer token")
                        if role in ("agent", "operator") and who.role != role:
                            raise HTTPError(403, f"needs an {role} token")
                    if needs_state and not collector.ready:
                        raise HTTPError(503, f"collector not ready: {collector.not_ready}")
                    response = await fn(request, who)
                except HTTPError as exc:
                    response = _json({"error": exc.error}, exc.status)
                except NotFound as exc:
                    response = _json({"error": str(exc)}, 404)
                except IncidentError as exc:
                    response = _json({"error": str(exc)}, 409)
                except ValueError as exc:
                    response = _json({"error": str(exc)}, 400)
                except StoreError as exc:
                    log.error("store: %s", exc)
                    response = _json({"error": f"store unavailable: {exc}"}, 503)
                finally:
                    in_progress.dec()
                metrics.requests.labels(fn.__name__, str(response.status_code)).inc()
                return response

            return handler

        return wrap

    async def body(request: Request, strict: bool = True) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise HTTPError(413, f"request body over the limit of {limit} bytes")
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                raise HTTPError(413, f"request body over the limit of {limit} bytes")
        if request.headers.get("content-encoding", "").lower() == "gzip":
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                data = inflater.decompress(bytes(raw), limit + 1)
            except zlib.error as exc:
                raise HTTPError(400, f"bad gzip body: {exc}") from None
            if len(data) > limit or inflater.unconsumed_tail:
                raise HTTPError(413, f"request body over the limit of {limit} bytes (inflated)")
            raw = bytearray(data)
        if not raw.strip():
            return None
        try:
            return _loads(raw, strict)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(400, f"malformed JSON: {exc}") from None
        except RecursionError:
            raise HTTPError(400, "malformed JSON: nested too deep") from None

    def instant_param(request: Request, name: str) -> int | None:
        value = request.query_params.get(name)
        if value is None or value == "":
            return None
        # an unencoded "+08:00" arrives as " 08:00" (form encoding): take it as meant
        value = _UNENCODED_PLUS.sub(r"+\1", value)
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise HTTPError(400, f"{name}: {exc}") from None

    def text(data: dict[str, Any], key: str, required: bool = True) -> str:
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise HTTPError(400, f"{key}: required, a non-empty string")
        if len(value) > _MAX_TEXT:
            raise HTTPError(400, f"{key}: longer than {_MAX_TEXT} characters")
        return value

    def flag(data: dict[str, Any], key: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise HTTPError(400, f"{key}: must be true or false")
        return value

    def instant(data: dict[str, Any], key: str) -> int:
        try:
            return parse_instant(data.get(key))
        except ValueError as exc:
            raise HTTPError(400, f"{key}: {exc}") from None

    def month_param(request: Request) -> tuple[str, int, int]:
        month = request.query_params.get("month", "")
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise HTTPError(400, "month: required, YYYY-MM")
        try:
            return (month, *month_range(month))
        except ValueError as exc:
            raise HTTPError(400, f"month: {exc}") from None

    def component_ids(data: dict[str, Any], hint: str) -> list[str]:
        components = data.get("components")
        if (
            not isinstance(components, list)
            or not components
            or not all(isinstance(c, str) and c and len(c) <= _MAX_TEXT for c in components)
        ):
            raise HTTPError(400, f"components: required, a list of {hint}")
        return components

    def obj(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise HTTPError(400, "body: expected a JSON object")
        return data

    # -- ingest ------------------------------------------------------------------------------
    @endpoint("agent", needs_state=False)
    async def results(request: Request, who: Principal | None) -> Response:
        """
        summary: Ingest a batch of probe results (202 once durable)
        """
        assert who is not None
        data = await body(request, strict=False)  # each result's text is checked on its own
        if isinstance(data, dict) and data.get("agent") not in (None, who.name):
            raise HTTPError(
                403, f"agent: token belongs to {who.name!r}, not {_show(data.get('agent'))}"
            )
        with metrics.ingest_seconds.time():
            try:
                batch = parse_batch(
                    data,
                    collector.systems,
                    collector.clock(),
                    int(collector.config.max_future * 1000),
                    int(collector.config.keep_days * 86_400_000),
                )
            except BatchError as exc:
                raise HTTPError(400, str(exc)) from None
            try:
                result = await collector.ingest(batch)
            except BatchConflict as exc:
                # the id is stored with other results: nothing of this batch is stored, and
                # every result says so (an agent logs and drops them; a 4xx would block its
                # spool for good, resending the same batch forever)
                metrics.duplicates.inc()
                rejected = [
                    {"index": i, "field": "batch", "error": str(exc)} for i in batch.indexes
                ]
                rejected = sorted([*batch.rejected, *rejected], key=lambda r: r["index"])
                return _json(
                    {"accepted": 0, "rejected": rejected, "duplicate": True, "error": str(exc)},
                    202,
                )
        if result.duplicate:
            metrics.duplicates.inc()
            return _json(
                {"accepted": result.accepted, "rejected": batch.rejected, "duplicate": True}, 202
            )
        metrics.accepted.inc(result.accepted)
        for bad in batch.rejected:
            metrics.rejected.labels(bad["field"]).inc()
        return _json({"accepted": result.accepted, "rejected": batch.rejected}, 202)

    @endpoint("agent", needs_state=False)
    async def heartbeat(request: Request, who: Principal | None) -> Response:
        """
        summary: Record an agent's heartbeat (last seen, clock skew, spool, health)
        """
        assert who is not None
        data = obj(await body(request))
        if data.get("agent") not in (None, who.name):
            raise HTTPError(403, f"agent: token belongs to {who.name!r}")
        sent = instant(data, "sent_at")
        interval = data.get("interval")
        if interval is not None and (
            isinstance(interval, bool)
            or not isinstance(interval, int | float)
            or not 0 < interval <= MAX_INTERVAL
        ):
            raise HTTPError(400, f"interval: must be a number of seconds, 0 < s ≤ {MAX_INTERVAL:g}")
        parts = {}
        for key in ("spool", "health", "host"):
            value = data.get(key) or {}
            if not isinstance(value, dict):
                raise HTTPError(400, f"{key}: must be an object")
            try:
                size = len(json.dumps(value, allow_nan=False))
            except (ValueError, RecursionError):
                raise HTTPError(400, f"{key}: must be plain JSON (no NaN or Infinity)") from None
            if size > MAX_DETAIL_BYTES:
                raise HTTPError(400, f"{key}: over {MAX_DETAIL_BYTES} bytes as JSON")
            parts[key] = value
        hb = Heartbeat(who.name, collector.clock(), sent, interval, **parts)
        await collector.heartbeat(hb)
        return _json(views.heartbeat(hb), 202)

    # -- reads -------------------------------------------------------------------------------
    @endpoint("read")
    async def status(request: Request, who: Principal | None) -> Response:
        """
        summary: Components' states, open outages and incidents, agents' last heartbeat
        """
        s = await collector.status()
        metrics.open_outages.set(len(s["open_outages"]))
        metrics.open_incidents.set(len(s["open_incidents"]))
        return _json(
            {
                "now": format_instant(s["now"]),
                "components": s["components"],
                "open_outages": [views.outage(o) for o in s["open_outages"]],
                "open_incidents": [views.incident(i) for i in s["open_incidents"]],
                "agents": [views.heartbeat(h) for h in s["agents"]],
            }
        )

    @endpoint("read")
    async def outages(request: Request, who: Principal | None) -> Response:
        """
        summary: Outages as maintenance and fault pieces (?component=&from=&to=)
        """
        since, until = instant_param(request, "from"), instant_param(request, "to")
        component = request.query_params.get("component") or None
        now = collector.clock()
        out = []
        for o in await collector.store.read_outages(since=since, until=until, component=component):
            base = views.outage(o)
            for start, end, kind in classify(o, collector.windows, now):
                piece = {
                    "component": o.component,
                    "start": views.iso(start),
                    "end": views.iso(end),
                    "kind": kind,
                    "id": o.id,
                    "detected_at": base["detected_at"],
                    "reason": o.reason,
                }
                if "excluded" in base:
                    piece["excluded"] = base["excluded"]
                out.append(piece)
        return _json({"outages": out})

    @endpoint("read")
    async def no_data(request: Request, who: Principal | None) -> Response:
        """
        summary: No-data intervals (coverage gaps) (?component=&from=&to=)
        """
        from collector.domain.model import IntervalKind

        since, until = instant_param(request, "from"), instant_param(request, "to")
        component = request.query_params.get("component") or None
        rows = await collector.store.read_outages(
            since=since, until=until, component=component, kind=IntervalKind.NO_DATA
        )
        return _json({"no_data": [views.outage(o) for o in rows]})

    @endpoint("read")
    async def facts(request: Request, who: Principal | None) -> Response:
        """
        summary: The month in the scorer's facts format (?month=YYYY-MM)
        """
        month, _, _ = month_param(request)
        return _json(await collector.facts(month))

    @endpoint("read")
    async def rollups(request: Request, who: Principal | None) -> Response:
        """
        summary: Per-minute result counts and latency per component (?component=&from=&to=),
          kept after raw samples expire
        """
        since, until = instant_param(request, "from"), instant_param(request, "to")
        if since is None or until is None:
            raise HTTPError(400, "from, to: both required (ISO 8601 with offset)")
        if until - since > 31 * 86_400_000:
            raise HTTPError(400, "to: at most 31 days after from")
        rows = await collector.store.rollups(
            since, until, request.query_params.get("component") or None
        )
        return _json(
            {
                "rollups": [
                    {
                        "component": r.component,
                        "minute": views.iso(r.minute),
                        "ok": r.ok,
                        "failed": r.failed,
                        "latency_ms": {
                            "min": r.latency_min,
                            "max": r.latency_max,
                            "mean": r.latency_sum / r.latency_count if r.latency_count else None,
                        },
                    }
                    for r in rows
                ]
            }
        )

    @endpoint("read")
    async def audit(request: Request, who: Principal | None) -> Response:
        """
        summary: The audit trail (?target=&from=&to=)
        """
        rows = await collector.store.audit(
            instant_param(request, "from"),
            instant_param(request, "to"),
            request.query_params.get("target") or None,
        )
        return _json({"audit": [views.audit_entry(a) for a in rows]})

    # -- disputes ----------------------------------------------------------------------------
    @endpoint("operator")
    async def outage_action(request: Request, who: Principal | None) -> Response:
        """
        summary: Exclude (POST …/exclude), re-include (DELETE …/exclude) or annotate an outage
        """
        assert who is not None
        oid, action = request.path_params["outage_id"], request.path_params["action"]
        data = obj(await body(request)) if request.method == "POST" else {}
        if action == "exclude" and request.method == "POST":
            await collector.exclude_outage(
                who.name, oid, text(data, "reason"), text(data, "approved_by")
            )
        elif action == "exclude":
            await collector.include_outage(who.name, oid, request.query_params.get("reason", ""))
        elif action == "annotate" and request.method == "POST":
            await collector.annotate_outage(who.name, oid, text(data, "note"))
        else:
            raise HTTPError(404, f"no action {action}")
        return _json({"outage": oid, "done": action})

    # -- maintenance windows -----------------------------------------------------------------
    @endpoint("read")
    async def list_windows(request: Request, who: Principal | None) -> Response:
        """
        summary: Maintenance windows
        """
        return _json({"windows": [views.window(w) for w in collector.windows]})

    async def save_window(request: Request, who: Principal, window_id: str | None) -> Response:
        data = obj(await body(request))
        if data.get("components") in ("*", ["*"]):
            data["components"] = ["*"]
        components = component_ids(data, "component ids or ['*']")
        start = instant(data, "start")
        if data.get("end") is not None and data.get("duration") is not None:
            raise HTTPError(400, "end, duration: give one of them")
        if data.get("end") is not None:
            end = instant(data, "end")
        elif data.get("duration") is not None:
            try:
                end = check_instant(start + parse_duration(data["duration"]))
            except ValueError as exc:
                raise HTTPError(400, f"duration: {exc}") from None
        else:
            raise HTTPError(400, "end: give end or duration")
        rrule = data.get("rrule")
        if rrule is not None and (not isinstance(rrule, str) or len(rrule) > _MAX_TEXT):
            raise HTTPError(400, "rrule: must be an RFC 5545 RRULE string")
        w = await collector.add_window(
            who.name,
            components,
            start,
            end,
            text(data, "reason", required=False),
            text(data, "approval_ref", required=False),
            rrule,
            window_id,
            new_component=flag(data, "new_component"),
        )
        return _json(views.window(w), 200 if window_id else 201)

    @endpoint("operator")
    async def add_window(request: Request, who: Principal | None) -> Response:
        """
        summary: Create a maintenance window (components or "*", start, end or duration)
        """
        assert who is not None
        return await save_window(request, who, None)

    @endpoint("operator")
    async def update_window(request: Request, who: Principal | None) -> Response:
        """
        summary: Replace a maintenance window (the audit trail keeps what it was)
        """
        assert who is not None
        return await save_window(request, who, request.path_params["window_id"])

    @endpoint("read")
    async def get_window(request: Request, who: Principal | None) -> Response:
        """
        summary: One maintenance window
        """
        wid = request.path_params["window_id"]
        for w in collector.windows:
            if w.id == wid:
                return _json(views.window(w))
        raise NotFound(f"no maintenance window {wid}")

    @endpoint("operator")
    async def remove_window(request: Request, who: Principal | None) -> Response:
        """
        summary: Delete a maintenance window (kept in the audit trail)
        """
        assert who is not None
        await collector.remove_window(who.name, request.path_params["window_id"])
        return Response(status_code=204)

    # -- incidents ---------------------------------------------------------------------------
    @endpoint("read")
    async def list_incidents(request: Request, who: Principal | None) -> Response:
        """
        summary: Incidents (?open=true, ?month=YYYY-MM)
        """
        open_only = request.query_params.get("open", "").lower() in ("1", "true", "yes")
        since = until = None
        if request.query_params.get("month"):
            _, since, until = month_param(request)
        rows = await collector.store.incidents(since, until, open_only)
        return _json({"incidents": [views.incident(collector.with_open(i)) for i in rows]})

    @endpoint("operator")
    async def open_incident(request: Request, who: Principal | None) -> Response:
        """
        summary: Open an incident by hand (components, severity, title, detected_at)
        """
        assert who is not None
        data = obj(await body(request))
        components = component_ids(data, "component ids")
        detected = None
        if data.get("detected_at") is not None:
            detected = instant(data, "detected_at")
        inc = await collector.open_incident(
            who.name,
            components,
            data.get("severity"),
            text(data, "title"),
            detected,
            new_component=flag(data, "new_component"),
        )
        return _json(views.incident(inc), 201)

    @endpoint("read")
    async def get_incident(request: Request, who: Principal | None) -> Response:
        """
        summary: One incident with its timeline
        """
        iid = request.path_params["incident_id"]
        inc = await collector.get_incident(iid)
        out = views.incident(inc)
        out["timeline"] = [views.timeline_entry(e) for e in await collector.timeline(iid)]
        out["audit"] = [views.audit_entry(a) for a in await collector.store.audit(target=iid)]
        return _json(out)

    @endpoint("operator")
    async def incident_action(request: Request, who: Principal | None) -> Response:
        """
        summary: ack, restore (optional at), report (ref), annotate (note)
        """
        assert who is not None
        action = request.path_params["action"]
        if action not in ("ack", "restore", "report", "annotate"):
            raise HTTPError(404, f"no action {action}")
        data = obj(await body(request) or {})
        kw: dict[str, Any] = {}
        if action == "restore":
            if data.get("at") is not None:
                kw["at"] = instant(data, "at")
            kw["force"] = flag(data, "force")
            if data.get("reason") is not None:
                kw["reason"] = text(data, "reason")
        if action == "report":
            kw["ref"] = text(data, "ref")
        if action == "annotate":
            kw["note"] = text(data, "note")
        inc = await collector.incident_action(
            who.name, request.path_params["incident_id"], action, **kw
        )
        return _json(views.incident(inc))

    # -- operations --------------------------------------------------------------------------
    @endpoint("public", needs_state=False)
    async def healthz(request: Request, who: Principal | None) -> Response:
        """
        summary: Store reachable, queue depths (503 with the reason when not)
        """
        reason = await collector.health()
        queues = await collector.store.queue_depths()  # the backlog matters most when down
        metrics.store_healthy.set(0 if reason else 1)
        metrics.set_queues(queues)
        body: dict[str, Any] = {"status": "ok" if not reason else "unavailable"}
        if reason:
            body["reason"] = reason
        body.update(store=not reason, queues=queues)
        return _json(body, 503 if reason else 200)

    @endpoint("public", needs_state=False)
    async def prometheus(request: Request, who: Principal | None) -> Response:
        """
        summary: Prometheus metrics
        """
        # from memory, not the store: /metrics must answer while the store is down
        open_ = [o for o in collector.engine.outages() if o.end is None]
        metrics.open_outages.set(sum(1 for o in open_ if o.kind == "down"))
        metrics.open_no_data.set(sum(1 for o in open_ if o.kind == "no_data"))
        metrics.open_incidents.set(len(collector.tracker.open))
        metrics.set_queues(await collector.store.queue_depths())
        metrics.ready.set(1 if collector.ready else 0)
        metrics.engine_items.set(collector.engine.memory())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/api/v1/results", results, methods=["POST"]),
        Route("/api/v1/heartbeat", heartbeat, methods=["POST"]),
        Route("/api/v1/status", status, methods=["GET"]),
        Route("/api/v1/outages", outages, methods=["GET"]),
        Route(
            "/api/v1/outages/{outage_id:path}/{action}", outage_action, methods=["POST", "DELETE"]
        ),
        Route("/api/v1/no_data", no_data, methods=["GET"]),
        Route("/api/v1/facts", facts, methods=["GET"]),
        Route("/api/v1/audit", audit, methods=["GET"]),
        Route("/api/v1/rollups", rollups, methods=["GET"]),
        Route("/api/v1/maintenance", list_windows, methods=["GET"]),
        Route("/api/v1/maintenance", add_window, methods=["POST"]),
        Route("/api/v1/maintenance/{window_id}", get_window, methods=["GET"]),
        Route("/api/v1/maintenance/{window_id}", update_window, methods=["PUT"]),
        Route("/api/v1/maintenance/{window_id}", remove_window, methods=["DELETE"]),
        Route("/api/v1/incidents", list_incidents, methods=["GET"]),
        Route("/api/v1/incidents", open_incident, methods=["POST"]),
        Route("/api/v1/incidents/{incident_id}", get_incident, methods=["GET"]),
        Route("/api/v1/incidents/{incident_id}/{action}", incident_action, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
    schemas = SchemaGenerator(
        {"openapi": "3.0.0", "info": {"title": "hotline-uptime collector", "version": "1"}}
    )

    async def openapi(request: Request) -> Response:
        return _json(schemas.get_schema(routes=request.app.routes))

    routes.append(Route("/api/v1/openapi.json", openapi, include_in_schema=False))

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        if lifecycle:
            await collector.start()
        try:
            yield
        finally:
            if lifecycle:
                await collector.stop()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.collector = collector
    return app


_MAX_TEXT = 4096
_UNENCODED_PLUS = re.compile(r"(?<=\d) (\d{2}(?::?\d{2})?)$")
_MAX_DURATION = 100 * 366 * 86_400  # seconds
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(value: Any) -> int:
    """Seconds (a number), `2h30m`-style text or ISO 8601 `PT2H30M` → milliseconds."""
    if isinstance(value, bool):
        raise ValueError("must be seconds or text like 2h30m")
    if isinstance(value, int | float):
        if not 0 < value <= _MAX_DURATION:  # (NaN too)
            raise ValueError(f"must be positive, at most {_MAX_DURATION} s (100 years)")
        return int(value * 1000)
    if not isinstance(value, str):
        raise ValueError("must be seconds or text like 2h30m")
    text = value.strip().lower()
    if text.startswith("pt"):
        text = text[2:]
    match = _DURATION.match(text)
    if not text or not match:
        raise ValueError(f"not a duration: {_show(value)} (e.g. 90m, 2h, 1h30m, PT2H)")
    d, h, m, s = (int(g or 0) for g in match.groups())
    total = ((d * 24 + h) * 60 + m) * 60 + s
    if not 0 < total <= _MAX_DURATION:
        raise ValueError(f"must be positive, at most {_MAX_DURATION} s (100 years)")
    return total * 1000

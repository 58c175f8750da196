"""The API's handlers: one per route and action, each reading what it needs from the request
and asking `request.app.state.collector` (the `Collector` service) for the rest.

Authentication is the app's middleware (`request.user.principal`); the roles a handler needs are
its `requires()`: a known token at all (401 without), and `agent` or `operator` where only one
may call it (403). Errors are raised, and mapped to responses by the app's exception handlers.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from collector.api import parse, status_page, views
from collector.api.metrics import Metrics
from collector.api.parse import bad
from collector.config import Principal
from collector.domain.ingest import MAX_INTERVAL, BatchError
from collector.domain.model import Incident
from collector.domain.timefmt import check_instant, format_instant
from collector.service import Collector
from collector.store.base import BatchConflict

known_token = requires("authenticated", status_code=401)  # any agent's or operator's token
agent_only = requires("agent")
operator_only = requires("operator")


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _service(request: Request, ready: bool = True) -> Collector:
    """The collector; with `ready`, 503 until it rebuilt its state from the store (all but
    ingest, heartbeats, /healthz and /metrics, which work from the start)."""
    collector: Collector = request.app.state.collector
    if ready and not collector.ready:  # the why (it may name the store) only with a token
        why = f": {collector.not_ready}" if request.user.is_authenticated else ""
        raise bad(f"collector not ready{why}", 503)
    return collector


def _incident(collector: Collector, i: Incident) -> dict[str, Any]:
    """An incident as JSON, its written report's deadline counted with the configured
    calendar overrides (years chinesecalendar does not know)."""
    return views.incident(i, collector.config.calendar_years)


def _who(request: Request) -> Principal:
    return request.user.principal  # type: ignore[no-any-return]


def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


async def _body(request: Request, strict: bool = True) -> Any:
    return await parse.body(request, request.app.state.collector.config.max_body, strict)


def _range(request: Request) -> tuple[int | None, int | None, str | None]:
    """`?from=&to=&component=`."""
    return (
        parse.instant_param(request, "from"),
        parse.instant_param(request, "to"),
        request.query_params.get("component") or None,
    )


# -- ingest ----------------------------------------------------------------------------------
@known_token
@agent_only
async def results(request: Request) -> Response:
    """Ingest a batch of probe results (202 once durable)."""
    collector, who, metrics = _service(request, ready=False), _who(request), _metrics(request)
    data = await _body(request, strict=False)  # each result's text is checked on its own
    if isinstance(data, dict) and data.get("agent") not in (None, who.name):
        raise bad(f"agent: token belongs to {who.name!r}, not {parse.show(data.get('agent'))}", 403)
    with metrics.ingest_seconds.time():
        try:
            batch = await collector.parse_batch_async(data)  # big ones off the loop
        except BatchError as exc:
            raise bad(str(exc)) from None
        try:
            result = await collector.ingest(batch)
        except BatchConflict as exc:
            # the id is stored with other results: nothing of this batch is stored, and every
            # result says so (an agent logs and drops them; a 4xx would block its spool for
            # good, resending the same batch forever)
            metrics.duplicates.inc()
            rejected = [{"index": i, "field": "batch", "error": str(exc)} for i in batch.indexes]
            rejected = sorted([*batch.rejected, *rejected], key=lambda r: r["index"])
            return _json(
                {"accepted": 0, "rejected": rejected, "duplicate": True, "error": str(exc)}, 202
            )
    if result.duplicate:
        metrics.duplicates.inc()
        return _json(
            {"accepted": result.accepted, "rejected": batch.rejected, "duplicate": True}, 202
        )
    metrics.accepted.inc(result.accepted)
    for rejected_result in batch.rejected:
        metrics.rejected.labels(rejected_result["field"]).inc()
    return _json({"accepted": result.accepted, "rejected": batch.rejected}, 202)


@known_token
@agent_only
async def heartbeat(request: Request) -> Response:
    """Record an agent's heartbeat (last seen, clock skew, spool, health)."""
    collector, who = _service(request, ready=False), _who(request)
    data = parse.obj(await _body(request))
    if data.get("agent") not in (None, who.name):
        raise bad(f"agent: token belongs to {who.name!r}", 403)
    sent = parse.instant(data, "sent_at")
    interval = data.get("interval")
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 0 < interval <= MAX_INTERVAL
    ):
        raise bad(f"interval: must be a number of seconds, 0 < s ≤ {MAX_INTERVAL:g}")
    parts = {key: parse.detail_object(data, key) for key in ("spool", "health", "host")}
    hb = await collector.receive_heartbeat(who.name, sent, interval, **parts)
    return _json(views.heartbeat(hb), 202)


# -- reads -----------------------------------------------------------------------------------
@known_token
async def status(request: Request) -> Response:
    """Components' states, open outages and incidents, agents' last heartbeat."""
    collector = _service(request)
    s = await collector.status()
    metrics = _metrics(request)
    metrics.open_outages.set(len(s["open_outages"]))
    metrics.open_incidents.set(len(s["open_incidents"]))
    return _json(
        {
            "now": format_instant(s["now"]),
            "components": s["components"],
            "open_outages": [views.outage(o) for o in s["open_outages"]],
            "open_incidents": [_incident(collector, i) for i in s["open_incidents"]],
            "agents": [views.heartbeat(h) for h in s["agents"]],
        }
    )


@known_token
async def summary(request: Request) -> Response:
    """Each system's availability today and this month against its target, the incident
    limits, the current and upcoming maintenance windows (the status page's second read)."""
    return _json(await request.app.state.summary.get(_service(request)))


async def status_page_html(request: Request) -> Response:
    """The status page (no token needed: it holds no names; its script reads the API)."""
    return HTMLResponse(
        status_page.HTML,
        headers={
            "Content-Security-Policy": status_page.CSP,
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@known_token
async def outages(request: Request) -> Response:
    """Outages as maintenance and fault pieces (?component=&from=&to=)."""
    collector = _service(request)
    out = []
    for o, pieces in await collector.outage_pieces(*_range(request)):
        base = views.outage(o)
        for start, end, kind in pieces:
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


@known_token
async def no_data(request: Request) -> Response:
    """No-data intervals (coverage gaps) (?component=&from=&to=)."""
    found = await _service(request).no_data(*_range(request))
    return _json({"no_data": [views.outage(o) for o in found]})


@known_token
async def facts(request: Request) -> Response:
    """The month in the scorer's facts format (?month=YYYY-MM)."""
    collector = _service(request)
    month, _, _ = parse.month_param(request)
    return _json(await collector.facts(month))


@known_token
@operator_only
async def inspection(request: Request) -> Response:
    """The month's inspection report data (巡检报告) (?month=YYYY-MM; operators only).

    Every check that ran (results ok/failed, outages, days without data), host resources per
    day (min/avg/max CPU, memory, disk), TLS certificates, backups (due, done, missed),
    incidents, maintenance windows, agents, and what was missed. `hotline inspect` reads it."""
    collector = _service(request)
    month, _, _ = parse.month_param(request)
    return _json(await collector.inspection(month))


@known_token
async def rollups(request: Request) -> Response:
    """Per-minute result counts and latency per component (?component=&from=&to=), kept after
    raw samples expire."""
    collector = _service(request)
    since, until, component = _range(request)
    if since is None or until is None:
        raise bad("from, to: both required (ISO 8601 with offset)")
    if until - since > 31 * 86_400_000:
        raise bad("to: at most 31 days after from")
    return _json(
        {"rollups": [views.rollup(r) for r in await collector.rollups(since, until, component)]}
    )


@known_token
async def audit(request: Request) -> Response:
    """The audit trail (?target=&from=&to=)."""
    collector = _service(request)
    found = await collector.audit(
        parse.instant_param(request, "from"),
        parse.instant_param(request, "to"),
        request.query_params.get("target") or None,
    )
    return _json({"audit": [views.audit_entry(a) for a in found]})


# -- disputes --------------------------------------------------------------------------------
@known_token
@operator_only
async def exclude_outage(request: Request) -> Response:
    """Exclude an outage from fault time (reason, approved_by)."""
    collector, who = _service(request), _who(request)
    oid = request.path_params["outage_id"]
    data = parse.obj(await _body(request))
    await collector.exclude_outage(
        who.name, oid, parse.text(data, "reason"), parse.text(data, "approved_by")
    )
    return _json({"outage": oid, "done": "exclude"})


@known_token
@operator_only
async def include_outage(request: Request) -> Response:
    """Count an excluded outage again (?reason=)."""
    collector, who = _service(request), _who(request)
    oid = request.path_params["outage_id"]
    await collector.include_outage(who.name, oid, request.query_params.get("reason", ""))
    return _json({"outage": oid, "done": "exclude"})


@known_token
@operator_only
async def annotate_outage(request: Request) -> Response:
    """Annotate an outage (note), kept in the audit trail."""
    collector, who = _service(request), _who(request)
    oid = request.path_params["outage_id"]
    data = parse.obj(await _body(request))
    await collector.annotate_outage(who.name, oid, parse.text(data, "note"))
    return _json({"outage": oid, "done": "annotate"})


# -- maintenance windows ---------------------------------------------------------------------
@known_token
async def list_windows(request: Request) -> Response:
    """Maintenance windows."""
    return _json({"windows": [views.window(w) for w in _service(request).windows]})


@known_token
async def get_window(request: Request) -> Response:
    """One maintenance window."""
    return _json(views.window(_service(request).get_window(request.path_params["window_id"])))


@known_token
@operator_only
async def add_window(request: Request) -> Response:
    """Create a maintenance window (components or "*", start, end or duration)."""
    return await _save_window(request, None)


@known_token
@operator_only
async def update_window(request: Request) -> Response:
    """Replace a maintenance window (the audit trail keeps what it was)."""
    return await _save_window(request, request.path_params["window_id"])


async def _save_window(request: Request, window_id: str | None) -> Response:
    collector, who = _service(request), _who(request)
    data = parse.obj(await _body(request))
    if data.get("components") in ("*", ["*"]):
        data["components"] = ["*"]
    components = parse.component_ids(data, "component ids or ['*']")
    start = parse.instant(data, "start")
    if data.get("end") is not None and data.get("duration") is not None:
        raise bad("end, duration: give one of them")
    if data.get("end") is not None:
        end = parse.instant(data, "end")
    elif data.get("duration") is not None:
        try:
            end = check_instant(start + parse.parse_duration(data["duration"]))
        except ValueError as exc:
            raise bad(f"duration: {exc}") from None
    else:
        raise bad("end: give end or duration")
    rrule = data.get("rrule")
    if rrule is not None and (not isinstance(rrule, str) or len(rrule) > parse.MAX_TEXT):
        raise bad("rrule: must be an RFC 5545 RRULE string")
    w = await collector.add_window(
        who.name,
        components,
        start,
        end,
        parse.text(data, "reason", required=False),
        parse.text(data, "approval_ref", required=False),
        rrule,
        window_id,
        new_component=parse.flag(data, "new_component"),
    )
    return _json(views.window(w), 200 if window_id else 201)


@known_token
@operator_only
async def remove_window(request: Request) -> Response:
    """Delete a maintenance window (kept in the audit trail)."""
    collector, who = _service(request), _who(request)
    await collector.remove_window(who.name, request.path_params["window_id"])
    return Response(status_code=204)


# -- incidents -------------------------------------------------------------------------------
@known_token
async def list_incidents(request: Request) -> Response:
    """Incidents (?open=true, ?month=YYYY-MM)."""
    collector = _service(request)
    open_only = request.query_params.get("open", "").lower() in ("1", "true", "yes")
    since = until = None
    if request.query_params.get("month"):
        _, since, until = parse.month_param(request)
    found = await collector.incidents(since, until, open_only)
    return _json({"incidents": [_incident(collector, i) for i in found]})


@known_token
@operator_only
async def open_incident(request: Request) -> Response:
    """Open an incident by hand (components, severity, title, detected_at)."""
    collector, who = _service(request), _who(request)
    data = parse.obj(await _body(request))
    components = parse.component_ids(data, "component ids")
    detected = None
    if data.get("detected_at") is not None:
        detected = parse.instant(data, "detected_at")
    inc = await collector.open_incident(
        who.name,
        components,
        data.get("severity"),
        parse.text(data, "title"),
        detected,
        new_component=parse.flag(data, "new_component"),
    )
    return _json(_incident(collector, inc), 201)


@known_token
async def get_incident(request: Request) -> Response:
    """One incident with its timeline and audit trail."""
    collector = _service(request)
    iid = request.path_params["incident_id"]
    out = _incident(collector, await collector.get_incident(iid))
    out["timeline"] = [views.timeline_entry(e) for e in await collector.timeline(iid)]
    out["audit"] = [views.audit_entry(a) for a in await collector.audit(target=iid)]
    return _json(out)


async def _incident_body(request: Request) -> tuple[Collector, Principal, str, dict[str, Any]]:
    collector, who = _service(request), _who(request)
    data = parse.obj(await _body(request) or {})
    return collector, who, request.path_params["incident_id"], data


@known_token
@operator_only
async def ack_incident(request: Request) -> Response:
    """Acknowledge an incident (the response); the operator's token says who. `at` (with a
    `reason`, audited): when it was really acknowledged, if recorded late."""
    collector, who, iid, data = await _incident_body(request)
    at, reason = _late(data)
    return _json(_incident(collector, await collector.ack_incident(who.name, iid, at, reason)))


def _late(data: dict[str, Any]) -> tuple[int | None, str | None]:
    """`at` and `reason` of an action recorded late; `reason` is required with `at`."""
    at = parse.instant(data, "at") if data.get("at") is not None else None
    reason = parse.text(data, "reason") if data.get("reason") is not None else None
    if at is not None and not (reason or "").strip():
        raise bad("reason: required with at (why it is recorded late)")
    if at is None and reason is not None:
        raise bad("reason: only with at")
    return at, reason


@known_token
@operator_only
async def restore_incident(request: Request) -> Response:
    """Record service restored by hand (at, force, reason)."""
    collector, who, iid, data = await _incident_body(request)
    at = parse.instant(data, "at") if data.get("at") is not None else None
    force = parse.flag(data, "force")
    reason = parse.text(data, "reason") if data.get("reason") is not None else None
    inc = await collector.restore_incident(who.name, iid, at=at, force=force, reason=reason)
    return _json(_incident(collector, inc))


@known_token
@operator_only
async def report_incident(request: Request) -> Response:
    """Record the written report submitted (ref; `at` with a `reason` when recorded late)."""
    collector, who, iid, data = await _incident_body(request)
    at, reason = _late(data)
    inc = await collector.report_incident(who.name, iid, parse.text(data, "ref"), at, reason)
    return _json(_incident(collector, inc))


@known_token
@operator_only
async def annotate_incident(request: Request) -> Response:
    """Add a note to an incident's timeline (note)."""
    collector, who, iid, data = await _incident_body(request)
    inc = await collector.annotate_incident(who.name, iid, parse.text(data, "note"))
    return _json(_incident(collector, inc))


# -- operations ------------------------------------------------------------------------------
async def healthz(request: Request) -> Response:
    """Store reachable, queue depths (503 when not). The reason in full only with a known
    token: an anonymous caller (a load balancer) learns the status and the queue depths, not
    the store's user, host or database."""
    collector, metrics = _service(request, ready=False), _metrics(request)
    reason = await collector.check_health()  # live; also what /metrics shows until the next
    queues = await collector.queue_depths()  # the backlog matters most when down
    metrics.store_healthy.set(0 if reason else 1)
    metrics.set_queues(queues)
    out: dict[str, Any] = {"status": "ok" if not reason else "unavailable"}
    if reason:
        if request.user.is_authenticated:
            out["reason"] = reason
        else:
            out["reason"] = "not ready" if not collector.ready else "store unavailable"
    out.update(store=not reason, queues={k: int(v) for k, v in queues.items()})
    return _json(out, 503 if reason else 200)


async def prometheus(request: Request) -> Response:
    """Prometheus metrics."""
    collector, metrics = _service(request, ready=False), _metrics(request)
    gauges = collector.gauges()  # from memory: /metrics answers while the store is down
    metrics.open_outages.set(gauges["open_outages"])
    metrics.open_no_data.set(gauges["open_no_data"])
    metrics.open_incidents.set(gauges["open_incidents"])
    metrics.set_queues(await collector.queue_depths())
    metrics.store_healthy.set(1 if collector.last_health == "" else 0)  # checked every few s
    metrics.ready.set(gauges["ready"])
    metrics.engine_items.set(gauges["engine_items"])
    metrics.backups_missed.set(gauges["backups_missed"])
    metrics.set_components(collector.component_states())
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


# -- acknowledgement links (from alerts: no bearer token, the signed link is the credential) --
async def ack_link_page(request: Request) -> Response:
    """The page an alert's acknowledgement link opens. GET changes nothing (chat apps and mail
    clients fetch links ahead): it shows the incident and a button that POSTs."""
    from collector.notify.links import LinkError, render_ack_page, render_link_error

    collector = _service(request)
    try:
        claim, inc = await collector.ack_by_link(request.path_params["token"], confirm=False)
    except LinkError as exc:
        return _html(render_link_error(exc), 410 if exc.reason in ("expired", "used") else 403)
    return _html(render_ack_page(claim, inc, collector.system_of))


async def ack_link_confirm(request: Request) -> Response:
    """The button's POST: acknowledges as the link names, once."""
    from collector.notify.links import LinkError, render_ack_done, render_link_error

    collector = _service(request)
    try:
        claim, inc = await collector.ack_by_link(request.path_params["token"], confirm=True)
    except LinkError as exc:
        return _html(render_link_error(exc), 410 if exc.reason in ("expired", "used") else 403)
    if inc is None:
        return _html(render_ack_done(claim.incident_id, ok=False, error="找不到该事件"), 404)
    return _html(
        render_ack_done(inc.id, ok=True, who=inc.responded_by or claim.who, at=inc.responded_at)
    )


def _html(text: str, status: int = 200) -> Response:
    return Response(
        text,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )

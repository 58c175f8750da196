"""The OpenAPI document (`/api/v1/openapi.json`): every route with its summary, path and query
parameters, request body and who may call it, so clients and fuzzers can use it."""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import BaseRoute
from starlette.schemas import SchemaGenerator

_INSTANT = {"type": "string", "format": "date-time", "description": "ISO 8601 with an offset"}
_TEXT = {"type": "string", "maxLength": 4096}
_COMPONENTS = {"type": "array", "items": _TEXT, "minItems": 1}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        out["description"] = description
    return out


_RANGE = [
    _query("component", {"type": "string"}, "one component"),
    _query("from", _INSTANT, "from this instant"),
    _query("to", _INSTANT, "until this instant"),
]
_MONTH = _query("month", {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}, "YYYY-MM")

QUERY: dict[str, list[dict[str, Any]]] = {
    "outages": _RANGE,
    "no_data": _RANGE,
    "rollups": _RANGE,
    "audit": [_query("target", {"type": "string"}), *_RANGE[1:]],
    "facts": [{**_MONTH, "required": True}],
    "inspection": [{**_MONTH, "required": True}],
    "list_incidents": [_query("open", {"type": "boolean"}, "open incidents only"), _MONTH],
    "include_outage": [_query("reason", _TEXT, "why it counts again")],
}

_RESULT = {
    "type": "object",
    "required": ["component", "system", "probe", "ts", "ok"],
    "properties": {
        "component": _TEXT,
        "system": {"type": "string", "enum": ["acd", "ivr", "seat", "callsys", "other"]},
        "probe": _TEXT,
        "ts": _INSTANT,
        "ok": {"type": "boolean"},
        "reason": {"type": "string", "description": "required when ok is false"},
        "latency_ms": {"type": "number", "minimum": 0},
        "detail": _TEXT,
        "interval": {"type": "number", "exclusiveMinimum": 0},
        "value": {"description": "any small JSON value"},
        "count": {"type": "integer", "minimum": 1, "description": "equal results ts..until"},
        "until": _INSTANT,
    },
}
_WINDOW = {
    "type": "object",
    "required": ["components", "start"],
    "properties": {
        "components": {"oneOf": [_COMPONENTS, {"type": "string", "enum": ["*"]}]},
        "start": _INSTANT,
        "end": _INSTANT,
        "duration": {"oneOf": [{"type": "number"}, {"type": "string"}],
                     "description": "seconds, 2h30m or PT2H30M (instead of end)"},
        "reason": _TEXT,
        "approval_ref": _TEXT,
        "rrule": {"type": "string", "description": "RFC 5545 RRULE"},
        "new_component": {"type": "boolean"},
    },
}  # fmt: skip


def _object(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


BODIES: dict[str, dict[str, Any]] = {
    "results": _object(
        ["results"], agent=_TEXT, batch={"type": "string", "maxLength": 200},
        results={"type": "array", "items": _RESULT},
    ),
    "heartbeat": _object(
        ["sent_at"], agent=_TEXT, sent_at=_INSTANT, interval={"type": "number"},
        spool={"type": "object"}, health={"type": "object"}, host={"type": "object"},
    ),
    "add_window": _WINDOW,
    "update_window": _WINDOW,
    "open_incident": _object(
        ["components", "title"], components=_COMPONENTS, title=_TEXT,
        severity={"type": "string", "enum": ["P1", "P2", "P3"]}, detected_at=_INSTANT,
        new_component={"type": "boolean"},
    ),
    "exclude_outage": _object(["reason", "approved_by"], reason=_TEXT, approved_by=_TEXT),
    "annotate_outage": _object(["note"], note=_TEXT),
    "ack_incident": _object([], at=_INSTANT, reason=_TEXT),
    "restore_incident": _object([], at=_INSTANT, force={"type": "boolean"}, reason=_TEXT),
    "report_incident": _object(["ref"], ref=_TEXT, at=_INSTANT, reason=_TEXT),
    "annotate_incident": _object(["note"], note=_TEXT),
}  # fmt: skip

_DAY_STATS = {
    "type": "object",
    "nullable": True,
    "properties": {"min": {"type": "number"}, "avg": {"type": "number"}, "max": {"type": "number"}},
}
_ARRAY = {"type": "array", "items": {"type": "object"}}


def _described(text: str) -> dict[str, Any]:
    return {**_ARRAY, "description": text}


_RESOURCE_DAY = _object(
    ["day"],
    day={"type": "string", "format": "date"},
    cpu=_DAY_STATS,
    memory=_DAY_STATS,
    disk=_DAY_STATS,
)
RESPONSES: dict[str, dict[str, Any]] = {
    "inspection": _object(
        ["month", "as_of", "checks", "resources", "certificates", "backups", "missed"],
        month={"type": "string"},
        as_of=_INSTANT,
        period={"type": "object"},
        checks=_described(
            "per component and probe: ok, failed, ok_ratio, first, last, days_with_data, "
            "days_without_data, outages, down_seconds, state (ok|degraded|failed)"
        ),
        components=_described("outages and no-data seconds per component"),
        resources={"type": "array", "items": _object(
            ["host", "days"], host=_TEXT, system=_TEXT, agent=_TEXT,
            days={"type": "array", "items": _RESOURCE_DAY},
        )},
        certificates=_described("component, probe, days_left, min_days_left, expires_at, seen_at"),
        backups=_described(
            "component, kind (daily|monthly), last_good, failed_results, due, missed, "
            "entries [{component, kind, due, done_at}]"
        ),
        incidents=_ARRAY,
        maintenance_windows=_ARRAY,
        agents=_described("agent, last_seen, host (latest metrics), silent"),
        missed=_object(
            [], components_without_results=_ARRAY, agents_silent=_ARRAY,
            check_days_without_data=_ARRAY, days_without_any_data=_ARRAY, backups_missed=_ARRAY,
        ),
    ),
}  # fmt: skip

_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def document(routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3 document of `routes` (those in the schema)."""
    generator = SchemaGenerator({})
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in generator.get_endpoints(routes):
        name = endpoint.func.__name__
        operation: dict[str, Any] = {
            "operationId": name,
            "summary": (endpoint.func.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            "responses": {"default": {"description": 'JSON; errors as {"error": …}'}},
        }
        if name in RESPONSES:
            operation["responses"]["200"] = {
                "description": "OK",
                "content": {"application/json": {"schema": RESPONSES[name]}},
            }
        parameters = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in _PATH_PARAM.findall(endpoint.path)
        ] + QUERY.get(name, [])
        if parameters:
            operation["parameters"] = parameters
        if name in BODIES:
            operation["requestBody"] = {
                "required": name != "ack_incident",
                "content": {"application/json": {"schema": BODIES[name]}},
            }
        if endpoint.path.startswith("/api/"):
            operation["security"] = [{"bearer": []}]
        paths.setdefault(endpoint.path, {})[endpoint.http_method] = operation
    return {
        "openapi": "3.0.0",
        "info": {"title": "hotline-uptime collector", "version": "1"},
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }

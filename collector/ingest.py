"""Validation of an ingest batch (`POST /api/v1/results`): good results kept, bad ones listed.

Pure: the collector's clock and the registered components are passed in. Each rejected result
is `{"index", "field", "error"}`; a batch that is not a batch at all raises `BatchError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.model import SYSTEMS, Millis, Sample
from collector.timefmt import parse_instant
from probes.result import Reason

_REASONS = frozenset(r.value for r in Reason)
_SYSTEMS = frozenset(SYSTEMS)
_MAX_TEXT = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class BatchError(ValueError):
    """The request body is not a batch (400)."""


@dataclass(slots=True)
class Batch:
    agent: str
    batch_id: str | None
    samples: list[Sample] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # each sample's index in the request


def parse_batch(
    body: Any,
    known: Mapping[str, str],
    now: Millis,
    max_future_ms: int = 300_000,
) -> Batch:
    """Validate a decoded JSON batch. `known` maps registered components to their systems;
    components first seen in this batch register with their first result's system."""
    if not isinstance(body, dict):
        raise BatchError("body: expected a JSON object with agent, batch and results")
    agent = body.get("agent")
    if not isinstance(agent, str) or not agent:
        raise BatchError("agent: required, a non-empty string")
    batch_id = body.get("batch")
    if batch_id is not None and (not isinstance(batch_id, str) or not batch_id):
        raise BatchError("batch: must be a non-empty string when given")
    results = body.get("results")
    if not isinstance(results, list):
        raise BatchError("results: required, a list of results")
    out = Batch(agent, batch_id)
    seen: dict[str, str] = {}
    limit = now + max_future_ms
    for index, raw in enumerate(results):
        try:
            sample = _sample(agent, raw, limit, max_future_ms, now)
            system = known.get(sample.component) or seen.get(sample.component)
            if system is not None and system != sample.system:
                raise _Bad(
                    "system",
                    f"component {sample.component!r} is registered with system {system!r}",
                )
        except _Bad as bad:
            out.rejected.append({"index": index, "field": bad.field, "error": bad.error})
            continue
        seen.setdefault(sample.component, sample.system)
        out.samples.append(sample)
        out.indexes.append(index)
    return out


class _Bad(Exception):
    def __init__(self, field_name: str, error: str) -> None:
        self.field = field_name
        self.error = error


def _text(raw: dict[str, Any], key: str, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _Bad(key, "required, a non-empty string" if required else "must be a string")
    if len(value) > _MAX_TEXT:
        raise _Bad(key, f"longer than {_MAX_TEXT} characters")
    return value


def _number(raw: dict[str, Any], key: str, positive: bool = False) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Bad(key, "must be a number or null")
    if value < 0 or (positive and value == 0):
        raise _Bad(key, "must be positive" if positive else "must not be negative")
    return float(value)


def _instant(
    raw: dict[str, Any], key: str, limit: Millis, max_future_ms: int, now: Millis
) -> Millis:
    try:
        ts = parse_instant(raw.get(key))
    except ValueError as exc:
        raise _Bad(key, str(exc)) from None
    if ts > limit:
        ahead = (ts - now) / 1000
        raise _Bad(
            key,
            f"{ahead:.0f} s ahead of the collector's clock (max_future {max_future_ms // 1000} s): "
            "check the agent's clock (NTP)",
        )
    return ts


def _fast_instant(text: Any) -> Millis | None:
    """`parse_instant` for the usual case (a string with an offset), else None."""
    if type(text) is str:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is not None:
            return (moment - _EPOCH) // _MS
    return None


def _sample(agent: str, raw: Any, limit: Millis, max_future_ms: int, now: Millis) -> Sample:
    # The hot path of ingest: plain type checks first, the helpers only for what is optional.
    if type(raw) is not dict:
        raise _Bad("(result)", "must be an object")
    get = raw.get
    component = get("component")
    if type(component) is not str or not component or len(component) > _MAX_TEXT:
        component = _text(raw, "component")
    system = get("system")
    if system not in _SYSTEMS:
        raise _Bad("system", f"must be one of {', '.join(SYSTEMS)}")
    probe = get("probe")
    if type(probe) is not str or not probe or len(probe) > _MAX_TEXT:
        probe = _text(raw, "probe")
    ts = _fast_instant(get("ts"))
    if ts is None or ts > limit:  # not an instant, or too far ahead: the slow path says why
        ts = _instant(raw, "ts", limit, max_future_ms, now)
    ok = get("ok")
    if ok is not True and ok is not False:
        raise _Bad("ok", "required, true or false")
    reason = get("reason")
    if reason is None:
        if not ok:
            raise _Bad("reason", "required for a failed result")
        reason = "ok"
    if reason not in _REASONS:
        raise _Bad("reason", f"unknown reason {reason!r}; one of {', '.join(sorted(_REASONS))}")
    if ok != (reason == "ok"):
        raise _Bad("reason", f"{reason!r} contradicts ok={str(ok).lower()}")
    detail = get("detail")
    if type(detail) is not str or len(detail) > _MAX_TEXT:
        detail = _text(raw, "detail", required=False)
    latency = get("latency_ms")
    if latency is not None and (type(latency) is not float or not 0 <= latency < math.inf):
        latency = _number(raw, "latency_ms")
    interval = get("interval")
    if interval is not None:
        if type(interval) is int and interval > 0:
            interval = float(interval)
        elif type(interval) is not float or not 0 < interval < math.inf:
            interval = _number(raw, "interval", positive=True)
    count = get("count", 1)
    until = None
    if count != 1 or get("until") is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _Bad("count", "must be a whole number ≥ 1")
        if get("until") is None:
            raise _Bad("until", "required when count > 1")
        until = _instant(raw, "until", limit, max_future_ms, now)
        if until < ts:
            raise _Bad("until", "before ts")
        if count == 1 and until != ts:
            raise _Bad("count", "must be > 1 when until differs from ts")
        if count == 1:
            until = None
    return Sample(
        agent, component, system, probe, ts, ok, reason, detail, latency,
        get("value"), interval, count, until,
    )  # fmt: skip

"""Validation of an ingest batch (`POST /api/v1/results`): good results kept, bad ones listed.

Pure: the collector's clock and the registered components are passed in. Each rejected result
is `{"index", "field", "error"}`; a batch that is not a batch at all raises `BatchError`.

Whatever passes is storable and readable by every store: text is valid Unicode (no lone
surrogate) and at most 4096 characters, numbers are finite and bounded (`count` < 2^31,
`latency_ms` ≤ a day, `interval` ≤ 30 days), instants lie in the years 2000..2099 and not
before the retention horizon (`max_age_ms`, the config's `keep_days`: the next retention run
would delete every trace of an older result), `value` is JSON of at most 4 KiB and 16 levels,
and a batch id is printable text of at most 200 characters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collector.domain.model import SYSTEMS, Millis, Sample
from collector.domain.timefmt import MIN_INSTANT, parse_instant
from probes.result import Reason

_REASONS = frozenset(r.value for r in Reason)
_SYSTEMS = frozenset(SYSTEMS)
_MAX_TEXT = 4096
MAX_BATCH_ID = 200
MAX_COUNT = 2**31 - 1
MAX_LATENCY_MS = 86_400_000.0  # a day
MAX_INTERVAL = 30 * 86_400.0  # seconds
MAX_VALUE_BYTES = 4096  # `value` serialized as JSON (UTF-8)
MAX_VALUE_DEPTH = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class BatchError(ValueError):
    """The request body is not a batch (400)."""


@dataclass(slots=True)
class IngestBatch:
    """One agent's request after validation: the samples that passed, the results refused and
    why (not the agent's `agent.spool.Batch`, the rows it takes from its spool to send)."""

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
    max_age_ms: int | None = None,
) -> IngestBatch:
    """Validate a decoded JSON batch. `known` maps registered components to their systems;
    components first seen in this batch register with their first result's system. With
    `max_age_ms` (the longest retention), results older than `now - max_age_ms` are rejected."""
    if not isinstance(body, dict):
        raise BatchError("body: expected a JSON object with agent, batch and results")
    agent = body.get("agent")
    if not isinstance(agent, str) or not agent or not _unicode(agent):
        raise BatchError("agent: required, a non-empty string")
    batch_id = body.get("batch")
    if batch_id is not None and (
        not isinstance(batch_id, str)
        or not batch_id
        or len(batch_id) > MAX_BATCH_ID
        or not batch_id.isprintable()
    ):
        raise BatchError(
            f"batch: must be printable text of 1..{MAX_BATCH_ID} characters when given"
        )
    results = body.get("results")
    if not isinstance(results, list):
        raise BatchError("results: required, a list of results")
    out = IngestBatch(agent, batch_id)
    seen: dict[str, str] = {}
    limit = now + max_future_ms
    floor = MIN_INSTANT if max_age_ms is None else max(MIN_INSTANT, now - max_age_ms)
    bounds = _Bounds(limit, floor, max_future_ms, max_age_ms, now)
    for index, raw in enumerate(results):
        try:
            sample = _sample(agent, raw, bounds)
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


@dataclass(frozen=True, slots=True)
class _Bounds:
    limit: Millis  # latest instant taken (now + max_future)
    floor: Millis  # earliest instant taken
    max_future_ms: int
    max_age_ms: int | None
    now: Millis


def _unicode(text: str) -> bool:
    """False when `text` holds a lone surrogate (JSON's `"\\ud800"`): no store can keep it."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(raw: dict[str, Any], key: str, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _Bad(key, "required, a non-empty string" if required else "must be a string")
    if len(value) > _MAX_TEXT:
        raise _Bad(key, f"longer than {_MAX_TEXT} characters")
    if not _unicode(value):
        raise _Bad(key, "not valid Unicode (a lone surrogate)")
    return value


def _number(raw: dict[str, Any], key: str, maximum: float, positive: bool = False) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(key, "must be a number or null")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(key, "must be a finite number")
    if value < 0 or (positive and value == 0):
        raise _Bad(key, "must be positive" if positive else "must not be negative")
    if value > maximum:
        raise _Bad(key, f"must be at most {maximum:g}")
    return float(value)


def _instant(raw: dict[str, Any], key: str, b: _Bounds) -> Millis:
    try:
        ts = parse_instant(raw.get(key))
    except ValueError as exc:
        raise _Bad(key, str(exc)) from None
    if ts > b.limit:
        ahead = (ts - b.now) / 1000
        raise _Bad(
            key,
            f"{ahead:.0f} s ahead of the collector's clock (max_future "
            f"{b.max_future_ms // 1000} s): check the agent's clock (NTP)",
        )
    if ts < b.floor and b.max_age_ms is not None:
        days = b.max_age_ms / 86_400_000
        raise _Bad(
            key,
            f"{(b.now - ts) / 86_400_000:.1f} days old, older than the retention "
            f"(keep_days {days:g}): the next retention run would delete every trace of it",
        )
    return ts


def _value(value: Any) -> Any:
    """`value` as given when it is small, plain JSON; else `_Bad` naming `value`."""
    kind = type(value)
    if kind is bool or (kind is int and -(2**63) <= value < 2**63):
        return value
    if kind is str and len(value) < 1000 and value.isascii():
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad("value", "must be finite (NaN and Infinity are not JSON)")
    stack = [(value, 1)]
    while stack:  # nesting first: json.dumps recurses
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_VALUE_DEPTH:
                raise _Bad("value", f"nested deeper than {MAX_VALUE_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
            if len(stack) > MAX_VALUE_BYTES:
                raise _Bad("value", f"over {MAX_VALUE_BYTES} bytes as JSON")
    try:
        size = len(json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8"))
    except UnicodeEncodeError:
        raise _Bad("value", "not valid Unicode (a lone surrogate)") from None
    except ValueError:
        raise _Bad("value", "must be finite (NaN and Infinity are not JSON)") from None
    if size > MAX_VALUE_BYTES:
        raise _Bad("value", f"over {MAX_VALUE_BYTES} bytes as JSON ({size})")
    return value


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


def _sample(agent: str, raw: Any, b: _Bounds) -> Sample:
    # The hot path of ingest: plain type checks first, the helpers only for what is optional.
    if type(raw) is not dict:
        raise _Bad("(result)", "must be an object")
    get = raw.get
    component = get("component")
    if (
        type(component) is not str
        or not component
        or len(component) > _MAX_TEXT
        or not component.isascii()
    ):
        component = _text(raw, "component")
    system = get("system")
    if type(system) is not str or system not in _SYSTEMS:
        raise _Bad("system", f"must be one of {', '.join(SYSTEMS)}")
    probe = get("probe")
    if type(probe) is not str or not probe or len(probe) > _MAX_TEXT or not probe.isascii():
        probe = _text(raw, "probe")
    ts = _fast_instant(get("ts"))
    if ts is None or not b.floor <= ts <= b.limit:  # the slow path says why not
        ts = _instant(raw, "ts", b)
    ok = get("ok")
    if ok is not True and ok is not False:
        raise _Bad("ok", "required, true or false")
    reason = get("reason")
    if reason is None:
        if not ok:
            raise _Bad("reason", "required for a failed result")
        reason = "ok"
    if type(reason) is not str or reason not in _REASONS:
        raise _Bad(
            "reason", f"unknown reason {_show(reason)}; one of {', '.join(sorted(_REASONS))}"
        )
    if ok != (reason == "ok"):
        raise _Bad("reason", f"{reason!r} contradicts ok={str(ok).lower()}")
    detail = get("detail")
    if type(detail) is not str or len(detail) > _MAX_TEXT or not detail.isascii():
        detail = _text(raw, "detail", required=False)
    latency = get("latency_ms")
    if latency is not None and (type(latency) is not float or not 0 <= latency <= MAX_LATENCY_MS):
        latency = _number(raw, "latency_ms", MAX_LATENCY_MS)
    interval = get("interval")
    if interval is not None:
        if type(interval) is int and 0 < interval <= MAX_INTERVAL:
            interval = float(interval)
        elif type(interval) is not float or not 0 < interval <= MAX_INTERVAL:
            interval = _number(raw, "interval", MAX_INTERVAL, positive=True)
    value = get("value")
    if value is not None:
        value = _value(value)
    count = get("count", 1)
    until = None
    if type(count) is not int or count != 1 or get("until") is not None:
        if type(count) is not int or not 1 <= count <= MAX_COUNT:
            raise _Bad("count", f"must be a whole number from 1 to {MAX_COUNT}")
        if get("until") is None:
            raise _Bad("until", "required when count > 1")
        until = _instant(raw, "until", b)
        if until < ts:
            raise _Bad("until", "before ts")
        if count == 1 and until != ts:
            raise _Bad("count", "must be > 1 when until differs from ts")
        if count == 1:
            until = None
    return Sample(
        agent, component, system, probe, ts, ok, reason, detail, latency,
        value, interval, count, until,
    )  # fmt: skip

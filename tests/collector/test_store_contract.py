"""The store contract: every store (SQLite, InfluxDB) passes these unchanged."""

from __future__ import annotations

from collector.domain.model import (
    AuditEntry,
    Component,
    Exclusion,
    Heartbeat,
    Incident,
    IntervalKind,
    MaintenanceWindow,
    Outage,
    Sample,
    TimelineEntry,
)
from collector.store import Store

T0 = 1_792_999_980_000  # 2026-10-27T11:33:00Z, a whole minute, in epoch ms
MIN = 60_000


def _sample(ts: int, ok: bool = True, component: str = "ivr-1", **kw: object) -> Sample:
    base: dict[str, object] = {
        "agent": "a1",
        "component": component,
        "system": "ivr",
        "probe": "sip",
        "ts": ts,
        "ok": ok,
        "reason": "ok" if ok else "timeout",
        "detail": "" if ok else "no answer in 5 s",
        "latency_ms": 1.5 if ok else None,
    }
    base.update(kw)
    return Sample(**base)  # type: ignore[arg-type]


async def test_store_answers_ping(store: Store) -> None:
    assert await store.ping()


async def test_samples_read_back_in_time_order(store: Store) -> None:
    late = _sample(T0 + 2 * MIN, ok=False)
    early = _sample(T0, value=42, interval=30.0)
    run = _sample(T0 + MIN, count=5, until=T0 + MIN + 4000)
    assert await store.append_samples("a1", "b1", [late, early, run])
    assert await store.read_samples(T0, T0 + 3 * MIN) == [early, run, late]
    assert await store.read_samples(T0 + MIN, T0 + 2 * MIN) == [run]


async def test_batch_seen_before_is_stored_once(store: Store) -> None:
    s = _sample(T0)
    assert await store.append_samples("a1", "b1", [s])
    assert not await store.append_samples("a1", "b1", [s])
    assert await store.read_samples(T0, T0 + 1) == [s]


async def test_same_batch_id_from_another_agent_is_another_batch(store: Store) -> None:
    assert await store.append_samples("a1", "b1", [_sample(T0)])
    assert await store.append_samples("a2", "b1", [_sample(T0, agent="a2")])
    assert len(await store.read_samples(T0, T0 + 1)) == 2


async def test_samples_without_batch_id_are_always_stored(store: Store) -> None:
    assert await store.append_samples("a1", None, [_sample(T0)])
    assert await store.append_samples("a1", None, [_sample(T0)])
    assert len(await store.read_samples(T0, T0 + 1)) == 2


async def test_component_registers_with_first_sample(store: Store) -> None:
    await store.append_samples("a1", "b1", [_sample(T0 + MIN), _sample(T0)])
    await store.append_samples("a2", "b2", [_sample(T0 - MIN, agent="a2", system="seat")])
    assert await store.components() == [Component("ivr-1", "ivr", T0, "a1")]


async def test_outages_upsert_replace_and_filter(store: Store) -> None:
    a = Outage(
        "ivr-1@1", "ivr-1", T0, None, detected_at=T0 + 2000, probes=("sip",), reason="timeout"
    )
    b = Outage("acd-1@1", "acd-1", T0 + 10 * MIN, T0 + 20 * MIN)
    nd = Outage("seat-1@1", "seat-1", T0, T0 + MIN, kind=IntervalKind.NO_DATA)
    await store.upsert_outages([a, b, nd])
    assert await store.read_outages() == [a, b]
    assert await store.read_outages(kind=None) == [a, nd, b]
    assert await store.read_outages(kind=IntervalKind.NO_DATA) == [nd]
    assert await store.open_outages() == [a]
    closed = Outage("ivr-1@1", "ivr-1", T0, T0 + 5 * MIN, detected_at=T0 + 2000, probes=("sip",))
    await store.upsert_outages([closed])
    assert await store.open_outages() == []
    # overlap filter: open-ended reads and half-open bounds
    assert await store.read_outages(since=T0 + 5 * MIN) == [b]
    assert await store.read_outages(until=T0 + 10 * MIN) == [closed]
    assert await store.read_outages(component="acd-1") == [b]
    await store.delete_outages(["acd-1@1"])
    assert await store.read_outages() == [closed]


async def test_open_outage_overlaps_any_later_range(store: Store) -> None:
    a = Outage("ivr-1@1", "ivr-1", T0, None)
    await store.upsert_outages([a])
    assert await store.read_outages(since=T0 + 1000 * MIN, until=T0 + 1001 * MIN) == [a]


async def test_exclusion_is_kept_across_outage_updates(store: Store) -> None:
    a = Outage("ivr-1@1", "ivr-1", T0, None)
    await store.upsert_outages([a])
    ex = Exclusion("carrier fault, agreed", "center-li", by="ops-wang", at=T0 + MIN)
    await store.set_exclusion("ivr-1@1", ex)
    await store.upsert_outages([Outage("ivr-1@1", "ivr-1", T0, T0 + MIN)])
    [got] = await store.read_outages()
    assert got.excluded == ex and got.end == T0 + MIN
    await store.set_exclusion("ivr-1@1", None)
    [got] = await store.read_outages()
    assert got.excluded is None


async def test_one_outage_is_read_by_its_id_with_its_exclusion(store: Store) -> None:
    down = Outage("ivr-1@1", "ivr-1", T0, T0 + MIN)
    silent = Outage("ivr-1@2", "ivr-1", T0 + MIN, None, kind=IntervalKind.NO_DATA)
    await store.upsert_outages([down, silent])
    ex = Exclusion("carrier fault, agreed", "center-li", by="ops-wang", at=T0 + MIN)
    await store.set_exclusion("ivr-1@1", ex)
    assert await store.get_outage("ivr-1@1") == Outage(
        "ivr-1@1", "ivr-1", T0, T0 + MIN, excluded=ex
    )
    assert await store.get_outage("ivr-1@2") == silent
    assert await store.get_outage("ivr-1@3") is None


async def test_windows_crud(store: Store) -> None:
    w1 = MaintenanceWindow(
        "mw-1", ("acd-1",), T0, T0 + 60 * MIN, "upgrade", "CR-7", T0 - MIN, "ops-wang"
    )
    w2 = MaintenanceWindow(
        "mw-2", ("*",), T0 - MIN, T0, "weekly", "", T0 - 9 * MIN, "ops", rrule="FREQ=WEEKLY"
    )
    await store.upsert_window(w1)
    await store.upsert_window(w2)
    assert await store.windows() == [w2, w1]
    assert await store.delete_window("mw-2")
    assert not await store.delete_window("mw-2")
    assert await store.windows() == [w1]


async def test_incidents_and_timeline(store: Store) -> None:
    inc = Incident(
        "INC-1", ("acd-1", "acd-2"), "P1", T0 + 2000, first_failed_at=T0, outage_ids=("acd-1@1",)
    )
    manual = Incident("INC-2", ("trunk-1",), "P2", T0 + MIN, opened_by="ops-wang", title="one-way")
    await store.upsert_incident(manual)
    await store.upsert_incident(inc)
    assert await store.get_incident("INC-1") == inc
    assert await store.get_incident("nope") is None
    assert await store.incidents() == [inc, manual]
    assert await store.incidents(since=T0 + 3000) == [manual]
    acked = Incident(
        "INC-1",
        ("acd-1",),
        "P1",
        T0 + 2000,
        responded_at=T0 + MIN,
        responded_by="ops-wang",
        restored_at=T0 + 2 * MIN,
    )
    await store.upsert_incident(acked)
    assert await store.incidents(open_only=True) == [manual]
    e1 = TimelineEntry("INC-1", T0 + 2000, "detected", detail={"outage": "acd-1@1"})
    e2 = TimelineEntry("INC-1", T0 + MIN, "acked", actor="ops-wang")
    await store.append_timeline(e1)
    await store.append_timeline(e2)
    await store.append_timeline(TimelineEntry("INC-2", T0, "opened", actor="ops-wang"))
    assert await store.timeline("INC-1") == [e1, e2]


async def test_audit_trail_keeps_order_and_filters(store: Store) -> None:
    a = AuditEntry(T0, "ops-wang", "window.add", "mw-1", {"reason": "升级"})
    b = AuditEntry(T0 + MIN, "ops-li", "outage.exclude", "ivr-1@1", {"approved_by": "center"})
    await store.append_audit(a)
    await store.append_audit(b)
    assert await store.audit() == [a, b]
    assert await store.audit(since=T0 + 1) == [b]
    assert await store.audit(target="mw-1") == [a]


async def test_heartbeat_keeps_latest_per_agent(store: Store) -> None:
    h1 = Heartbeat("a1", T0, T0 - 500, 30.0, {"pending": 3}, {"ok": True}, {"name": "h"})
    h2 = Heartbeat("a1", T0 + MIN, T0 + MIN + 200, 30.0, {"pending": 0}, {}, {})
    h3 = Heartbeat("a0", T0, T0, None)
    for h in (h1, h2, h3):
        await store.record_heartbeat(h)
    assert await store.heartbeats() == [h3, h2]
    assert h2.skew_ms == -200


async def test_retention_rolls_up_old_samples_and_keeps_records(store: Store) -> None:
    await store.append_samples(
        "a1",
        "b1",
        [
            _sample(T0, latency_ms=2.0),
            _sample(T0 + 1000, ok=False),
            _sample(T0 + 2000, count=3, until=T0 + 4000, latency_ms=4.0),
            _sample(T0 + 2 * MIN),
        ],
    )
    old = Outage("ivr-1@0", "ivr-1", T0 - 500 * MIN, T0 - 400 * MIN)
    still_open = Outage("ivr-1@1", "ivr-1", T0 - 500 * MIN, None)
    await store.upsert_outages([old, still_open])
    result = await store.apply_retention(raw_before=T0 + MIN, keep_before=T0 - 10 * MIN, now=T0)
    assert result.samples_rolled_up == 5
    assert await store.read_samples(0, T0 + 10 * MIN) == [_sample(T0 + 2 * MIN)]
    [r] = await store.rollups(T0, T0 + MIN)
    assert (r.component, r.minute, r.ok, r.failed) == ("ivr-1", T0 - T0 % MIN, 4, 1)
    assert (r.latency_min, r.latency_max, r.latency_sum, r.latency_count) == (2.0, 4.0, 14.0, 4)
    assert await store.read_outages() == [still_open]

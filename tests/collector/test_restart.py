"""After a restart the collector rebuilds from the store: open outages continue, incidents stay
open, no-data and deadlines are not recorded twice (in-process, clock in the test's hand)."""

from __future__ import annotations

from pathlib import Path

from collector.domain.ingest import IngestBatch, parse_batch
from collector.domain.model import IntervalKind
from collector.domain.timefmt import format_instant
from collector.service import Collector
from collector.store import SqliteStore
from tests.collector.conftest import T0, Clock, make_config

S = 1000


def batch(collector: Collector, pattern: str, t0: int, component: str = "ivr-1") -> IngestBatch:
    results = [
        {"component": component, "system": "ivr", "probe": "sip",
         "ts": format_instant(t0 + i * 10 * S), "ok": c == "+",
         "reason": "ok" if c == "+" else "timeout", "interval": 10}
        for i, c in enumerate(pattern)
    ]  # fmt: skip
    return parse_batch({"agent": "a1", "results": results}, collector.systems, collector.clock())


async def started(tmp_path: Path, clock: Clock) -> Collector:
    c = Collector(make_config(tmp_path), SqliteStore(tmp_path / "store.db"), clock=clock)
    await c.start(background=False)
    return c


async def test_open_outage_and_incident_continue_after_a_restart(tmp_path: Path) -> None:
    clock = Clock(T0)
    first = await started(tmp_path, clock)
    await first.ingest(batch(first, "++---", T0 - 50 * S))
    [open_before] = [o for o in await first.store.open_outages() if o.component == "ivr-1"]
    [inc] = await first.store.incidents(open_only=True)
    clock.now = T0 + 16 * 60 * S
    await first.tick()  # the P1 response deadline passes (callsys joined)
    await first.store.close()  # no stop(): as if killed

    second = await started(tmp_path, clock)
    await second.tick()
    await second.ingest(batch(second, "-+", T0 + 950 * S))
    outages = await second.store.read_outages(component="ivr-1")
    assert [(o.id, o.start, o.end) for o in outages] == [
        (open_before.id, open_before.start, T0 + 960 * S)
    ]
    got = await second.store.get_incident(inc.id)
    assert got is not None and got.restored_at == T0 + 960 * S
    events = [e.event for e in await second.store.timeline(inc.id)]
    assert events.count("deadline_passed") == 1
    assert await second.store.incidents(open_only=True) == []
    await second.stop()


async def test_no_data_recorded_before_a_restart_is_not_duplicated(tmp_path: Path) -> None:
    clock = Clock(T0)
    first = await started(tmp_path, clock)
    await first.ingest(batch(first, "++", T0 - 20 * S))
    clock.now = T0 + 60 * S
    await first.tick()
    [gap] = await first.store.read_outages(component="ivr-1", kind=IntervalKind.NO_DATA)
    assert (gap.start, gap.end) == (T0, None)
    await first.store.close()

    second = await started(tmp_path, clock)
    await second.tick()
    await second.ingest(batch(second, "+", T0 + 70 * S))
    [gap2] = await second.store.read_outages(component="ivr-1", kind=IntervalKind.NO_DATA)
    assert (gap2.id, gap2.start, gap2.end) == (gap.id, T0, T0 + 70 * S)
    await second.stop()


async def test_a_component_registered_meanwhile_with_another_system_is_rejected(
    tmp_path: Path,
) -> None:
    clock = Clock(T0)
    c = await started(tmp_path, clock)
    first = batch(c, "+", T0)
    second = parse_batch(
        {
            "agent": "a1",
            "results": [
                {
                    "component": "x-1",
                    "system": "acd",
                    "probe": "p",
                    "ts": format_instant(T0),
                    "ok": True,
                },
                {
                    "component": "ivr-1",
                    "system": "seat",
                    "probe": "sip",
                    "ts": format_instant(T0),
                    "ok": True,
                },
            ],
        },
        c.systems,
        T0,
    )  # fmt: skip — validated before the first batch registered ivr-1
    await c.ingest(first)
    result = await c.ingest(second)
    assert result.accepted == 1
    assert [(r["index"], r["field"]) for r in second.rejected] == [(1, "system")]
    await c.stop()


async def test_silence_older_than_the_replayed_history_closes_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = Clock(T0)
    first = await started(tmp_path, clock)
    await first.ingest(batch(first, "++", T0 - 20 * S))
    clock.now = T0 + 60 * S
    await first.tick()
    [gap] = await first.store.read_outages(component="ivr-1", kind=IntervalKind.NO_DATA)
    await first.store.close()

    clock.now = T0 + 2 * 86_400 * S  # two days later: beyond the 24 h replay
    second = await started(tmp_path, clock)
    await second.tick()
    await second.ingest(batch(second, "+", clock.now - 5 * S))
    [closed] = await second.store.read_outages(component="ivr-1", kind=IntervalKind.NO_DATA)
    assert (closed.id, closed.start, closed.end) == (gap.id, T0, clock.now - 5 * S)
    await second.stop()


async def test_subscribers_receive_outage_and_incident_events_in_order(tmp_path: Path) -> None:
    from collector.domain.engine import EventType

    clock = Clock(T0)
    c = await started(tmp_path, clock)
    seen: list[tuple[EventType, str]] = []
    c.subscribers.append(lambda ev: seen.append((ev.type, ev.component)))

    async def async_subscriber(ev: object) -> None:
        raise RuntimeError("a failing subscriber must not stop the others")

    c.subscribers.append(async_subscriber)
    await c.ingest(batch(c, "+---+", T0 - 50 * S))
    ivr = [t for t, comp in seen if comp == "ivr-1"]
    assert ivr[:2] == [EventType.OUTAGE_STARTED, EventType.OUTAGE_ENDED]
    types = [t for t, _ in seen]
    assert types.index(EventType.OUTAGE_STARTED) < types.index(EventType.INCIDENT_OPENED)
    assert types.index(EventType.INCIDENT_OPENED) < types.index(EventType.INCIDENT_RESTORED)
    await c.stop()

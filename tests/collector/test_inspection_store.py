"""The inspection report's store reads (`check_days`, `value_samples`): both stores agree."""

from __future__ import annotations

from collector.domain.model import CheckDay, Sample
from collector.store import Store

# 2026-10-27 00:00+08:00 (a local midnight), in epoch ms
DAY0 = 1_793_030_400_000
DAY = 86_400_000
MIN = 60_000


def _s(ts: int, ok: bool = True, component: str = "ivr-1", probe: str = "sip", **kw: object):
    base: dict[str, object] = {
        "agent": "a1",
        "component": component,
        "system": "ivr",
        "probe": probe,
        "ts": ts,
        "ok": ok,
        "reason": "ok" if ok else "timeout",
        "detail": "" if ok else "no answer",
    }
    base.update(kw)
    return Sample(**base)  # type: ignore[arg-type]


def test_day_zero_is_a_local_midnight() -> None:
    from datetime import datetime, timedelta, timezone

    moment = datetime.fromtimestamp(DAY0 / 1000, timezone(timedelta(hours=8)))
    assert (moment.hour, moment.minute) == (0, 0)


async def test_check_days_count_results_per_local_day(store: Store) -> None:
    samples = [
        _s(DAY0 + 1000),  # first minute of day 0 (local)
        _s(DAY0 + 5 * MIN, ok=False),
        _s(DAY0 + 6 * MIN, ok=False, count=3, until=DAY0 + 8 * MIN),
        _s(DAY0 + DAY - 1000),  # last second of day 0
        _s(DAY0 + DAY + 1000),  # day 1
        _s(DAY0 + 2 * MIN, component="acd-1", system="acd", agent="a2"),
        _s(DAY0 + 2 * MIN, probe="http"),
    ]
    assert await store.append_samples("a1", "b1", samples)
    got = await store.check_days(DAY0, DAY0 + 2 * DAY)
    assert got == [
        CheckDay("acd-1", "acd", "sip", "a2", DAY0, 1, 0, DAY0 + 2 * MIN, DAY0 + 2 * MIN),
        CheckDay("ivr-1", "ivr", "http", "a1", DAY0, 1, 0, DAY0 + 2 * MIN, DAY0 + 2 * MIN),
        CheckDay("ivr-1", "ivr", "sip", "a1", DAY0, 2, 4, DAY0 + 1000, DAY0 + DAY - 1000),
        CheckDay(
            "ivr-1", "ivr", "sip", "a1", DAY0 + DAY, 1, 0, DAY0 + DAY + 1000, DAY0 + DAY + 1000
        ),
    ]
    # the range cuts by ts
    assert [d.day for d in await store.check_days(DAY0 + DAY, DAY0 + 2 * DAY)] == [DAY0 + DAY]
    assert await store.check_days(DAY0 + 3 * DAY, DAY0 + 4 * DAY) == []


async def test_value_samples_keep_objects_with_a_named_key(store: Store) -> None:
    res = {"cpu_pct": 12.5, "memory_pct": 40.0, "disk_pct": 71.0}
    backup = {"backup": "daily", "age_hours": 3.5, "mtime": 1_793_000_000.0}
    samples = [
        _s(DAY0 + 1 * MIN, probe="resources", value=res),
        _s(DAY0 + 2 * MIN, probe="count", value=3),  # a number: not an object
        _s(DAY0 + 3 * MIN, probe="backup", value=backup, ok=False),
        _s(DAY0 + 4 * MIN, probe="other", value={"cpu": 1, "note": "cpu_pct in text"}),
        _s(DAY0 + 5 * MIN, probe="web", value={"cert_days_left": 41.25, "status": 200}),
        _s(DAY0 + 6 * MIN, probe="sip"),
    ]
    assert await store.append_samples("a1", "b1", samples)
    got = await store.value_samples(DAY0, DAY0 + DAY, ["cpu_pct", "disk_pct"])
    assert got == [samples[0]]
    got = await store.value_samples(DAY0, DAY0 + DAY, ["backup", "cert_days_left"])
    assert got == [samples[2], samples[4]]
    assert await store.value_samples(DAY0 + 2 * MIN, DAY0 + 3 * MIN, ["backup"]) == []
    assert await store.value_samples(DAY0, DAY0 + DAY, []) == []

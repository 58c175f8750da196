"""A flapping probe costs the engine its new samples, not its kept history, and the outages do
not depend on how the samples were split into batches."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.domain.engine import Engine, EngineConfig
from collector.domain.model import Outage, Sample

S = 1000
T0 = 1_800_000_000_000
HOUR = 3_600_000


def _sample(ts: int, ok: bool, component: str = "seat-001", probe: str = "tcp") -> Sample:
    return Sample(
        agent="a1",
        component=component,
        system="seat",
        probe=probe,
        ts=ts,
        ok=ok,
        reason="ok" if ok else "timeout",
        detail="" if ok else "no answer",
        interval=10.0,
    )


def _walked(engine: Engine) -> int:
    return sum(h.walked for s in engine._components.values() for h in s.probes.values())


def _flap(engine: Engine, batches: int, first: int = 0, prune_every: int = 0) -> None:
    for b in range(first, first + batches):
        now = T0 + b * 10 * S
        engine.ingest([_sample(now, b % 11 >= 5)], now=now)
        engine.tick(now)
        if prune_every and b % prune_every == 0:
            engine.prune(now - HOUR)


def test_a_flapping_probe_is_walked_over_its_new_samples_only() -> None:
    """Fails when compaction or the walk start again from the history's first item: the items
    stepped over would grow with the square of the batches (here ~700 items kept)."""
    engine = Engine(EngineConfig(composite_id=None))
    _flap(engine, 700)
    assert engine.memory() > 600  # runs of 5 and 6 are too short to fold: all kept
    walked = _walked(engine)
    _flap(engine, 700, first=700)
    more = _walked(engine) - walked
    # each batch steps over its new item and at most the last run again (compaction)
    assert more <= 700 * (2 * engine._keep + 3), more
    assert len(engine.outages()) == -(-1400 // 11)  # one outage per 11 samples, all kept


def test_pruning_a_flapping_history_does_not_walk_it_again() -> None:
    engine = Engine(EngineConfig(composite_id=None))
    _flap(engine, 1200, prune_every=60)  # keeps one hour: 360 items
    walked = _walked(engine)
    _flap(engine, 1200, first=1200, prune_every=60)
    assert _walked(engine) - walked <= 1200 * (2 * engine._keep + 3)
    assert engine.memory() <= 420  # an hour and the 10 minutes until the next prune


def _store_view(engine: Engine, batches: list[list[Sample]]) -> dict[str, Outage]:
    """What a store holds after applying every batch's changes."""
    held: dict[str, Outage] = {}
    for batch in batches:
        now = max(s.ts for s in batch)
        for changes in (engine.ingest(batch, now=now), engine.tick(now)):
            for oid in changes.deletes:
                held.pop(oid, None)
            for o in changes.upserts:
                held[o.id] = o
    return held


@settings(max_examples=150, deadline=None)
@given(
    runs=st.lists(st.tuples(st.booleans(), st.integers(1, 14)), min_size=1, max_size=30),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=30),
    which=st.lists(st.sampled_from(["tcp", "http", "sip"]), min_size=1, max_size=50),
    down_after=st.integers(1, 4),
    up_after=st.integers(1, 3),
    keep=st.integers(1, 4),
    rule=st.sampled_from(["any", "all"]),
)
def test_any_batch_split_of_the_same_samples_gives_the_same_outages(
    runs: list[tuple[bool, int]],
    cuts: list[int],
    which: list[str],
    down_after: int,
    up_after: int,
    keep: int,
    rule: str,
) -> None:
    """Up to three probes of one component flapping in runs of any length, fed in batches cut at
    arbitrary places (with compaction of runs longer than 2*keep+1 on the way): the outages
    the engine holds, and those a store would hold from its changes, equal one batch's."""
    samples: list[Sample] = []
    t = T0
    for ok, length in runs:
        for _ in range(length):
            samples.append(_sample(t, ok, probe=which[len(samples) % len(which)]))
            t += 10 * S
    cfg = EngineConfig(
        down_after=down_after, up_after=up_after, detail_items=keep, component_rule=rule,
        composite_id=None, silence_after=3600,
    )  # fmt: skip
    whole = Engine(cfg)
    held_whole = _store_view(whole, [samples])
    batches, at = [], 0
    for cut in cuts:
        if at < len(samples):
            batches.append(samples[at : at + cut])
            at += cut
    if at < len(samples):
        batches.append(samples[at:])
    split = Engine(cfg)
    held_split = _store_view(split, batches)
    assert split.outages() == whole.outages()
    assert sorted(held_split.values(), key=lambda o: o.id) == sorted(
        held_whole.values(), key=lambda o: o.id
    )
    assert sorted(held_whole.values(), key=lambda o: o.id) == sorted(
        whole.outages(), key=lambda o: o.id
    )

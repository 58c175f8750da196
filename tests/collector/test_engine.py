"""The state engine, pure: samples and a clock in, outages and events out."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.domain.engine import CompositeRule, Engine, EngineConfig, EventType
from collector.domain.model import IntervalKind, Outage, Sample

S = 1000  # one second in ms
T0 = 1_800_000_000_000


def res(ts: int, ok: bool, component: str = "ivr-1", probe: str = "sip", **kw: object) -> Sample:
    system = kw.pop("system", component.split("-")[0])
    return Sample(
        agent="a1",
        component=component,
        system=str(system),
        probe=probe,
        ts=ts,
        ok=ok,
        reason=str(kw.pop("reason", "ok" if ok else "timeout")),
        interval=kw.pop("interval", 10.0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def series(
    pattern: str, component: str = "ivr-1", probe: str = "sip", t0: int = T0
) -> list[Sample]:
    """'++---+' → samples 10 s apart, + ok, - failed."""
    return [res(t0 + i * 10 * S, c == "+", component, probe) for i, c in enumerate(pattern)]


def down(engine: Engine, component: str = "ivr-1") -> list[Outage]:
    return [o for o in engine.outages() if o.component == component and o.kind is IntervalKind.DOWN]


def kinds(changes: object, component: str = "ivr-1") -> list[EventType]:
    return [ev.type for ev in changes.events if ev.component == component]  # type: ignore[attr-defined]


def feed(engine: Engine, samples: list[Sample]) -> None:
    for s in samples:
        engine.ingest([s], now=s.ts)


def test_outage_starts_at_first_failed_sample_and_ends_at_first_good() -> None:
    e = Engine()
    feed(e, series("++---++"))
    [o] = down(e)
    assert (o.start, o.end) == (T0 + 20 * S, T0 + 50 * S)
    assert o.detected_at == T0 + 40 * S  # the third failure confirmed it
    assert o.probes == ("sip",) and o.reason == "timeout"


def test_fewer_failures_than_down_after_is_no_outage() -> None:
    e = Engine()
    feed(e, series("+--+--+"))
    assert down(e) == []


def test_down_after_and_up_after_are_configurable() -> None:
    e = Engine(EngineConfig(down_after=1, up_after=2))
    feed(e, series("+-+-++"))
    [o] = down(e)
    assert (o.start, o.end) == (T0 + 10 * S, T0 + 40 * S)


def test_outage_stays_open_until_a_good_sample() -> None:
    e = Engine()
    changes = e.ingest(series("+---"), now=T0 + 30 * S)
    [o] = down(e)
    assert o.end is None
    assert kinds(changes) == [EventType.OUTAGE_STARTED]
    changes = e.ingest([res(T0 + 40 * S, True)], now=T0 + 40 * S)
    assert kinds(changes) == [EventType.OUTAGE_ENDED]
    assert changes.upserts[0].end == T0 + 40 * S


def test_coalesced_result_counts_as_many_samples() -> None:
    e = Engine()
    run = res(T0, False, count=3, until=T0 + 20 * S)
    e.ingest([run], now=T0 + 20 * S)
    [o] = down(e)
    assert (o.start, o.detected_at, o.end) == (T0, T0 + 20 * S, None)


def test_late_results_land_in_order() -> None:
    e = Engine()
    samples = series("++---+++")
    e.ingest(samples[5:], now=T0 + 80 * S)
    e.ingest(samples[:5], now=T0 + 80 * S)  # the spool replays the older ones
    [o] = down(e)
    assert (o.start, o.end) == (T0 + 20 * S, T0 + 50 * S)


def test_late_good_result_splits_an_outage() -> None:
    e = Engine()
    samples = series("+---+---+")
    e.ingest([*samples[:4], *samples[5:]], now=T0 + 90 * S)
    assert len(down(e)) == 1
    changes = e.ingest([samples[4]], now=T0 + 90 * S)
    assert [(o.start, o.end) for o in down(e)] == [
        (T0 + 10 * S, T0 + 40 * S),
        (T0 + 50 * S, T0 + 80 * S),
    ]
    assert EventType.OUTAGE_STARTED in kinds(changes)


def test_component_is_down_while_any_probe_is_down() -> None:
    e = Engine()
    feed(e, sorted(series("+---++++") + series("+++---++", probe="tcp"), key=lambda s: s.ts))
    [o] = down(e)
    assert (o.start, o.end) == (T0 + 10 * S, T0 + 60 * S)
    assert o.probes == ("sip", "tcp")


def test_component_rule_all_needs_every_probe_down() -> None:
    e = Engine(EngineConfig(component_rule="all"))
    feed(e, sorted(series("+-----++") + series("+++---++", probe="tcp"), key=lambda s: s.ts))
    [o] = down(e)
    assert (o.start, o.end) == (T0 + 30 * S, T0 + 60 * S)


def test_silent_component_is_no_data_from_last_sample_plus_interval() -> None:
    e = Engine(EngineConfig(silence_grace=5))
    e.ingest(series("++"), now=T0 + 10 * S)
    assert e.tick(T0 + 24 * S).events == []  # 10 s interval + 5 s grace not yet over
    changes = e.tick(T0 + 25 * S)
    [nd, composite] = changes.upserts  # the only IVR node is silent: the 话务系统 is unknown too
    assert (nd.kind, nd.start, nd.end) == (IntervalKind.NO_DATA, T0 + 20 * S, None)
    assert (composite.component, composite.kind, composite.start) == (
        "callsys",
        IntervalKind.NO_DATA,
        T0 + 20 * S,
    )
    assert kinds(changes) == [EventType.NO_DATA_STARTED]
    changes = e.ingest([res(T0 + 60 * S, True)], now=T0 + 60 * S)
    assert kinds(changes) == [EventType.NO_DATA_ENDED]
    assert kinds(changes, "callsys") == [EventType.NO_DATA_ENDED]
    assert [o.end for o in changes.upserts] == [T0 + 60 * S, T0 + 60 * S]
    assert down(e) == []


def test_silence_counts_as_down_when_configured() -> None:
    e = Engine(EngineConfig(silence_grace=5, silence_action="down"))
    e.ingest(series("++"), now=T0 + 10 * S)
    e.tick(T0 + 30 * S)
    [o] = down(e)
    assert (o.start, o.end, o.reason) == (T0 + 20 * S, None, "no_data")


def test_spool_replay_fills_a_no_data_gap() -> None:
    e = Engine(EngineConfig(silence_grace=5))
    samples = series("+" * 10)
    e.ingest(samples[:2], now=T0 + 10 * S)
    e.tick(T0 + 60 * S)
    e.ingest(samples[9:], now=T0 + 90 * S)
    assert [(o.component, o.start, o.end) for o in e.outages()] == [
        ("callsys", T0 + 20 * S, T0 + 90 * S),
        ("ivr-1", T0 + 20 * S, T0 + 90 * S),
    ]
    changes = e.ingest(samples[2:9], now=T0 + 95 * S)
    assert changes.deletes == [f"ivr-1@{T0 + 20 * S}/no_data", f"callsys@{T0 + 20 * S}/no_data"]
    assert e.outages() == []


def test_composite_down_when_any_acd_is_down() -> None:
    e = Engine()
    feed(e, sorted(series("+---++", "acd-1") + series("++++++", "acd-2"), key=lambda s: s.ts))
    [o] = down(e, "callsys")
    assert (o.start, o.end, o.probes) == (T0 + 10 * S, T0 + 40 * S, ("acd-1",))


def test_composite_down_only_when_all_ivr_are_down() -> None:
    e = Engine()
    feed(e, sorted(series("+-----+", "ivr-1") + series("+++---++", "ivr-2"), key=lambda s: s.ts))
    assert [(o.start, o.end) for o in down(e, "callsys")] == [(T0 + 30 * S, T0 + 60 * S)]


def test_composite_k_of_n_is_configurable() -> None:
    cfg = EngineConfig(composite={"seat": CompositeRule("k", 2)})
    e = Engine(cfg)
    samples = series("+---+", "seat-1") + series("++---+", "seat-2") + series("++++", "seat-3")
    feed(e, sorted(samples, key=lambda s: s.ts))
    assert [(o.start, o.end) for o in down(e, "callsys")] == [(T0 + 20 * S, T0 + 40 * S)]


def test_known_outages_make_replay_produce_only_differences() -> None:
    first = Engine()
    first.ingest(series("+---"), now=T0 + 30 * S)
    stored = first.outages()
    again = Engine()
    for o in stored:
        again.register(o.component, "ivr" if o.component != "callsys" else "callsys")
    again.load_known(stored)
    changes = again.ingest(series("+---"), now=T0 + 30 * S)
    assert changes.upserts == [] and changes.deletes == []


def _canonical(engine: Engine) -> list[tuple[str, int, int | None, int | None]]:
    return [(o.id, o.start, o.end, o.detected_at) for o in engine.outages()]


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.lists(
        st.tuples(st.booleans(), st.integers(1, 4), st.integers(0, 30)), min_size=1, max_size=25
    ),
    seed=st.integers(0, 2**32),
    down_after=st.integers(1, 4),
    up_after=st.integers(1, 3),
    chunk=st.integers(1, 5),
    rule=st.sampled_from(["any", "all"]),
)
def test_out_of_order_arrival_gives_the_same_outages(
    pattern: list[tuple[bool, int, int]],
    seed: int,
    down_after: int,
    up_after: int,
    chunk: int,
    rule: str,
) -> None:
    samples: list[Sample] = []
    t = T0
    for i, (ok, count, gap) in enumerate(pattern):
        probe = "sip" if i % 3 else "tcp"
        if count == 1:
            samples.append(res(t, ok, probe=probe))
        else:
            samples.append(res(t, ok, probe=probe, count=count, until=t + (count - 1) * 10 * S))
        t += count * 10 * S + gap * S  # gaps over 5 s (the grace) are no-data intervals
    cfg = EngineConfig(
        down_after=down_after, up_after=up_after, silence_grace=5, component_rule=rule
    )
    in_order = Engine(cfg)
    in_order.ingest(samples, now=t)
    shuffled = samples[:]
    random.Random(seed).shuffle(shuffled)
    late = Engine(cfg)
    for i in range(0, len(shuffled), chunk):
        late.ingest(shuffled[i : i + chunk], now=t)
    assert _canonical(late) == _canonical(in_order)


def test_pruning_forgets_old_history_without_retracting_its_outages() -> None:
    e = Engine(EngineConfig(silence_grace=5))
    feed(e, series("++---++++++" * 3))
    assert len(down(e)) == 3
    before = e.memory()
    e.prune(T0 + 200 * S)  # after the first two outages ended
    assert e.memory() < before
    assert len(down(e)) == 1  # only the third is still held in memory
    changes = e.ingest(series("---+", t0=T0 + 400 * S), now=T0 + 430 * S)
    assert changes.deletes == []
    assert [(o.start, o.end) for o in down(e)] == [
        (T0 + 240 * S, T0 + 270 * S),
        (T0 + 400 * S, T0 + 430 * S),
    ]
    late = e.ingest([res(T0 + 5 * S, False)], now=T0 + 430 * S)
    assert not late.upserts and not late.deletes  # older than the kept history


def test_member_in_maintenance_does_not_take_the_composite_down() -> None:
    window = (T0, T0 + 100 * S)

    def maintenance(component: str, lo: int, hi: int) -> list[tuple[int, int]]:
        if component != "ivr-1":
            return []
        s, e = max(lo, window[0]), min(hi, window[1])
        return [(s, e)] if e > s else []

    e = Engine(maintenance=maintenance)
    e.ingest(series("+-----"), now=T0 + 50 * S)
    assert down(e, "callsys") == []
    e.tick(T0 + 120 * S)
    [o] = down(e, "callsys")
    assert (o.start, o.end) == (T0 + 100 * S, None)


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["add", "add", "add", "compact", "prune"]),
            st.booleans(),
            st.integers(1, 3),
            st.integers(0, 40),
        ),
        min_size=1,
        max_size=60,
    ),
    down_after=st.integers(1, 4),
    up_after=st.integers(1, 3),
)
def test_a_probe_history_resumed_walk_equals_a_walk_from_scratch(
    steps: list[tuple[str, bool, int, int]], down_after: int, up_after: int
) -> None:
    """The engine steps only over a probe's new items after appends; after any mix of appends,
    late inserts, compaction and pruning its outages are those of walking every item again."""
    from collector.domain.engine import _ProbeHistory

    history = _ProbeHistory()
    t = T0
    for op, ok, count, at in steps:
        if op == "compact":
            history.compact(2)
        elif op == "prune":
            history.prune(T0 + at * 20 * S, down_after, up_after)
        else:
            if at % 4:
                ts, last = t, t + (count - 1) * S
            else:  # now and then a late single result, into the middle of the history
                ts = last = T0 + at * 7 * S + 500
                count = 1
            history.add((ts, last, count, ok, "ok" if ok else "timeout", ""))
            t = max(t, last) + S
        fresh = _ProbeHistory()
        fresh.items = list(history.items)
        assert history.outages(down_after, up_after) == fresh.outages(down_after, up_after)


def test_overlapping_coalesced_runs_of_opposite_states_meet_at_a_shared_instant() -> None:
    # A failed run 5 s–7 s, then a good run 3 s–5 s: both claim the 5 s instant. This once
    # made the history split the new run at its own start forever (RecursionError).
    e = Engine()
    e.ingest([res(T0 + 5 * S, False, count=3, until=T0 + 7 * S)], now=T0 + 8 * S)
    e.ingest([res(T0 + 3 * S, True, count=3, until=T0 + 5 * S)], now=T0 + 8 * S)
    [o] = down(e)
    assert o.start == T0 + 5 * S  # the failures from 5 s on still make an outage
    other_order = Engine()
    other_order.ingest([res(T0 + 3 * S, True, count=3, until=T0 + 5 * S)], now=T0 + 8 * S)
    other_order.ingest([res(T0 + 5 * S, False, count=3, until=T0 + 7 * S)], now=T0 + 8 * S)
    assert down(other_order) == down(e)
    # A run contradicting every sample of another still ends (the data decide nothing here).
    e.ingest([res(T0 + 5 * S, True, count=3, until=T0 + 7 * S)], now=T0 + 10 * S)
    assert len(down(e)) <= 1


contradictory_runs = st.lists(
    st.tuples(
        st.integers(0, 20),  # start, seconds after T0
        st.integers(1, 5),  # count
        st.sampled_from([0, 1, 2]),  # spacing, seconds
        st.booleans(),  # ok
        st.sampled_from(["sip", "snmp"]),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(contradictory_runs, st.sampled_from(["any", "all"]), st.integers(1, 3))
def test_any_mix_of_overlapping_runs_leaves_consistent_outages(runs, rule, down_after) -> None:
    # One agent's spool replays can overlap another run of the same probe, even with the
    # opposite state. The engine must neither fail nor invent outages of no length.
    e = Engine(EngineConfig(component_rule=rule, down_after=down_after))
    for start, count, spacing, ok, probe in runs:
        ts = T0 + start * S
        until = ts + (count - 1) * spacing * S
        extra = {"count": count, "until": until} if count > 1 and spacing else {}
        e.ingest([res(ts, ok, probe=probe, **extra)], now=T0 + 40 * S)
    for outage in down(e):
        assert outage.end is None or outage.end > outage.start


def _composite(e: Engine, kind: IntervalKind) -> list[tuple[int, int | None]]:
    return [(o.start, o.end) for o in e.outages() if o.component == "callsys" and o.kind is kind]


def test_composite_is_no_data_when_every_member_is_silent() -> None:
    e = Engine(EngineConfig(silence_grace=5))
    e.ingest(series("++", "acd-1") + series("++", "ivr-1"), now=T0 + 10 * S)
    e.tick(T0 + 60 * S)
    assert _composite(e, IntervalKind.NO_DATA) == [(T0 + 20 * S, None)]
    assert _composite(e, IntervalKind.DOWN) == []


def test_composite_with_a_silent_ivr_node_is_known_while_another_node_answers() -> None:
    # IVR takes the 话务系统 down only when all nodes are down: one answering node decides it.
    e = Engine(EngineConfig(silence_grace=5))
    e.ingest(series("++", "ivr-1"), now=T0 + 10 * S)
    e.ingest(series("+" * 8, "ivr-2"), now=T0 + 70 * S)
    e.tick(T0 + 70 * S)
    assert [o.component for o in e.outages()] == ["ivr-1"]  # ivr-1 no_data, callsys known up


def test_composite_with_a_silent_acd_is_unknown_but_down_wins() -> None:
    # Any ACD down takes it down: while acd-2 is silent the composite cannot be known up...
    e = Engine(EngineConfig(silence_grace=5))
    e.ingest(series("++", "acd-2"), now=T0 + 10 * S)
    feed(e, series("+" * 6 + "----" + "++", "acd-1"))
    e.tick(T0 + 120 * S)
    # ...but while acd-1 is down it is known down, and no_data only around that.
    assert _composite(e, IntervalKind.DOWN) == [(T0 + 60 * S, T0 + 100 * S)]
    assert _composite(e, IntervalKind.NO_DATA) == [
        (T0 + 20 * S, T0 + 60 * S),
        (T0 + 100 * S, None),
    ]


def test_config_error_results_are_no_data_never_downtime() -> None:
    e = Engine(EngineConfig(silence_grace=5))
    broken = [
        res(T0 + i * 10 * S, False, "acd-1", reason="config_error", detail="no key file")
        for i in range(10)
    ]
    for s in broken:
        e.ingest([s], now=s.ts)
    e.tick(T0 + 100 * S)
    assert down(e, "acd-1") == [] and _composite(e, IntervalKind.DOWN) == []
    [gap] = [o for o in e.outages() if o.component == "acd-1"]
    assert (gap.kind, gap.start, gap.end) == (IntervalKind.NO_DATA, T0, None)
    assert (gap.reason, gap.detail) == ("config_error", "sip: no key file")  # says why


def test_config_error_between_good_results_leaves_a_no_data_gap() -> None:
    e = Engine(EngineConfig(silence_grace=5))
    samples = [
        res(T0 + i * 10 * S, c == "+", "acd-1", reason={"+": "ok", "-": "config_error"}[c])
        for i, c in enumerate("++" + "-" * 6 + "++")
    ]
    feed(e, samples)
    assert down(e, "acd-1") == []
    assert [(o.start, o.end) for o in e.outages() if o.component == "acd-1"] == [
        (T0 + 20 * S, T0 + 80 * S)
    ]

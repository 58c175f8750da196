"""The outage state engine: samples in, outage changes and events out. No I/O, no clock.

After h11: the engine never reads a clock or touches a socket or a database; the caller passes
`now` and applies the returned `Changes` to a store. Every edge case is a plain unit test.

Per (component, probe) the state is derived from that probe's samples **sorted by ts**, so a
late result (an agent's spool replaying yesterday) lands in its place and gives the same
outages as if it had arrived in order:

- DOWN after `down_after` consecutive failures, UP after `up_after` consecutive successes;
- the outage starts at the first failed sample of the streak that made it DOWN and ends at the
  first good sample of the streak that made it UP; `detected_at` is the sample that made it DOWN;
- a coalesced result (`count` n from `ts` to `until`) is n samples evenly spaced in that span.

A component is down while any of its probes is down (`component_rule: all` — while all are).
A component whose results stop is `no_data` from its last result + interval (the result's
`interval`, else `silence_after`), reported once `silence_grace` has passed; with
`silence_action: down` that time is also an outage. The composite 话务系统 (`callsys`) is
computed from the other components (see `CompositeRule`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from collector.domain.model import IntervalKind, Millis, Outage, Sample
from scoring.intervals import subtract

OPEN: Millis = 2**62  # stands for "not ended yet" inside interval arithmetic
CONFIG_ERROR = "config_error"  # a probe's reason when its own configuration failed


class EventType(StrEnum):
    OUTAGE_STARTED = "outage_started"
    OUTAGE_ENDED = "outage_ended"
    OUTAGE_RETRACTED = "outage_retracted"  # late results showed it did not happen as recorded
    OUTAGE_REOPENED = "outage_reopened"  # late results showed it had not ended after all
    NO_DATA_STARTED = "no_data_started"
    NO_DATA_ENDED = "no_data_ended"
    INCIDENT_OPENED = "incident_opened"
    INCIDENT_JOINED = "incident_joined"
    INCIDENT_RESTORED = "incident_restored"
    DEADLINE_PASSED = "deadline_passed"
    # a backup period passed its due instant with no backup done: the collector's backup tick
    # says so (never the engine — backup checks decide no state); `detail` has kind, due, probe
    BACKUP_MISSED = "backup_missed"


@dataclass(frozen=True, slots=True)
class Event:
    """Something subscribers (incidents now; alerts and runbooks later) react to."""

    type: EventType
    ts: Millis  # when it happened in the monitored world (outage start/end, detection)
    component: str = ""
    outage: Outage | None = None
    incident_id: str | None = None
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompositeRule:
    """How a member system takes the composite down: `any`, `all` or at least `k` members."""

    mode: str = "any"  # any | all | k
    k: int = 1

    def needed(self, members: int) -> int:
        if self.mode == "all":
            return members
        if self.mode == "k":
            return min(self.k, members)
        return 1


DEFAULT_COMPOSITE = {
    "acd": CompositeRule("any"),
    "ivr": CompositeRule("all"),
    "callsys": CompositeRule("any"),
}


@dataclass(frozen=True, slots=True)
class EngineConfig:
    down_after: int = 3
    up_after: int = 1
    component_rule: str = "any"  # any | all (of the component's probes)
    silence_after: float = 60.0  # seconds; a result's own `interval` takes precedence
    silence_grace: float = 30.0  # seconds past last + interval before no_data is reported
    silence_action: str = "no_data"  # no_data | down
    composite_id: str | None = "callsys"  # None: no composite
    composite: dict[str, CompositeRule] = field(default_factory=lambda: dict(DEFAULT_COMPOSITE))
    detail_items: int = 0  # samples kept exact at each end of a run (0: down_after+up_after+1)


@dataclass(slots=True)
class Changes:
    """What the caller writes to the store and tells the subscribers."""

    upserts: list[Outage] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def extend(self, other: Changes) -> None:
        self.upserts.extend(other.upserts)
        self.deletes.extend(other.deletes)
        self.events.extend(other.events)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes or self.events)


# One item of a probe's history: (ts, last_ts, count, ok, reason, detail); a run of `count`
# samples evenly spaced from ts to last_ts (count 1: ts == last_ts).
_Item = tuple[Millis, Millis, int, bool, str, str]
# The walk's state where a run began: (index, down, start, detected, reason, detail, closed)
_Mark = tuple[int, bool, Millis, Millis, str, str, int]


def _nth_ts(item: _Item, n: int) -> Millis:
    """Timestamp of the n-th (1-based) sample of an item."""
    ts, last, count = item[0], item[1], item[2]
    if count <= 1 or n <= 1:
        return ts
    return ts + (last - ts) * (n - 1) // (count - 1)


def _split(item: _Item, at: Millis) -> tuple[_Item | None, _Item | None]:
    """The samples of `item` before `at` and from `at` on (even spacing)."""
    ts, last, count, ok, reason, detail = item
    if at <= ts:
        return None, item
    if at > last:
        return item, None
    before = sum(1 for i in range(1, count + 1) if _nth_ts(item, i) < at)
    if before == 0:
        return None, item
    left = (ts, _nth_ts(item, before), before, ok, reason, detail)
    right = (_nth_ts(item, before + 1), last, count - before, ok, reason, detail)
    return left, right


@dataclass(frozen=True, slots=True)
class _ProbeOutage:
    start: Millis
    end: Millis  # OPEN while it lasts
    detected_at: Millis
    reason: str
    detail: str


class _ProbeHistory:
    """One probe's samples, sorted, with long runs compacted to their ends.

    Items are kept sorted as tuples, so equal timestamps have one order (failures first)
    whatever order they arrived in. Results of one probe come from one scheduler and do not
    overlap in time; should a coalesced run span a result of the other state, it is split there.

    The usual ingest appends one item per batch; compaction and the DOWN/UP walk then touch only
    the tail — the last run of equal states, which compaction keeps short, and what follows it —
    so a batch costs the same after a day of flapping as after a minute. `walked` counts the
    items the walk has stepped over (tests assert it grows with the samples, not the history).
    """

    __slots__ = ("_tail", "_walk", "items", "walked")

    def __init__(self) -> None:
        self.items: list[_Item] = []
        self._walk: _Walk | None = None  # `outages` so far, valid while items are only appended
        self._tail = 0  # first item of the last run at the last compaction; before it, final
        self.walked = 0

    def add(self, item: _Item) -> None:
        items = self.items
        if not items or (item >= items[-1] and items[-1][1] <= item[0]):
            items.append(item)  # the usual case: in order, nothing to split
            return
        self._walk = None  # a late result in the middle: compact and walk everything again
        self._tail = 0
        i = bisect.bisect_right(items, item)
        if i > 0:
            prev = items[i - 1]
            if prev[3] != item[3] and prev[1] > item[0]:
                left, right = _split(prev, item[0] + (0 if prev[3] else 1))
                items[i - 1 : i] = [p for p in (left, right) if p is not None]
                i = bisect.bisect_right(items, item)
        j = i
        while j < len(items) and items[j][0] <= item[1]:
            if items[j][3] != item[3]:
                left, right = _split(item, items[j][0] + (0 if item[3] else 1))
                if left is None:
                    # A sample of the other state at our very first instant: place our first
                    # sample beside it and go on with the rest, so every step makes progress.
                    left, right = _split(item, item[0] + 1)
                if left is not None:
                    items.insert(i, left)
                if right is not None:
                    self.add(right)
                return
            j += 1
        items.insert(i, item)

    def compact(self, keep: int) -> None:
        """Fold the middle of every run longer than 2*keep+1 items into one coalesced item.

        Runs before the last one were folded when they ended, so only the items from the last
        run's start on are looked at."""
        items = self.items
        tail = self._tail
        if len(items) - tail <= 4 * keep + 2:
            return  # not yet worth it: a run there is at most twice what folding leaves
        out: list[_Item] = []
        run: list[_Item] = []
        run_start = last_start = 0
        first_change = -1  # where the first run that folded began (relative to tail)
        for item in items[tail:]:
            if run and run[-1][3] != item[3]:
                folded = _fold(run, keep)
                if first_change < 0 and len(folded) != len(run):
                    first_change = run_start
                out.extend(folded)
                run = []
                run_start = last_start = len(out)
            run.append(item)
        folded = _fold(run, keep)
        if first_change < 0 and len(folded) != len(run):
            first_change = run_start
        out.extend(folded)
        if first_change >= 0:
            items[tail:] = out
            walk = self._walk
            if walk is not None and not walk.rewind(tail + first_change):
                self._walk = None
        self._tail = tail + last_start
        if self._walk is not None:
            self._walk.forget_marks(self._tail)

    def prune(self, floor: Millis, down_after: int, up_after: int) -> None:
        """Drop the oldest items that end before `floor`, cutting only after a success while
        the probe is UP, so what remains derives the same outages after the cut."""
        down = False
        run_ok: bool | None = None
        run_n = 0
        cut = 0
        for i, item in enumerate(self.items):
            if item[1] >= floor:
                break
            ok = item[3]
            if ok != run_ok:
                run_ok, run_n = ok, 0
            before = run_n
            run_n += item[2]
            if ok and down and before < up_after <= run_n:
                down = False
            elif not ok and not down and before < down_after <= run_n:
                down = True
            if ok and not down:
                cut = i + 1
        if not cut:
            return
        del self.items[:cut]
        self._tail = max(0, self._tail - cut)
        walk = self._walk
        if walk is not None and not walk.drop(cut, self.items[0][0] if self.items else OPEN):
            self._walk = None

    def outages(self, down_after: int, up_after: int) -> list[_ProbeOutage]:
        return self.outages_since(down_after, up_after)[0]

    def outages_since(self, down_after: int, up_after: int) -> tuple[list[_ProbeOutage], int]:
        """The outages, and the index of the first that may differ from the last call's."""
        walk = self._walk
        if walk is None or walk.down_after != down_after or walk.up_after != up_after:
            walk = self._walk = _Walk(down_after, up_after)
        self.walked += walk.advance(self.items)
        return walk.result()


class _Walk:
    """The DOWN/UP state machine over a probe's items, as a left fold that can be resumed: a
    history that only had items appended since the last call steps over the new ones alone
    (the usual ingest: one result per probe and batch) instead of walking every item again.

    It remembers its state where each run of equal states began (`marks`, from the history's
    tail on), so when compaction folds a run it steps back to that run's start (`rewind`) and
    over what follows again; when pruning cuts the history's head it forgets the outages that
    went with it (`drop`). Any other change to the items (a late insert, a split) starts a new
    walk."""

    __slots__ = (
        "closed", "detail", "detected", "down", "down_after", "low", "marks", "reason",
        "run_first", "run_n", "run_ok", "seen", "start", "up_after",
    )  # fmt: skip

    def __init__(self, down_after: int, up_after: int) -> None:
        self.down_after = down_after
        self.up_after = up_after
        self.closed: list[_ProbeOutage] = []
        self.down = False
        self.start = self.detected = 0
        self.reason = self.detail = ""
        self.run_ok: bool | None = None
        self.run_n = 0
        self.run_first: _Item | None = None
        self.seen = 0  # items folded so far
        self.low = 0  # the first of `closed` that may differ from what `result` last returned
        # where runs began: (index, down, start, detected, reason, detail, len(closed))
        self.marks: list[_Mark] = []

    def advance(self, items: list[_Item]) -> int:
        """Step over the items not seen yet; returns how many that was."""
        seen = self.seen
        if seen == len(items):
            return 0
        down_after, up_after = self.down_after, self.up_after
        down, run_ok, run_n, run_first = self.down, self.run_ok, self.run_n, self.run_first
        for index in range(seen, len(items)):
            item = items[index]
            ok = item[3]
            if ok != run_ok:
                self.marks.append(
                    (index, down, self.start, self.detected, self.reason, self.detail,
                     len(self.closed))
                )  # fmt: skip
                run_ok, run_n, run_first = ok, 0, item
            before = run_n
            run_n += item[2]
            if ok and down and before < up_after <= run_n:
                assert run_first is not None
                if run_first[0] > self.start:  # contradictory samples at one instant: no time
                    self.closed.append(
                        _ProbeOutage(
                            self.start, run_first[0], self.detected, self.reason, self.detail
                        )
                    )
                down = False
            elif not ok and not down and before < down_after <= run_n:
                assert run_first is not None
                down = True
                self.start = run_first[0]
                self.reason, self.detail = run_first[4], run_first[5]
                # the sample that made it DOWN: the (down_after - before)-th of this item
                self.detected = _nth_ts(item, down_after - before)
        self.down, self.run_ok, self.run_n, self.run_first = down, run_ok, run_n, run_first
        self.seen = len(items)
        return self.seen - seen

    def rewind(self, index: int) -> bool:
        """Items from `index` (where a run began) on were rewritten: step back to before them.
        False when the walk has no mark there and must start again."""
        if self.seen <= index:
            return True
        marks = self.marks
        i = bisect.bisect_left(marks, (index,))
        if i == len(marks) or marks[i][0] != index:
            return False
        _, self.down, self.start, self.detected, self.reason, self.detail, closed = marks[i]
        del marks[i:]
        del self.closed[closed:]
        self.low = min(self.low, closed)
        self.run_ok, self.run_n, self.run_first = None, 0, None
        self.seen = index
        return True

    def forget_marks(self, before: int) -> None:
        """Compaction never rewrites items before `before` again: their marks are not needed."""
        marks = self.marks
        i = bisect.bisect_left(marks, (before,))
        if i:
            del marks[:i]

    def drop(self, cut: int, first_ts: Millis) -> bool:
        """The first `cut` items were pruned (the probe UP after a success there): forget the
        outages they made (all began before the first item kept, `first_ts`). False when the
        walk had not come that far and must start again."""
        if self.seen < cut:
            return False
        gone = bisect.bisect_left([o.start for o in self.closed], first_ts)
        del self.closed[:gone]
        self.low = 0  # what went changes the component's outages spanning the cut: see anew
        self.seen -= cut
        kept = [
            (at - cut, down, start, detected, reason, detail, closed - gone)
            for at, down, start, detected, reason, detail, closed in self.marks
            if at >= cut
        ]
        if self.seen and (not kept or kept[0][0] > 0):
            # the run at the new head began in the pruned part: an UP run, as from scratch
            kept.insert(0, (0, False, 0, 0, "", "", 0))
        self.marks = kept
        return True

    def result(self) -> tuple[list[_ProbeOutage], int]:
        """The probe's outages, and the index of the first that may differ from last time."""
        out = list(self.closed)
        if self.down:
            out.append(_ProbeOutage(self.start, OPEN, self.detected, self.reason, self.detail))
        low, self.low = self.low, len(self.closed)
        return out, low


def _fold(run: list[_Item], keep: int) -> list[_Item]:
    if len(run) <= 2 * keep + 1:
        return run
    middle = run[keep:-keep]
    first, last = middle[0], middle[-1]
    folded = (first[0], last[1], sum(i[2] for i in middle), first[3], first[4], first[5])
    return [*run[:keep], folded, *run[-keep:]]


@dataclass(slots=True)
class _ComponentState:
    system: str
    probes: dict[str, _ProbeHistory] = field(default_factory=dict)
    coverage: list[tuple[Millis, Millis]] = field(default_factory=list)  # merged, sorted
    outages: dict[str, Outage] = field(default_factory=dict)  # current derived, by id
    no_data: dict[str, Outage] = field(default_factory=dict)
    derived_from: list[list[_ProbeOutage]] | None = None  # probe outages last combined
    config_errors: dict[str, str] = field(default_factory=dict)  # probe → its last such error


class Engine:
    """Derives outages from samples. Feed it with `ingest`, advance it with `tick`."""

    def __init__(
        self,
        config: EngineConfig | None = None,
        maintenance: Callable[[str, Millis, Millis], Sequence[tuple[Millis, Millis]]] | None = None,
    ) -> None:
        """`maintenance(component, lo, hi)` says when windows cover a component; a member's
        time in maintenance does not take the composite down (it is not a fault)."""
        self.config = config or EngineConfig()
        self.maintenance = self._maintenance = maintenance
        self._components: dict[str, _ComponentState] = {}
        self._composite: dict[str, Outage] = {}
        self._composite_no_data: dict[str, Outage] = {}
        self._keep = self.config.detail_items or (self.config.down_after + self.config.up_after + 1)
        self._silence_ms = int(self.config.silence_after * 1000)
        self._grace_ms = int(self.config.silence_grace * 1000)
        self.now: Millis = 0
        self._floor: Millis = -OPEN  # history before this is pruned from memory

    # -- public ------------------------------------------------------------------------------
    def components(self) -> dict[str, str]:
        """Known components and their systems (the composite included)."""
        out = {c: s.system for c, s in self._components.items()}
        if self.config.composite_id:
            out[self.config.composite_id] = "callsys"
        return out

    def outages(self) -> list[Outage]:
        """Every outage the engine currently derives (down and no-data), for inspection."""
        out = [
            o for s in self._components.values() for o in (*s.outages.values(), *s.no_data.values())
        ]
        out.extend(self._composite.values())
        out.extend(self._composite_no_data.values())
        return sorted(out, key=lambda o: (o.start, o.component, o.id))

    def load_known(self, outages: Iterable[Outage]) -> None:
        """Tell the engine what the store already holds (after a restart, before replaying), so
        replayed samples only produce the differences."""
        for o in outages:
            if o.component == self.config.composite_id:
                table = (
                    self._composite_no_data if o.kind is IntervalKind.NO_DATA else self._composite
                )
                table[o.id] = replace(o, excluded=None)
                continue
            state = self._components.get(o.component)
            if state is None:
                continue
            target = state.no_data if o.kind is IntervalKind.NO_DATA else state.outages
            target[o.id] = replace(o, excluded=None)
            state.derived_from = None  # derive from every probe outage again next time
            if o.kind is IntervalKind.NO_DATA and o.end is None:
                # silent since before the replayed samples: anchor the gap at its start
                _cover(state.coverage, o.start - 1, o.start, 0)

    def register(self, component: str, system: str) -> None:
        self._components.setdefault(component, _ComponentState(system))

    def ingest(self, samples: Sequence[Sample], now: Millis) -> Changes:
        """Place samples in order and return what changed (call once per batch)."""
        self.now = max(self.now, now)
        touched: set[str] = set()
        registered = False
        for s in samples:
            if s.last_ts < self._floor:
                continue  # older than the kept history: stored, but outages there are final
            state = self._components.get(s.component)
            if state is None:
                state = self._components[s.component] = _ComponentState(s.system)
                registered = True
            if s.reason == CONFIG_ERROR:
                # The check could not run (its configuration, not the platform, failed): no
                # evidence either way. It neither takes the component down nor covers it, so
                # a component left with such checks alone goes no_data, visibly.
                if not state.coverage:
                    _cover(state.coverage, s.ts - 1, s.ts, 0)  # silent from here on
                state.config_errors[s.probe] = s.detail
                touched.add(s.component)
                continue
            state.config_errors.pop(s.probe, None)
            history = state.probes.get(s.probe)
            if history is None:
                history = state.probes[s.probe] = _ProbeHistory()
            last = s.last_ts
            history.add((s.ts, last, max(1, s.count), s.ok, s.reason, s.detail))
            interval = int(s.interval * 1000) if s.interval else self._silence_ms
            _cover(state.coverage, s.ts, last + interval, self._grace_ms)
            touched.add(s.component)
        changes = Changes()
        for component in sorted(touched):
            changes.extend(self._recompute(component))
        changes.extend(self._silence(self.now, only=touched))
        if self.config.composite_id and (registered or changes.upserts or changes.deletes):
            changes.extend(self._recompute_composite())
        return changes

    def tick(self, now: Millis) -> Changes:
        """Advance the clock: detect silent components, follow windows opening and closing."""
        self.now = max(self.now, now)
        changes = self._silence(self.now)
        if self.config.composite_id:
            changes.extend(self._recompute_composite())
        return changes

    def prune(self, floor: Millis) -> None:
        """Forget history before `floor` (e.g. now − 24 h): closed outages that ended before it
        and the samples that made them. Results older than `floor` arriving later are stored
        by the caller but no longer change outages."""
        if floor <= self._floor:
            return
        self._floor = floor
        cfg = self.config
        for state in self._components.values():
            for history in state.probes.values():
                history.prune(floor, cfg.down_after, cfg.up_after)
            for table in (state.outages, state.no_data):
                for oid in [k for k, o in table.items() if o.end is not None and o.end <= floor]:
                    del table[oid]
            keep = [c for c in state.coverage[:-1] if c[1] >= floor]
            state.coverage[:] = keep + state.coverage[-1:]
        for table in (self._composite, self._composite_no_data):
            for oid in [k for k, o in table.items() if o.end is not None and o.end <= floor]:
                del table[oid]

    def memory(self) -> int:
        """Items held across every probe's history (for /metrics and tests)."""
        return sum(len(h.items) for s in self._components.values() for h in s.probes.values())

    # -- derivation --------------------------------------------------------------------------
    def _probe_intervals(
        self, state: _ComponentState
    ) -> tuple[list[list[_ProbeOutage]], list[int]]:
        cfg = self.config
        out, lows = [], []
        for history in state.probes.values():
            history.compact(self._keep)
            outages, low = history.outages_since(cfg.down_after, cfg.up_after)
            out.append(outages)
            lows.append(low)
        return out, lows

    def _recompute(self, component: str) -> Changes:
        state = self._components[component]
        per_probe, lows = self._probe_intervals(state)
        previous, state.derived_from = state.derived_from, per_probe
        names = list(state.probes)
        rule = self.config.component_rule
        if self.config.silence_action == "down":
            derived = _combine(component, names, per_probe, rule)
            derived = _with_silence(component, derived, state.no_data.values())
            return _diff(state.outages, derived, floor=self._floor)
        if previous is None or len(previous) != len(per_probe):
            return _diff(
                state.outages, _combine(component, names, per_probe, rule), floor=self._floor
            )
        # Only the probes' outages from `low` on may have changed (the usual batch: the last
        # one or two), so only the component's outages from where those reach back are derived
        # again; those ending before stay as they are, whatever the length of the history.
        since = OPEN + 1
        for old, new, low in zip(previous, per_probe, lows, strict=True):
            if old[low:] != new[low:]:
                since = min(since, *(x[low].start for x in (old, new) if low < len(x)))
        if since > OPEN:
            return Changes()  # the usual case: nothing changed for this component
        lists = [*previous, *per_probe]
        cut = since
        while True:  # back to where no outage of any probe spans the cut
            lower = cut
            for outs in lists:
                i = len(outs)
                while i and outs[i - 1].end >= cut:
                    i -= 1
                if i < len(outs):
                    lower = min(lower, outs[i].start)
            if lower == cut:
                break
            cut = lower
        old_tail = [_reaching(outs, cut) for outs in previous]
        new_tail = [_reaching(outs, cut) for outs in per_probe]
        before = _combine(component, names, old_tail, rule)
        current = {k: state.outages.pop(k) for k in before if k in state.outages}
        changes = _diff(current, _combine(component, names, new_tail, rule), floor=self._floor)
        state.outages.update(current)
        return changes

    def _silence(self, now: Millis, only: set[str] | None = None) -> Changes:
        """No-data intervals: gaps in coverage, and (on `tick`, `only` None) the silence since
        the last result. Ingest (`only` given) closes or keeps an open one, never opens one:
        a replayed batch of old results must not make a component look silent."""
        changes = Changes()
        for component, state in self._components.items():
            if only is not None and component not in only:
                continue
            if not state.coverage:
                continue
            quiet = only is not None or now < state.coverage[-1][1] + self._grace_ms
            if len(state.coverage) == 1 and not state.no_data and quiet:
                continue  # the usual case: covered without gaps, nothing recorded
            gaps = [
                (e, s) for (_, e), (s, _) in zip(state.coverage, state.coverage[1:], strict=False)
            ]
            tail_end = state.coverage[-1][1]
            if now >= tail_end + self._grace_ms:
                still_open = state.no_data.get(f"{component}@{tail_end}/no_data")
                if only is None or (still_open is not None and still_open.end is None):
                    gaps.append((tail_end, OPEN))
            derived = {}
            for start, end in gaps:
                o = Outage(
                    id=f"{component}@{start}/no_data",
                    component=component,
                    start=start,
                    end=None if end == OPEN else end,
                    kind=IntervalKind.NO_DATA,
                    detected_at=start + self._grace_ms if end == OPEN else None,
                    # why no data, when a check's own configuration is failing: visible in
                    # the API and the status, so nobody mistakes it for a silent agent
                    **_config_error(state.config_errors if end == OPEN else {}),
                )
                derived[o.id] = o
            # a gap's detected_at stays what it first was
            for oid, o in list(derived.items()):
                prev = state.no_data.get(oid)
                if prev is not None:
                    derived[oid] = replace(o, detected_at=prev.detected_at)
            diff = _diff(state.no_data, derived, no_data=True, floor=self._floor)
            changes.extend(diff)
            if diff and self.config.silence_action == "down":
                changes.extend(self._recompute(component))
        return changes

    def _faults(self, component: str, state: _ComponentState) -> list[Outage]:
        """The component's outages without the time windows cover, up to now."""
        return faults_of(component, state.outages.values(), self._maintenance, self.now)

    def adopt_composite(self, deletes: Iterable[str], upserts: Iterable[Outage]) -> None:
        """Take the composite's outages a reclassification derived from the store (a window
        entered after the fact), so the next tick does not derive them a second time."""
        for oid in deletes:
            self._composite.pop(oid, None)
            self._composite_no_data.pop(oid, None)
        for o in upserts:
            table = self._composite_no_data if o.kind is IntervalKind.NO_DATA else self._composite
            if o.end is None or o.end > self._floor:
                table[o.id] = o
            else:  # ended before the kept history: final in the store, forgotten here
                table.pop(o.id, None)

    def _recompute_composite(self) -> Changes:
        cid = self.config.composite_id
        assert cid is not None
        members: dict[str, list[Member]] = {}
        for component, state in self._components.items():
            if component == cid or state.system not in self.config.composite:
                continue
            members.setdefault(state.system, []).append(
                member_of(
                    component,
                    state.outages.values(),
                    state.no_data.values(),
                    self._maintenance,
                    self.now,
                )
            )
        down, no_data = derive_composite(cid, self.config.composite, members, self.now)
        down = _above_floor(self._composite, down, self._floor)
        no_data = _above_floor(self._composite_no_data, no_data, self._floor)
        changes = _diff(self._composite, down, floor=self._floor)
        changes.extend(_diff(self._composite_no_data, no_data, no_data=True, floor=self._floor))
        return changes


def _above_floor(
    current: dict[str, Outage], derived: dict[str, Outage], floor: Millis
) -> dict[str, Outage]:
    """Composite outages derived from pruned memory: the members' history before `floor` is
    gone, so a piece reaching back before it is not news about its start — it continues the
    current piece that spans the floor (its start and id kept, its end taken), and that piece
    stays as it is when nothing derived spans the floor."""
    if floor <= -OPEN:
        return derived
    spanning = [o for o in current.values() if o.start < floor and (o.end is None or o.end > floor)]
    out = {k: o for k, o in derived.items() if o.start >= floor}
    early = [o for o in derived.values() if o.start < floor]
    for cur in spanning:
        match = next((o for o in early if o.end is None or o.end > floor), None)
        if match is None:
            out[cur.id] = cur
        else:
            out[cur.id] = replace(
                match, id=cur.id, start=cur.start, detected_at=cur.detected_at,
                probes=tuple(sorted({*cur.probes, *match.probes})),
            )  # fmt: skip
    return out


def faults_of(
    component: str,
    outages: Iterable[Outage],
    maintenance: Callable[[str, Millis, Millis], Sequence[tuple[Millis, Millis]]] | None,
    now: Millis,
) -> list[Outage]:
    """A component's outages without the time maintenance windows cover, up to `now`."""
    if maintenance is None:
        return list(outages)
    out = []
    for o in outages:
        end = OPEN if o.end is None else o.end
        covered = maintenance(component, o.start, min(end, now + 1))
        for s, e in subtract([(o.start, end)], covered):
            if s > now:
                continue
            detected = max(o.detected_at or o.start, s)
            out.append(replace(o, start=s, end=None if e >= OPEN else e, detected_at=detected))
    return out


def member_of(
    component: str,
    down: Iterable[Outage],
    silent: Iterable[Outage],
    maintenance: Callable[[str, Millis, Millis], Sequence[tuple[Millis, Millis]]] | None,
    now: Millis,
) -> Member:
    """A composite member from its down and no-data outages: time in maintenance is neither
    a fault nor unknown for the composite (it is maintenance)."""
    spans = [(o.start, OPEN if o.end is None else o.end) for o in silent]
    if maintenance is not None and spans:
        lo, hi = min(s for s, _ in spans), min(max(e for _, e in spans), now + 1)
        if hi > lo:
            spans = subtract(spans, maintenance(component, lo, hi))
    return Member(component, faults_of(component, down, maintenance, now), spans)


def diff_outages(
    current: dict[str, Outage], derived: dict[str, Outage], no_data: bool = False
) -> Changes:
    """Update `current` to `derived` in place; the upserts, deletes and events that takes."""
    return _diff(current, derived, no_data=no_data)


@dataclass(frozen=True, slots=True)
class Member:
    """One member of the composite: its fault outages (maintenance already taken out) and the
    spans it reported nothing (no_data; OPEN while it lasts)."""

    component: str
    faults: Sequence[Outage]
    silent: Sequence[tuple[Millis, Millis]] = ()


def derive_composite(
    cid: str,
    rules: dict[str, CompositeRule],
    members: dict[str, list[Member]],
    now: Millis,
) -> tuple[dict[str, Outage], dict[str, Outage]]:
    """The composite's down and no_data outages from its members, by system. Pure, so the
    engine (recent history, in memory) and a reclassification after a window was entered late
    (older history, read from the store) derive it the same way.

    Three-valued per system with rule k of n members: down where at least k members are down;
    unknown where fewer are down but down + silent members reach k (the silent ones might be
    down). The composite is down where any system is down, no_data where none is down and any
    is unknown, up elsewhere."""
    pieces: list[tuple[Millis, Millis, Outage]] = []
    maybe: list[tuple[Millis, Millis]] = []
    for system, rule in rules.items():
        group = members.get(system, [])
        if not group:
            continue
        k = rule.needed(len(group))
        faults = [list(m.faults) for m in group]
        for start, end in _k_of_n(faults, k):
            pieces.append((start, end, _cause(faults, start)))
        if any(m.silent for m in group):
            either = [
                [
                    *m.faults,
                    *(Outage("", m.component, s, None if e >= OPEN else e) for s, e in m.silent),
                ]
                for m in group
            ]
            maybe.extend(_k_of_n(either, k))
    down: dict[str, Outage] = {}
    spans = _merge_open([(s, e) for s, e, _ in pieces])
    for start, end in spans:
        opening = [(max(c.detected_at or c.start, s), c) for s, _, c in pieces if s == start]
        detected, first = min(opening, key=lambda p: (p[0], p[1].component))
        names = {c.component for s, e, c in pieces if s < end and e > start}
        o = Outage(
            id=f"{cid}@{start}",
            component=cid,
            start=start,
            end=None if end >= OPEN else end,
            detected_at=detected,
            probes=tuple(sorted(names)),
            reason=first.reason,
            detail=first.detail,
        )
        down[o.id] = o
    no_data: dict[str, Outage] = {}
    for start, end in subtract(_merge_open(maybe), spans):
        if start > now:
            continue
        o = Outage(
            id=f"{cid}@{start}/no_data",
            component=cid,
            start=start,
            end=None if end >= OPEN else end,
            kind=IntervalKind.NO_DATA,
            detected_at=start if end >= OPEN else None,
            reason="no_data",
        )
        no_data[o.id] = o
    return down, no_data


def _config_error(errors: dict[str, str]) -> dict[str, str]:
    if not errors:
        return {}
    return {
        "reason": CONFIG_ERROR,
        "detail": "; ".join(f"{probe}: {detail}" for probe, detail in sorted(errors.items())),
    }


def _cover(
    coverage: list[tuple[Millis, Millis]], start: Millis, end: Millis, grace: Millis
) -> None:
    """Add [start, end) to a merged list; gaps shorter than `grace` are not gaps."""
    if coverage and start >= coverage[-1][0]:  # the usual case: in order
        s, e = coverage[-1]
        if start <= e + grace:
            coverage[-1] = (s, max(e, end))
        else:
            coverage.append((start, end))
        return
    merged: list[tuple[Millis, Millis]] = []
    for s, e in sorted([*coverage, (start, end)]):
        if merged and s <= merged[-1][1] + grace:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    coverage[:] = merged


def _merge_open(intervals: Iterable[tuple[Millis, Millis]]) -> list[tuple[Millis, Millis]]:
    """Sort and join overlapping or touching intervals, keeping every one: unlike
    `scoring.intervals.merge`, an empty (`end == start`) or inverted (`end < start`) interval
    is not dropped. That is why this is not `merge`; the two agree on every non-empty
    interval, which is all the engine makes itself (a probe's outage has time, "contradictory
    samples at one instant" make none; coverage gaps and `_k_of_n`'s pieces are non-empty).
    Replacing it would change what only outages read back from the store can bring
    (`derive_composite` via `Collector._recompose`): `_k_of_n` comes out the same with empty
    intervals (checked by a randomised comparison), but an inverted one (stored by hand or by
    an older version) can lower the sweep's level over `[end, start)` here, where `merge`
    ignores it; and an empty interval given to `_combine` or `_with_silence` would be a
    zero-length outage here and none with `merge`."""
    out: list[tuple[Millis, Millis]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _k_of_n(members: list[list[Outage]], k: int) -> list[tuple[Millis, Millis]]:
    """Where at least k of the members are down (a sweep over their outages)."""
    points: list[tuple[Millis, int]] = []
    for outages in members:
        for s, e in _merge_open((o.start, OPEN if o.end is None else o.end) for o in outages):
            points.append((s, 1))
            points.append((e, -1))
    points.sort(key=lambda p: (p[0], p[1]))
    out: list[tuple[Millis, Millis]] = []
    level = 0
    start = 0
    for t, d in points:
        before = level
        level += d
        if before < k <= level:
            start = t
        elif level < k <= before and t > start:
            out.append((start, t))
    return _merge_open(out)


def _cause(members: list[list[Outage]], at: Millis) -> Outage:
    candidates = [o for outages in members for o in outages if o.start <= at < (o.end or OPEN)]
    return max(candidates, key=lambda o: (o.detected_at or o.start, o.component))


def _combine(
    component: str,
    names: list[str],
    per_probe: list[list[_ProbeOutage]],
    rule: str,
) -> dict[str, Outage]:
    """Component outages from its probes' outages (`any`: union, `all`: intersection)."""
    if rule == "all":
        spans = _k_of_n_probe(per_probe, len(per_probe))
    else:
        spans = _merge_open((o.start, o.end) for outs in per_probe for o in outs)
    # a probe's outages are disjoint and in order: its ends ascend with its starts
    ends = [[o.end for o in outs] for outs in per_probe]
    derived: dict[str, Outage] = {}
    for start, end in spans:
        inside = []
        for name, outs, probe_ends in zip(names, per_probe, ends, strict=True):
            i = bisect.bisect_right(probe_ends, start)
            while i < len(outs) and outs[i].start < end:
                inside.append((outs[i], name))
                i += 1
        if rule == "all":
            detected = max(max(o.detected_at, start) for o, _ in inside)
        else:
            detected = min(o.detected_at for o, _ in inside)
        first = min(inside, key=lambda p: (p[0].start, p[1]))[0]
        o = Outage(
            id=f"{component}@{start}",
            component=component,
            start=start,
            end=None if end >= OPEN else end,
            detected_at=detected,
            probes=tuple(sorted({n for _, n in inside})),
            reason=first.reason,
            detail=first.detail,
        )
        derived[o.id] = o
    return derived


def _reaching(outs: list[_ProbeOutage], cut: Millis) -> list[_ProbeOutage]:
    """A probe's outages that end at or after `cut` (a suffix: its ends ascend)."""
    i = len(outs)
    while i and outs[i - 1].end >= cut:
        i -= 1
    return outs[i:]


def _k_of_n_probe(per_probe: list[list[_ProbeOutage]], k: int) -> list[tuple[Millis, Millis]]:
    members = [
        [Outage("", "", o.start, None if o.end >= OPEN else o.end) for o in outs]
        for outs in per_probe
    ]
    return _k_of_n(members, k)


def _with_silence(
    component: str, derived: dict[str, Outage], silence: Iterable[Outage]
) -> dict[str, Outage]:
    """`silence_action: down`: silent time counts as down, joined with probe outages."""
    spans = [(o.start, OPEN if o.end is None else o.end, o) for o in derived.values()]
    spans += [
        (
            s.start,
            OPEN if s.end is None else s.end,
            replace(s, kind=IntervalKind.DOWN, reason="no_data"),
        )
        for s in silence
    ]
    out: dict[str, Outage] = {}
    for start, end in _merge_open((s, e) for s, e, _ in spans):
        inside = [o for s, e, o in spans if s < end and e > start]
        first = min(inside, key=lambda o: o.start)
        o = Outage(
            id=f"{component}@{start}",
            component=component,
            start=start,
            end=None if end >= OPEN else end,
            detected_at=min((o.detected_at or o.start) for o in inside),
            probes=tuple(sorted({p for o in inside for p in o.probes})),
            reason=first.reason,
            detail=first.detail,
        )
        out[o.id] = o
    return out


def _diff(
    current: dict[str, Outage],
    derived: dict[str, Outage],
    no_data: bool = False,
    floor: Millis = -OPEN,
) -> Changes:
    """Update `current` to `derived` in place and say what changed. Outages that ended before
    `floor` (pruned from memory, final in the store) are left alone."""
    changes = Changes()
    if not current and not derived:
        return changes
    # (one still open in memory is closed, even below the floor: its end is news to the store)
    derived = {k: o for k, o in derived.items() if o.end is None or o.end > floor or k in current}
    for oid in [k for k, o in current.items() if o.end is not None and o.end <= floor]:
        del current[oid]
    started = EventType.NO_DATA_STARTED if no_data else EventType.OUTAGE_STARTED
    ended = EventType.NO_DATA_ENDED if no_data else EventType.OUTAGE_ENDED
    for oid in sorted(set(current) - set(derived)):
        old = current.pop(oid)
        changes.deletes.append(oid)
        changes.events.append(Event(EventType.OUTAGE_RETRACTED, old.start, old.component, old))
    for oid, new in sorted(derived.items(), key=lambda kv: kv[1].start):
        old = current.get(oid)
        if old == new:
            continue
        current[oid] = new
        changes.upserts.append(new)
        if old is None:
            changes.events.append(Event(started, new.detected_at or new.start, new.component, new))
        elif old.end is not None and new.end is None and not no_data:
            changes.events.append(Event(EventType.OUTAGE_REOPENED, old.end, new.component, new))
        if new.end is not None and (old is None or old.end is None):
            changes.events.append(Event(ended, new.end, new.component, new))
    return changes

"""Properties that hold for any facts: more downtime never raises a score; order is irrelevant."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.scoring.helpers import comps, facts, report

COMPONENTS = comps(
    "acd-1:acd", "acd-2:acd", "ivr-1:ivr", "seat-1:seat", "callsys:callsys", "r:other"
)
IDS = [c["id"] for c in COMPONENTS]
BASE = 1_793_462_400  # 2026-11-01T00:00:00+08:00 as a Unix time


def iso(offset_s: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(BASE + offset_s, UTC).isoformat()


spans = st.tuples(
    st.sampled_from(IDS), st.integers(-86_400, 31 * 86_400), st.integers(0, 4 * 86_400)
)
outages = st.lists(spans, max_size=12)
windows = st.lists(
    st.tuples(st.sampled_from([*IDS, "*"]), st.integers(0, 30 * 86_400), st.integers(0, 7200)),
    max_size=3,
)


def build(outage_spans, window_spans):
    return facts(
        COMPONENTS,
        [{"component": c, "start": iso(s), "end": iso(s + d)} for c, s, d in outage_spans],
        [
            {"id": f"w{i}", "start": iso(s), "end": iso(s + d), "components": [c]}
            for i, (c, s, d) in enumerate(window_spans)
        ],
    )


@settings(max_examples=60, deadline=None)
@given(outages, spans, windows)
def test_more_downtime_never_raises_a_score(base, extra, window_spans):
    before = report(build(base, window_spans))
    after = report(build([*base, extra], window_spans))
    for key, item in before["items"].items():
        assert after["items"][key]["score"] <= item["score"], key
        if item["value"] is not None and key != "maintenance_hours":
            assert after["items"][key]["value"] <= item["value"], key
    assert after["total"] <= before["total"]


@settings(max_examples=30, deadline=None)
@given(outages, windows, st.randoms())
def test_the_order_of_outages_does_not_matter(base, window_spans, rnd: random.Random):
    shuffled = list(base)
    rnd.shuffle(shuffled)
    a = report(build(base, window_spans))
    b = report(build(shuffled, window_spans))
    for key in a["items"]:
        assert a["items"][key]["value"] == b["items"][key]["value"]
        assert a["items"][key]["score"] == b["items"][key]["score"]

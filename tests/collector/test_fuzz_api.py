"""Fuzzing the collector's API in-process (httpx.ASGITransport) on the SQLite store: arbitrary JSON
and mutations of valid bodies (wrong types, lone surrogates, huge integers, NaN, deep nesting,
extreme instants, giant strings within max_body) never get a 5xx, and afterwards the reads —
status, maintenance, the month's facts, outages — still answer 200.

Each test is bounded (a few hundred examples, no deadline) so the suite stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.api.app import create_app
from collector.domain.timefmt import format_instant
from collector.service import Collector
from collector.store import SqliteStore
from tests.collector.conftest import AGENT_TOKEN, OPERATOR_TOKEN, T0, Clock, make_config

T = TypeVar("T")
S = 1000
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# -- strategies ----------------------------------------------------------------------------------
any_char = st.characters(exclude_categories=())  # lone surrogates included
texts = st.one_of(
    st.text(any_char, max_size=12),
    st.sampled_from(["", " ", "\ud800", "x\udfff", "ivr-1", "*", "ok", "timeout"]),
    st.integers(0, 200_000).map(lambda n: "x" * n),  # up to a giant string within max_body
)
numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 2**64, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
)
extremes = st.sampled_from(
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00Z"]
)
instants = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-12:00",
            "9999-12-31T23:59:59.999999+14:00",
            "1999-12-31T23:59:59+08:00",
            "2100-01-01T00:00:00+08:00",
            "1970-01-01T00:00:00Z",
            "2026-11-01T10:00:00",  # no offset
            "yesterday",
        ]
    ),
    st.integers(T0 - 500 * 86_400 * S, T0 + 86_400 * S).map(format_instant),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts, instants),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(any_char, max_size=6), children)
    ),
    max_leaves=12,
)
deep = st.integers(500, 100_000).map(lambda n: "[" * n + "]" * n)


def mutated(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`valid` with some of its keys replaced by anything, dropped, or left as they are."""
    keys = list(valid)
    wild = st.one_of(instants, extremes, json_values, numbers, texts)
    return st.fixed_dictionaries(
        {},
        optional={k: st.one_of(st.just(valid[k]), wild) for k in keys},
    ).map(lambda d: d or dict(valid))


def valid_result(i: int = 0) -> dict[str, Any]:
    return {
        "component": f"ivr-{i % 3}",
        "system": "ivr",
        "probe": "sip",
        "ts": format_instant(T0 - 600 * S + i * S),
        "ok": i % 4 != 1,
        "reason": "ok" if i % 4 != 1 else "timeout",
        "detail": "",
        "latency_ms": 2.5,
        "interval": 10,
        "value": 1,
        "count": 1,
    }


def valid_window() -> dict[str, Any]:
    return {
        "components": ["ivr-0"],
        "start": format_instant(T0 + 3600 * S),
        "duration": "1h",
        "reason": "upgrade",
        "approval_ref": "CR-1",
        "rrule": None,
    }


results_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"agent": st.one_of(st.just("a1"), json_values)},
        optional={
            "batch": st.one_of(texts, json_values),
            "results": st.one_of(st.lists(mutated(valid_result()), max_size=8), json_values),
        },
    ),
    st.lists(mutated(valid_result()), min_size=1, max_size=8).map(
        lambda rs: {"agent": "a1", "results": rs}
    ),
)
heartbeat_bodies = st.one_of(
    json_values,
    mutated(
        {
            "agent": "a1",
            "sent_at": format_instant(T0),
            "interval": 30,
            "spool": {"rows": 0},
            "health": {"ok": True},
            "host": {"load": 0.5},
        }
    ),
)
with_end = {**valid_window(), "end": format_instant(T0 + 7200 * S), "duration": None}
window_bodies = st.one_of(json_values, mutated(valid_window()), mutated(with_end))


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()  # NaN, Infinity and lone surrogates as JSON can say them


# -- the app -------------------------------------------------------------------------------------
class Harness:
    """One collector, its app and clients, driven from a sync test on a private event loop
    (hypothesis calls the test body once per example)."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.collector = Collector(
            make_config(tmp_path), SqliteStore(tmp_path / "store.db"), clock=Clock()
        )
        self.run(self.collector.start(background=False))
        transport = httpx.ASGITransport(app=create_app(self.collector, lifecycle=False))
        self.agent = httpx.AsyncClient(
            transport=transport,
            base_url="http://collector",
            headers={"Authorization": f"Bearer {AGENT_TOKEN}", "content-type": "application/json"},
        )
        self.operator = httpx.AsyncClient(
            transport=transport,
            base_url="http://collector",
            headers={
                "Authorization": f"Bearer {OPERATOR_TOKEN}",
                "content-type": "application/json",
            },
        )

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def call(
        self, fn: Callable[..., Coroutine[Any, Any, httpx.Response]], *a: Any, **kw: Any
    ) -> httpx.Response:
        r = self.run(fn(*a, **kw))
        assert r.status_code < 500, f"{r.status_code}: {r.text[:500]}"
        return r

    def reads_answer(self) -> None:
        for path, params in [
            ("/api/v1/status", {}),
            ("/api/v1/maintenance", {}),
            ("/api/v1/facts", {"month": "2026-11"}),
            ("/api/v1/outages", {}),
            ("/api/v1/incidents", {}),
            ("/api/v1/no_data", {}),
        ]:
            r = self.run(self.agent.get(path, params=params))
            assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:500]}"

    def close(self) -> None:
        self.run(self.agent.aclose())
        self.run(self.operator.aclose())
        self.run(self.collector.stop())
        self.loop.close()


@contextlib.contextmanager
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    try:
        # something to read back: a good batch, an outage and a window
        results = [valid_result(i) for i in range(8)]
        body = raw({"agent": "a1", "results": results})
        r = h.call(h.agent.post, "/api/v1/results", content=body)
        assert r.status_code == 202 and r.json()["accepted"] == 8
        r = h.call(h.operator.post, "/api/v1/maintenance", content=raw(valid_window()))
        assert r.status_code == 201
        yield h
        h.reads_answer()
    finally:
        h.close()


# -- the fuzz tests ------------------------------------------------------------------------------
def test_fuzz_results_never_5xx(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @FUZZ
        @given(body=results_bodies, batch=st.one_of(st.none(), st.sampled_from(["b1", "b2"])))
        def one(body: Any, batch: str | None) -> None:
            if isinstance(body, dict) and batch is not None and "batch" not in body:
                body = {**body, "batch": batch}  # repeated ids, with other content too
            r = h.call(h.agent.post, "/api/v1/results", content=raw(body))
            if r.status_code == 202:
                answer = r.json()
                assert all({"index", "field", "error"} <= set(x) for x in answer["rejected"])

        one()


def test_fuzz_raw_bodies_never_5xx(tmp_path: Path) -> None:
    """What json.dumps would not write: nesting 100,000 deep, bare NaN, broken text."""
    with harness(tmp_path) as h:

        @FUZZ
        @given(
            text=st.one_of(
                deep,
                deep.map(lambda d: '{"agent": "a1", "results": [' + d + "]}"),
                st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
                st.sampled_from(
                    ["NaN", "[1e400]", '{"agent": "a1", "results": [NaN]}', "\ufeff{}"]
                ),
            ),
            path=st.sampled_from(["/api/v1/results", "/api/v1/heartbeat"]),
        )
        def one(text: str, path: str) -> None:
            content = text.encode("utf-8", "surrogatepass")
            h.call(h.agent.post, path, content=content)
            h.call(h.operator.post, "/api/v1/maintenance", content=content)

        one()


def test_fuzz_heartbeat_never_5xx(tmp_path: Path) -> None:
    with harness(tmp_path) as h:

        @FUZZ
        @given(body=heartbeat_bodies)
        def one(body: Any) -> None:
            h.call(h.agent.post, "/api/v1/heartbeat", content=raw(body))
            r = h.run(h.agent.get("/api/v1/status"))
            assert r.status_code == 200, r.text[:500]

        one()


def test_fuzz_maintenance_windows_never_5xx(tmp_path: Path) -> None:
    with harness(tmp_path) as h:
        wid = h.run(h.agent.get("/api/v1/maintenance")).json()["windows"][0]["id"]

        @FUZZ
        @given(
            body=window_bodies,
            target=st.one_of(st.none(), st.just(wid), st.text(any_char, min_size=1, max_size=8)),
        )
        def one(body: Any, target: str | None) -> None:
            if target is None:
                h.call(h.operator.post, "/api/v1/maintenance", content=raw(body))
            else:
                path = "/api/v1/maintenance/" + quote(target.encode("utf-8", "surrogatepass"), "")
                h.call(h.operator.put, path, content=raw(body))
            r = h.run(h.agent.get("/api/v1/maintenance"))
            assert r.status_code == 200, r.text[:500]

        one()


def test_fuzz_query_parameters_never_5xx(tmp_path: Path) -> None:
    with harness(tmp_path) as h:
        params = st.one_of(instants, st.text(any_char, max_size=30))

        @FUZZ
        @given(
            month=st.one_of(
                st.text(any_char, max_size=8),
                st.from_regex(r"\A\d{4}-(0[1-9]|1[0-2])\Z"),
                st.sampled_from(["0001-01", "9999-12", "1999-12", "2000-01", "2099-12", "2100-01"]),
            ),
            since=params,
            until=params,
        )
        def one(month: str, since: str, until: str) -> None:
            h.call(h.agent.get, "/api/v1/facts", params={"month": month})
            h.call(h.agent.get, "/api/v1/incidents", params={"month": month})
            h.call(h.agent.get, "/api/v1/outages", params={"from": since, "to": until})
            h.call(h.agent.get, "/api/v1/rollups", params={"from": since, "to": until})
            h.call(h.agent.get, "/api/v1/audit", params={"from": since, "to": until})

        one()

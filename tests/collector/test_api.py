"""The HTTP API through a real uvicorn on a loopback port, with httpx."""

from __future__ import annotations

import gzip
import json

import httpx

from collector.domain.timefmt import format_instant
from scoring import load_rules, parse_facts, score
from tests.collector.conftest import T0, Served

S = 1000


def result(at: int, ok: bool, component: str = "ivr-1", system: str = "ivr", **kw: object) -> dict:
    out = {
        "component": component,
        "system": system,
        "probe": "sip",
        "ts": format_instant(at),
        "ok": ok,
        "latency_ms": 2.5 if ok else None,
        "reason": "ok" if ok else "timeout",
        "detail": "" if ok else "no answer in 5 s",
        "interval": 10,
    }
    out.update(kw)
    return out


async def post(served: Served, results: list[dict], batch: str | None = None) -> httpx.Response:
    body: dict = {"agent": "a1", "results": results}
    if batch:
        body["batch"] = batch
    return await served.agent.post("/api/v1/results", json=body)


def pattern(p: str, t0: int = T0 - 600 * S, **kw: object) -> list[dict]:
    return [result(t0 + i * 10 * S, c == "+", **kw) for i, c in enumerate(p)]


async def test_results_are_accepted_and_outage_starts_at_first_failed_sample(
    served: Served,
) -> None:
    r = await post(served, pattern("++---"), batch="b1")
    assert r.status_code == 202
    assert r.json() == {"accepted": 5, "rejected": []}
    r = await served.agent.get("/api/v1/outages", params={"component": "ivr-1"})
    assert r.json() == {
        "outages": [
            {
                "component": "ivr-1",
                "start": format_instant(T0 - 580 * S),
                "end": None,
                "kind": "fault",
                "id": f"ivr-1@{T0 - 580 * S}",
                "detected_at": format_instant(T0 - 560 * S),
                "reason": "timeout",
            }
        ]
    }
    r = await post(served, pattern("+", t0=T0 - 550 * S), batch="b2")
    [o] = (await served.agent.get("/api/v1/outages", params={"component": "ivr-1"})).json()[
        "outages"
    ]
    assert o["end"] == format_instant(T0 - 550 * S)


async def test_bad_results_are_listed_and_good_ones_kept(served: Served) -> None:
    good = result(T0, True)
    bad_ts = result(T0, True, ts="yesterday")
    bad_system = result(T0, True, system="pbx")
    bad_reason = result(T0, False, reason="exploded")
    r = await post(served, [good, bad_ts, bad_system, bad_reason])
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 1
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [
        (1, "ts"),
        (2, "system"),
        (3, "reason"),
    ]
    assert all(x["error"] for x in body["rejected"])


async def test_known_component_with_another_system_is_rejected(served: Served) -> None:
    await post(served, [result(T0, True)])
    r = await post(served, [result(T0 + S, True, system="seat")])
    assert r.json()["accepted"] == 0
    [rej] = r.json()["rejected"]
    assert rej["field"] == "system" and "ivr" in rej["error"]


async def test_duplicate_batch_is_acknowledged_and_stored_once(served: Served) -> None:
    batch = pattern("+++")
    first = await post(served, batch, batch="same")
    again = await post(served, batch, batch="same")
    assert first.json() == {"accepted": 3, "rejected": []}
    assert again.json() == {"accepted": 3, "rejected": [], "duplicate": True}
    stored = await served.collector.store.read_samples(0, T0 + 3600 * S)
    assert len(stored) == 3


async def test_a_batch_id_reused_for_other_results_says_nothing_of_it_is_stored(
    served: Served,
) -> None:
    await post(served, pattern("+++"), batch="same")
    other = pattern("---", t0=T0 - 300 * S)
    r = await post(served, [*other, result(T0, True, system=[])], batch="same")
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 0 and body["duplicate"] is True and "batch" in body["error"]
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [
        (0, "batch"),
        (1, "batch"),
        (2, "batch"),
        (3, "system"),
    ]
    stored = await served.collector.store.read_samples(0, T0 + 3600 * S)
    assert len(stored) == 3 and all(s.ok for s in stored)


async def test_results_from_the_future_are_rejected_with_the_reason(served: Served) -> None:
    r = await post(served, [result(T0 + 301 * S, True), result(T0 + 299 * S, True)])
    body = r.json()
    assert body["accepted"] == 1
    [rej] = body["rejected"]
    assert rej["index"] == 0 and rej["field"] == "ts" and "ahead" in rej["error"]


async def test_bad_or_missing_token_is_401(served: Served) -> None:
    async with served.anonymous() as anon:
        r = await anon.post("/api/v1/results", json={"agent": "a1", "results": []})
        assert r.status_code == 401
        r = await anon.get("/api/v1/outages", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        assert "wrong" not in r.text


async def test_agent_cannot_post_as_another_agent_nor_change_windows(served: Served) -> None:
    r = await served.agent.post("/api/v1/results", json={"agent": "a2", "results": []})
    assert r.status_code == 403
    r = await served.agent.post("/api/v1/maintenance", json={})
    assert r.status_code == 403


async def test_malformed_json_is_400_with_the_error(served: Served) -> None:
    r = await served.agent.post(
        "/api/v1/results",
        content=b'{"agent": "a1", "results": [',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    r = await served.agent.post("/api/v1/results", json={"agent": "a1", "results": "x"})
    assert r.status_code == 400 and "results" in r.json()["error"]


async def test_json_is_decoded_as_the_standard_library_does(served: Served) -> None:
    """Numbers orjson would refuse or round (NaN, 1e400, 30 digits) are read as json does:
    the bad ones are rejected by index and field, the batch is not a 400; big integers stay
    exact."""
    big = 123456789012345678901234567890
    r = await post(served, [result(T0 - 3 * S, True, value={"octets": big})])
    assert r.status_code == 202 and r.json()["accepted"] == 1
    [stored] = await served.collector.store.read_samples(0, T0 + S)
    assert stored.value == {"octets": big} and type(stored.value["octets"]) is int
    rows = [
        result(T0 - 2 * S, True, latency_ms="__NAN__"),
        result(T0 - S, True, interval="__INF__"),
    ]
    text = json.dumps({"agent": "a1", "results": rows})
    text = text.replace('"__NAN__"', "NaN").replace('"__INF__"', "1e400")
    r = await served.agent.post(
        "/api/v1/results", content=text.encode(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 202
    assert [(x["index"], x["field"]) for x in r.json()["rejected"]] == [
        (0, "latency_ms"),
        (1, "interval"),
    ]


async def test_oversized_body_is_413(served: Served) -> None:
    big = [result(T0, True, detail="x" * 4000) for _ in range(100)]
    r = await post(served, big)
    assert r.status_code == 413
    assert await served.collector.store.read_samples(0, T0 + S) == []


async def test_gzip_body_is_accepted(served: Served) -> None:
    body = gzip.compress(json.dumps({"agent": "a1", "results": pattern("++")}).encode())
    r = await served.agent.post(
        "/api/v1/results",
        content=body,
        headers={"content-encoding": "gzip", "content-type": "application/json"},
    )
    assert r.status_code == 202 and r.json()["accepted"] == 2


async def test_coalesced_run_counts_as_n_samples(served: Served) -> None:
    run = result(T0 - 100 * S, False, count=3, until=format_instant(T0 - 80 * S))
    await post(served, [run])
    [o] = (await served.agent.get("/api/v1/outages")).json()["outages"][:1]
    assert o["start"] == format_instant(T0 - 100 * S)
    assert o["detected_at"] == format_instant(T0 - 80 * S)


async def test_heartbeat_records_last_seen_and_skew(served: Served) -> None:
    r = await served.agent.post(
        "/api/v1/heartbeat",
        json={
            "agent": "a1",
            "sent_at": format_instant(T0 - 2 * S),
            "interval": 30,
            "spool": {"pending": 4},
            "health": {"ok": True},
            "host": {"name": "ivr-host"},
        },
    )
    assert r.status_code == 202
    status = (await served.operator.get("/api/v1/status")).json()
    [a] = status["agents"]
    assert a["agent"] == "a1" and a["skew_seconds"] == 2.0 and a["spool"] == {"pending": 4}


async def test_maintenance_window_makes_outage_time_maintenance_and_overrun_fault(
    served: Served,
) -> None:
    r = await served.operator.post(
        "/api/v1/maintenance",
        json={
            "components": ["ivr-1"],
            "start": format_instant(T0 - 700 * S),
            "duration": "5m",
            "reason": "upgrade",
            "approval_ref": "CR-1",
            "new_component": True,  # it reports only below
        },
    )
    assert r.status_code == 201
    window = r.json()
    assert window["created_by"] == "ops-wang" and window["end"] == format_instant(T0 - 400 * S)
    await post(served, pattern("+" + "-" * 30 + "+"))  # down T0-590 … T0-290
    pieces = (await served.agent.get("/api/v1/outages")).json()["outages"]
    pieces = [(p["kind"], p["start"], p["end"]) for p in pieces if p["component"] == "ivr-1"]
    assert pieces == [
        ("maintenance", format_instant(T0 - 590 * S), format_instant(T0 - 400 * S)),
        ("fault", format_instant(T0 - 400 * S), format_instant(T0 - 290 * S)),
    ]
    listed = (await served.operator.get("/api/v1/maintenance")).json()["windows"]
    assert [w["id"] for w in listed] == [window["id"]]
    assert (await served.operator.delete(f"/api/v1/maintenance/{window['id']}")).status_code == 204
    audit = (await served.operator.get("/api/v1/audit", params={"target": window["id"]})).json()
    assert [a["action"] for a in audit["audit"]] == ["window.add", "window.remove"]


async def test_fault_outage_opens_an_incident_that_is_restored(served: Served) -> None:
    await post(served, pattern("+---"))
    [inc] = (await served.operator.get("/api/v1/incidents")).json()["incidents"]
    assert inc["components"] == ["ivr-1"] or "ivr-1" in inc["components"]
    assert inc["detected_at"] == format_instant(T0 - 570 * S)
    assert inc["first_failed_at"] == format_instant(T0 - 590 * S)
    assert inc["severity"] == "P1"  # the callsys composite (all IVRs down) joined it
    r = await served.operator.post(f"/api/v1/incidents/{inc['id']}/ack")
    assert r.json()["responded_by"] == "ops-wang"
    await post(served, pattern("+", t0=T0 - 540 * S))
    got = (await served.operator.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["restored_at"] == format_instant(T0 - 540 * S)
    assert [e["event"] for e in got["timeline"]] == ["detected", "joined", "acked", "restored"]
    r = await served.operator.post(
        f"/api/v1/incidents/{inc['id']}/report", json={"ref": "https://docs/report-1"}
    )
    assert r.json()["report_ref"] == "https://docs/report-1"


async def test_operator_opens_an_incident_by_hand(served: Served) -> None:
    await post(served, [result(T0 - 10 * S, True)])
    r = await served.operator.post(
        "/api/v1/incidents", json={"components": ["ivr-1"], "title": "one-way audio"}
    )
    assert r.status_code == 201
    inc = r.json()
    assert inc["opened_by"] == "ops-wang" and inc["severity"] == "P2"
    r = await served.operator.post(
        "/api/v1/incidents", json={"components": ["nope-9"], "title": "x"}
    )
    assert r.status_code == 400


async def test_facts_validate_with_the_scorer(served: Served) -> None:
    await post(served, pattern("+---+"))
    await post(served, pattern("++", component="acd-1", system="acd"))
    outage_id = (await served.agent.get("/api/v1/outages")).json()["outages"][0]["id"]
    r = await served.operator.post(
        f"/api/v1/outages/{outage_id}/exclude",
        json={"reason": "carrier fault", "approved_by": "center-li"},
    )
    assert r.status_code == 200
    served.clock.now += 3600 * S
    await served.collector.tick()
    r = await served.operator.get("/api/v1/facts", params={"month": "2026-11"})
    assert r.status_code == 200
    facts = r.json()
    parsed = parse_facts(facts, load_rules(None))
    assert {c.id for c in parsed.components} == {"ivr-1", "acd-1", "callsys"}
    excluded = [o for o in facts["outages"] if o.get("excluded")]
    assert excluded and excluded[0]["excluded"]["approved_by"] == "center-li"
    assert facts["no_data"], "silent components show as no_data"
    assert [i["id"] for i in facts["incidents"]]


async def test_facts_month_is_validated(served: Served) -> None:
    r = await served.operator.get("/api/v1/facts", params={"month": "2026-13"})
    assert r.status_code == 400


async def test_healthz_metrics_and_openapi(served: Served) -> None:
    async with served.anonymous() as anon:
        r = await anon.get("/healthz")
        assert r.status_code == 200 and r.json()["store"] is True
        await post(served, pattern("++"))
        r = await anon.get("/metrics")
        assert "hotline_results_accepted_total 2.0" in r.text
        assert "hotline_open_outages 0.0" in r.text
        r = await anon.get("/api/v1/openapi.json")
        paths = r.json()["paths"]
        assert "/api/v1/results" in paths
        # parameters and bodies are described, one operation per action
        facts = paths["/api/v1/facts"]["get"]
        assert [(p["name"], p["required"]) for p in facts["parameters"]] == [("month", True)]
        exclude = paths["/api/v1/outages/{outage_id}/exclude"]
        body = exclude["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == ["reason", "approved_by"]
        assert exclude["delete"]["operationId"] == "include_outage"
        ack = paths["/api/v1/incidents/{incident_id}/ack"]["post"]
        assert ack["parameters"][0] == {
            "name": "incident_id", "in": "path", "required": True, "schema": {"type": "string"}
        }  # fmt: skip
        window = paths["/api/v1/maintenance"]["post"]["requestBody"]["content"]
        assert "duration" in window["application/json"]["schema"]["properties"]


async def test_scorer_reports_exclusions_and_windows_created_late(served: Served) -> None:
    await post(served, pattern("+---+"))
    outages = (await served.agent.get("/api/v1/outages", params={"component": "ivr-1"})).json()
    outage_id = outages["outages"][0]["id"]  # (the 话务系统's goes: the window covers it)
    await served.operator.post(
        f"/api/v1/outages/{outage_id}/exclude",
        json={"reason": "carrier fault", "approved_by": "center-li"},
    )
    r = await served.operator.post(
        "/api/v1/maintenance",
        json={"components": "*", "start": format_instant(T0 - 3600 * S), "end": format_instant(T0),
              "reason": "after the fact", "approval_ref": "CR-9"},
    )  # fmt: skip
    assert r.status_code == 201
    facts = (await served.operator.get("/api/v1/facts", params={"month": "2026-11"})).json()
    rules = load_rules(None)
    report = score(parse_facts(facts, rules), rules)
    types = {f["type"] for f in report["flags"]}
    assert {"excluded", "window_late"} <= types


async def test_window_update_keeps_creation_and_audits_the_change(served: Served) -> None:
    body = {"components": ["ivr-1"], "start": format_instant(T0 + 3600 * S), "duration": 3600,
            "reason": "upgrade", "approval_ref": "CR-1", "new_component": True}  # fmt: skip
    created = (await served.operator.post("/api/v1/maintenance", json=body)).json()
    served.clock.now += 60 * S
    r = await served.operator.put(
        f"/api/v1/maintenance/{created['id']}", json={**body, "duration": "2h", "reason": "longer"}
    )
    assert r.status_code == 200
    updated = r.json()
    assert updated["created_at"] == created["created_at"]
    assert updated["end"] == format_instant(T0 + 3 * 3600 * S)
    audit = (await served.operator.get("/api/v1/audit", params={"target": created["id"]})).json()
    assert [a["action"] for a in audit["audit"]] == ["window.add", "window.update"]
    change = audit["audit"][1]
    assert change["action"] == "window.update" and change["detail"]["before"]["reason"] == "upgrade"
    r = await served.operator.put("/api/v1/maintenance/mw-nope", json=body)
    assert r.status_code == 404
    r = await served.operator.post("/api/v1/maintenance", json={**body, "rrule": "FREQ=SOMETIMES"})
    assert r.status_code == 400 and "RRULE" in r.json()["error"]


async def test_outage_filters_accept_an_unencoded_plus_in_the_offset(served: Served) -> None:
    await post(served, pattern("+---"))
    start = format_instant(T0 - 3600 * S)
    assert start.endswith("+08:00")
    r = await served.agent.get(f"/api/v1/outages?from={start}&component=ivr-1")
    assert r.status_code == 200 and len(r.json()["outages"]) == 1
    r = await served.agent.get("/api/v1/outages", params={"from": "yesterday"})
    assert r.status_code == 400 and r.json()["error"].startswith("from:")


async def test_rollups_keep_per_minute_counts_after_raw_samples_expire(served: Served) -> None:
    await post(served, pattern("++-+", t0=T0 - 40 * 86_400 * S - 40 * S))  # 40 days, one minute
    await served.collector.store.apply_retention(T0 - 30 * 86_400 * S, T0 - 400 * 86_400 * S, T0)
    r = await served.agent.get(
        "/api/v1/rollups",
        params={
            "from": format_instant(T0 - 41 * 86_400 * S),
            "to": format_instant(T0 - 39 * 86_400 * S),
        },
    )
    [row] = r.json()["rollups"]
    assert (row["component"], row["ok"], row["failed"]) == ("ivr-1", 3, 1)
    assert row["latency_ms"]["mean"] == 2.5
    r = await served.agent.get("/api/v1/rollups", params={"from": format_instant(T0)})
    assert r.status_code == 400

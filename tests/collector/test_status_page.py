"""The status page at `/` and its read `GET /api/v1/summary`, in process (no socket)."""

from __future__ import annotations

import re

from collector.api.status_page import HTML
from tests.collector.conftest import T0, Served
from tests.collector.test_api import pattern, post

S = 1000


async def test_page_without_a_token_shows_no_component_names_only_a_token_form(
    served: Served,
) -> None:
    await post(served, pattern("+++", component="acd-1", system="acd"), batch="b1")
    await post(served, pattern("+++", component="seat-007", system="seat"), batch="b2")
    async with served.anonymous() as anon:
        r = await anon.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "acd-1" not in r.text and "seat-007" not in r.text
    assert '<form id="login"' in r.text and 'type="password"' in r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "connect-src 'self'" in r.headers["content-security-policy"]


def test_page_loads_nothing_from_other_hosts() -> None:
    assert re.findall(r"https?://", HTML) == []
    assert "//" not in re.sub(r"\n\s*//[^\n]*", "", HTML).replace("://", "")
    assert not re.search(r"<script[^>]*\ssrc\s*=", HTML, re.I)
    assert not re.search(r"<link[^>]*\shref\s*=", HTML, re.I)
    assert not re.search(r"<(img|iframe|object|embed)\b", HTML, re.I)
    assert "@import" not in HTML and "url(" not in HTML


def test_page_moves_a_fragment_token_out_of_the_url_and_sends_it_as_a_bearer_header() -> None:
    assert "location.hash" in HTML and "sessionStorage.setItem" in HTML
    assert "history.replaceState" in HTML
    assert '"Authorization": "Bearer "' in HTML
    assert "?token" not in HTML and "token=" not in HTML.replace("#token=", "")


async def test_summary_needs_a_read_token_and_any_agent_or_operator_token_works(
    served: Served,
) -> None:
    async with served.anonymous() as anon:
        assert (await anon.get("/api/v1/summary")).status_code == 401
        r = await anon.get("/api/v1/summary", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
    for client in (served.agent, served.operator):
        assert (await client.get("/api/v1/summary")).status_code == 200


async def test_summary_gives_each_systems_availability_today_and_month_against_its_target(
    served: Served,
) -> None:
    # ivr-1: 60 s fine, 60 s down, up again at the clock's now; acd-1 fine throughout
    await post(served, pattern("++++++------+", t0=T0 - 120 * S), batch="b1")
    await post(
        served, pattern("++++++++++++", t0=T0 - 120 * S, component="acd-1", system="acd"), "b2"
    )
    served.clock.now = T0
    doc = (await served.agent.get("/api/v1/summary")).json()
    systems = {s["id"]: s for s in doc["systems"]}
    assert list(systems)[:4] == ["acd", "seat", "ivr", "callsys"]
    assert systems["acd"]["name"] == "排队机" and systems["acd"]["target"] == 0.99
    assert systems["acd"]["today"]["value"] == 1.0
    assert systems["ivr"]["target"] == 0.995
    assert 0 < systems["ivr"]["today"]["value"] == systems["ivr"]["month"]["value"] < 1
    # the next day: today's availability starts afresh, the month's remembers
    day2 = T0 + 86_400 * S
    served.clock.now = day2
    await post(served, pattern("++++++", t0=day2 - 60 * S), batch="b3")
    doc = (await served.agent.get("/api/v1/summary")).json()
    systems = {s["id"]: s for s in doc["systems"]}
    assert systems["ivr"]["today"]["value"] == 1.0
    assert 0 < systems["ivr"]["month"]["value"] < 1
    assert systems["other"]["target"] is None
    assert doc["limits"]["P1"] == {"response": 900, "restoration": 7200}
    assert doc["limits"]["P3"] == {"response": 3600, "restoration": 86400}


async def test_summary_shows_the_current_window_by_id_and_upcoming_ones(served: Served) -> None:
    await post(served, pattern("+++", component="acd-1", system="acd"), batch="b1")
    now_window = {"components": ["acd-1"], "start": T0 - 60 * S, "duration": "1h",
                  "reason": "升级", "approval_ref": "OA-1"}  # fmt: skip
    later = {"components": ["*"], "start": T0 + 86_400 * S, "duration": "30m",
             "reason": "巡检", "approval_ref": "OA-2"}  # fmt: skip
    ids = []
    for body in (now_window, later):
        body["start"] = _iso(body["start"])
        r = await served.operator.post("/api/v1/maintenance", json=body)
        assert r.status_code in (200, 201), r.text
        ids.append(r.json()["id"])
    m = (await served.agent.get("/api/v1/summary")).json()["maintenance"]
    assert [w["id"] for w in m["current"]] == [ids[0]]
    assert [w["id"] for w in m["upcoming"]] == [ids[1]]


def _iso(ms: int) -> str:
    from collector.domain.timefmt import format_instant

    return str(format_instant(ms))

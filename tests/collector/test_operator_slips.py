"""Operator slips that would change a month's numbers are refused (exit 3, saying why), unless
the operator says they mean it: a window or incident naming a component nothing ever reported,
a restoration recorded while the outage is still open or before the incident was detected.
Through the real `hotline maint` / `hotline incident` commands against a served collector."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector.domain.timefmt import format_instant
from tests.collector.conftest import OPERATOR_TOKEN, T0, Served
from tests.collector.test_api import pattern, post
from tests.collector.test_cli import hotline

S = 1000


@pytest.fixture
def served(served_over_http: Served) -> Served:
    """The `hotline` commands run as processes: they need a real server."""
    return served_over_http


async def cli(served: Served, tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    token = tmp_path / "operator.token"
    token.write_text(OPERATOR_TOKEN + "\n")
    full = [*args, "--collector", served.url, "--token-file", str(token)]
    return await asyncio.to_thread(hotline, *full)


async def test_maint_add_refuses_a_component_nothing_ever_reported(
    served: Served, tmp_path: Path
) -> None:
    await post(served, pattern("++"))  # ivr-1 and the composite are known
    start = format_instant(T0 - 3600 * S)
    args = ["maint", "add", "--start", start, "--duration", "1h", "--reason", "swap"]
    typo = await cli(served, tmp_path, *args, "--components", "ivr-1,ivr-9")
    assert typo.returncode == 3, typo.stderr
    assert "ivr-9" in typo.stderr and "--new-component" in typo.stderr
    assert (await served.operator.get("/api/v1/maintenance")).json()["windows"] == []
    known = await cli(served, tmp_path, *args, "--components", "ivr-1,callsys")
    assert known.returncode == 0, known.stderr
    new = await cli(served, tmp_path, *args, "--components", "ivr-9", "--new-component")
    assert new.returncode == 0, new.stderr
    windows = (await served.operator.get("/api/v1/maintenance")).json()["windows"]
    assert sorted(tuple(w["components"]) for w in windows) == [("ivr-1", "callsys"), ("ivr-9",)]


async def test_incident_open_refuses_unknown_components_unless_new(
    served: Served, tmp_path: Path
) -> None:
    args = ["incident", "open", "--components", "trunk-7", "--title", "one-way audio"]
    refused = await cli(served, tmp_path, *args)
    assert refused.returncode == 3 and "trunk-7" in refused.stderr
    opened = await cli(served, tmp_path, *args, "--new-component")
    assert opened.returncode == 0, opened.stderr


async def test_restore_is_refused_while_the_outage_is_open_and_forced_only_with_a_reason(
    served: Served, tmp_path: Path
) -> None:
    await post(served, pattern("+----"))  # ivr-1 down and still down
    [inc] = (await served.operator.get("/api/v1/incidents")).json()["incidents"]
    early = await cli(served, tmp_path, "incident", "restore", inc["id"])
    assert early.returncode == 3
    assert "still open" in early.stderr and "--force" in early.stderr
    before = format_instant(T0 - 3600 * S)  # before the incident was detected
    forced_no_reason = await cli(
        served, tmp_path, "incident", "restore", inc["id"], "--force", "--at", before
    )
    assert forced_no_reason.returncode == 3 and "reason" in forced_no_reason.stderr
    got = (await served.operator.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["restored_at"] is None
    forced = await cli(
        served, tmp_path, "incident", "restore", inc["id"], "--force", "--reason",
        "carrier confirmed service back; probe host down", "--at", format_instant(T0),
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    got = (await served.operator.get(f"/api/v1/incidents/{inc['id']}")).json()
    assert got["restored_at"] == format_instant(T0)
    [audit] = [a for a in got["audit"] if a["action"] == "incident.restore"]
    assert audit["detail"]["force"] is True
    assert "still open" in audit["detail"]["overridden"][0]
    assert audit["detail"]["reason"].startswith("carrier confirmed")


async def test_restore_before_detection_is_refused_even_after_recovery(
    served: Served, tmp_path: Path
) -> None:
    await post(served, pattern("+----"))
    [inc] = (await served.operator.get("/api/v1/incidents")).json()["incidents"]
    before = format_instant(T0 - 3600 * S)
    refused = await cli(served, tmp_path, "incident", "restore", inc["id"], "--at", before)
    assert refused.returncode == 3 and "before the incident was detected" in refused.stderr


async def test_score_from_the_collector_exits_3_for_a_refused_token_or_a_bad_month(
    served: Served, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-a-token\n")
    refused = await asyncio.to_thread(
        hotline, "score", "--collector", served.url, "--month", "2026-11",
        "--token-file", str(wrong),
    )  # fmt: skip
    assert refused.returncode == 3 and "refused the token" in refused.stderr
    assert "not-a-token" not in refused.stderr
    bad_month = await cli(served, tmp_path, "score", "--month", "11/2026")
    assert bad_month.returncode == 3 and "--month" in bad_month.stderr
    good = await cli(served, tmp_path, "score", "--month", "2026-11")
    assert good.returncode == 0, good.stderr


async def test_a_composite_whose_members_all_fell_silent_is_no_data_in_status_and_facts(
    served: Served,
) -> None:
    from tests.collector.test_api import result

    await post(served, [result(T0 - 30 * S, True), result(T0 - 30 * S, True, "acd-1", "acd")])
    served.clock.now = T0 + 3600 * S  # an hour of silence from both
    await served.collector.tick()
    status = (await served.operator.get("/api/v1/status")).json()
    states = {c["id"]: c["state"] for c in status["components"]}
    assert states == {"acd-1": "no_data", "ivr-1": "no_data", "callsys": "no_data"}
    facts = (await served.operator.get("/api/v1/facts", params={"month": "2026-11"})).json()
    silent = [n for n in facts["no_data"] if n["component"] == "callsys"]
    assert [n["start"] for n in silent] == [format_instant(T0 - 20 * S)]  # last + interval
    assert silent[0]["end"] == format_instant(T0 + 3600 * S)  # as of now

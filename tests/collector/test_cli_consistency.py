"""CLI consistency (issue 14): `ack`/`report --at` with a reason (audited) for what is recorded
late, `score` and the client commands from $HOTLINE_COLLECTOR and $HOTLINE_TOKEN_FILE, and
`maint rm` / an empty `incident list` saying what they did. Real `hotline` processes against a
served collector."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collector.domain.timefmt import format_instant
from tests.collector.conftest import OPERATOR_TOKEN, T0, Served
from tests.collector.test_api import pattern, post
from tests.collector.test_cli import hotline
from tests.collector.test_operator_slips import cli

S = 1000


@pytest.fixture
def served(served_over_http: Served) -> Served:
    return served_over_http


async def test_ack_and_report_at_an_earlier_instant_need_a_reason_and_are_audited(
    served: Served, tmp_path: Path
) -> None:
    await post(served, pattern("+----"))  # ivr-1 down
    [inc] = (await served.operator.get("/api/v1/incidents")).json()["incidents"]
    iid, detected = inc["id"], inc["detected_at"]
    friday = format_instant(T0 - 300 * S)  # after detection, before now (T0)
    no_reason = await cli(served, tmp_path, "incident", "ack", iid, "--at", friday)
    assert no_reason.returncode == 3 and "--reason" in no_reason.stderr
    early = await cli(
        served, tmp_path, "incident", "ack", iid, "--at", format_instant(T0 - 3600 * S),
        "--reason", "phoned in",
    )  # fmt: skip
    assert early.returncode == 3 and "before the incident was detected" in early.stderr
    future = await cli(
        served, tmp_path, "incident", "ack", iid, "--at", format_instant(T0 + 60 * S),
        "--reason", "phoned in",
    )  # fmt: skip
    assert future.returncode == 3 and "future" in future.stderr
    assert (await served.operator.get(f"/api/v1/incidents/{iid}")).json()["responded_at"] is None
    acked = await cli(
        served, tmp_path, "incident", "ack", iid, "--at", friday,
        "--reason", "acknowledged by phone; the laptop was offline",
    )  # fmt: skip
    assert acked.returncode == 0, acked.stderr
    report = ["incident", "report", iid, "--ref", "https://docs.example/INC.pdf"]
    no_reason = await cli(served, tmp_path, *report, "--at", friday)
    assert no_reason.returncode == 3 and "--reason" in no_reason.stderr
    reported = await cli(
        served,
        tmp_path,
        *report,
        "--at",
        friday,
        "--reason",
        "handed in on Friday, recorded Monday",
    )
    assert reported.returncode == 0, reported.stderr
    got = (await served.operator.get(f"/api/v1/incidents/{iid}")).json()
    assert got["responded_at"] == friday and got["responded_by"] == "ops-wang"
    assert got["report_submitted_at"] == friday and detected < friday
    audit = {a["action"]: a for a in got["audit"]}
    assert audit["incident.ack"]["detail"]["reason"].startswith("acknowledged by phone")
    assert audit["incident.report"]["detail"]["reason"] == "handed in on Friday, recorded Monday"
    assert audit["incident.report"]["detail"]["ref"] == "https://docs.example/INC.pdf"
    # the API alone: `at` without a reason is refused (400), as is a reason without `at`
    r = await served.operator.post(
        f"/api/v1/incidents/{iid}/report", json={"ref": "x", "at": friday}
    )
    assert r.status_code == 400 and "reason" in r.json()["error"]
    r = await served.operator.post(
        f"/api/v1/incidents/{iid}/report", json={"ref": "x", "reason": "y"}
    )
    assert r.status_code == 400


async def test_maint_rm_and_an_empty_incident_list_say_what_they_did(
    served: Served, tmp_path: Path
) -> None:
    empty = await cli(served, tmp_path, "incident", "list")
    assert empty.returncode == 0 and empty.stdout.strip() == "no incidents"
    empty = await cli(served, tmp_path, "incident", "list", "--open", "--month", "2026-11")
    assert empty.stdout.strip() == "no open incidents in 2026-11"
    await post(served, pattern("++"))
    added = await cli(
        served, tmp_path, "maint", "add", "--components", "ivr-1", "--reason", "swap",
        "--start", format_instant(T0 + 3600 * S), "--duration", "1h",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    wid = added.stdout.strip()
    removed = await cli(served, tmp_path, "maint", "rm", wid)
    assert removed.returncode == 0 and removed.stdout.strip() == f"removed {wid}"
    assert (await served.operator.get("/api/v1/maintenance")).json()["windows"] == []


async def test_score_and_the_clients_read_collector_and_token_file_from_the_environment(
    served: Served, tmp_path: Path
) -> None:
    token = tmp_path / "operator.token"
    token.write_text(OPERATOR_TOKEN + "\n")
    env = {"HOTLINE_COLLECTOR": served.url, "HOTLINE_TOKEN_FILE": str(token)}
    scored = await asyncio.to_thread(hotline, "score", "--month", "2026-11", env=env)
    assert scored.returncode == 0, scored.stderr
    assert '"month": "2026-11"' in scored.stdout
    listed = await asyncio.to_thread(hotline, "incident", "list", env=env)
    assert listed.returncode == 0 and listed.stdout.strip() == "no incidents", listed.stderr
    status = await asyncio.to_thread(hotline, "status", env=env)
    assert status.returncode == 0, status.stderr
    missing = {**env, "HOTLINE_TOKEN_FILE": str(tmp_path / "nope")}
    failed = await asyncio.to_thread(hotline, "maint", "list", env=missing)
    assert failed.returncode == 3 and "HOTLINE_TOKEN_FILE" in failed.stderr
    failed = await asyncio.to_thread(hotline, "score", "--month", "2026-11", env=missing)
    assert failed.returncode == 3 and "HOTLINE_TOKEN_FILE" in failed.stderr
    nowhere = await asyncio.to_thread(
        hotline, "score", "--month", "2026-11", env={"HOTLINE_COLLECTOR": ""}
    )
    assert nowhere.returncode == 3 and "HOTLINE_COLLECTOR" in nowhere.stderr

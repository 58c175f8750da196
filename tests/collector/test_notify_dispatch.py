"""The Alerter against loopback sinks: what arrives, once, where, and what is reported."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from collector.domain.engine import Event, EventType
from collector.domain.model import Incident, IntervalKind, Outage
from collector.notify.config import parse_alerts
from collector.notify.dispatch import Alerter, Outbox, SendOutcome
from collector.notify.links import LinkSigner
from collector.notify.messages import Message
from tests.peers.sinks import HttpSink, SmtpSink


@pytest.fixture
def json_sink() -> Iterator[HttpSink]:
    """An HTTP sink recording what apprise's json:// posts."""
    sink = HttpSink()
    yield sink
    sink.close()


@pytest.fixture
def mail_sink() -> Iterator[SmtpSink]:
    """An SMTP sink (aiosmtpd) recording what apprise's mailto:// sends."""
    sink = SmtpSink()
    yield sink
    sink.close()


T0 = 1_793_500_000_000  # 2026-11-01T10:26:40+08:00
SYSTEMS = {"acd-1": "acd", "ivr-1": "ivr", "seat-001": "seat", "seat-002": "seat"}


class Incidents:
    def __init__(self) -> None:
        self.by_id: dict[str, Incident] = {}

    async def get(self, incident_id: str) -> Incident | None:
        return self.by_id.get(incident_id)

    async def active(self) -> Sequence[Incident]:
        return [i for i in self.by_id.values() if i.is_open or i.report_submitted_at is None]

    def system_of(self, component: str) -> str:
        return SYSTEMS.get(component, "other")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def make(routes: list[dict], tmp_path: Path, outbox: Outbox | None = None, **extra: object):
    cfg = parse_alerts(
        {
            "public_url": "https://collector.example:8443",
            "routes": routes,
            "retries": 2,
            "retry_backoff": 0.05,
            **extra,
        }
    )
    assert cfg is not None
    incidents, clock, outcomes = Incidents(), Clock(), []
    alerter = Alerter(
        cfg,
        incidents,
        outbox or Outbox(tmp_path / "alerts.db"),
        LinkSigner(b"k" * 32, cfg.public_url),
        clock=clock,
        on_outcome=outcomes.append,
        silence_grouping=0.05,
    )
    return alerter, incidents, clock, outcomes


def acd_incident(**kw: object) -> tuple[Incident, Outage]:
    o = Outage("acd-1@1", "acd-1", T0 - 20_000, None, detected_at=T0, reason="timeout")
    inc = Incident("INC-1", ("acd-1",), "P1", T0, first_failed_at=o.start, outage_ids=(o.id,))
    return replace(inc, **kw), o  # type: ignore[arg-type]


async def test_one_opening_message_per_incident_to_json_and_mail(
    json_sink: HttpSink, mail_sink: SmtpSink, tmp_path: Path
) -> None:
    alerter, incidents, _clock, outcomes = make(
        [{"name": "platform", "urls": [json_sink.json_url("p"), mail_sink.mailto_url()]}],
        tmp_path,
    )
    await alerter.start()
    inc, o = acd_incident()
    incidents.by_id[inc.id] = inc
    alerter(Event(EventType.OUTAGE_STARTED, T0, "acd-1", o))
    alerter(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))
    for n in range(2, 6):  # more outages join the incident: no new message
        j = Outage(f"acd-1@{n}", "acd-1", T0, None, detected_at=T0 + n)
        alerter(Event(EventType.INCIDENT_JOINED, T0 + n, "acd-1", j, inc.id))
    alerter(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))  # a regroup re-emits
    await alerter.drain()
    assert len(json_sink.received) == 1
    got = json_sink.received[0]
    assert "acd-1" in got["title"] and "排队机" in got["title"]
    assert "https://collector.example:8443/ack/" in got["message"]
    assert len(mail_sink.received) == 1
    subject, body = mail_sink.texts()[0]
    assert "acd-1" in subject and "INC-1" in body
    assert sorted((x.route, x.ok, x.final) for x in outcomes) == [("platform", True, True)] * 2
    assert all("***" in x.url for x in outcomes)
    await alerter.stop()


async def test_routes_filter_by_system_and_restored_notice_follows(
    json_sink: HttpSink, tmp_path: Path
) -> None:
    alerter, incidents, _clock, _outcomes = make(
        [
            {"name": "platform", "urls": [json_sink.json_url("platform")], "systems": ["acd"]},
            {"name": "seats", "urls": [json_sink.json_url("seats")], "systems": ["seat"]},
        ],
        tmp_path,
    )
    await alerter.start()
    inc, o = acd_incident()
    incidents.by_id[inc.id] = inc
    alerter(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))
    await alerter.drain()
    incidents.by_id[inc.id] = replace(inc, restored_at=T0 + 300_000)
    alerter(Event(EventType.INCIDENT_RESTORED, T0 + 300_000, incident_id=inc.id))
    await alerter.drain()
    assert [r["_path"] for r in json_sink.received] == ["/platform", "/platform"]
    assert "已恢复" in json_sink.received[1]["title"]
    assert "中断5分20秒" in json_sink.received[1]["message"]
    await alerter.stop()


async def test_failing_channel_never_blocks_the_working_one(
    json_sink: HttpSink, tmp_path: Path
) -> None:
    dead = "json://127.0.0.1:9/refused"  # discard port: nothing listens
    alerter, incidents, _clock, outcomes = make(
        [{"name": "platform", "urls": [dead, json_sink.json_url("ok")]}], tmp_path
    )
    await alerter.start()
    inc, o = acd_incident()
    incidents.by_id[inc.id] = inc
    alerter(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))
    await alerter.drain()
    assert len(json_sink.received) == 1
    failed = [x for x in outcomes if not x.ok]
    assert [x.attempt for x in failed] == [1, 2, 3]  # first try and 2 retries
    assert failed[-1].final and failed[-1].error and failed[-1].url == "json://127.0.0.1:9/***"
    assert [x.ok for x in outcomes if x.url.endswith(f"{json_sink.port}/***")] == [True]
    await alerter.stop()


async def test_a_retry_delivers_after_the_channel_recovers(
    json_sink: HttpSink, tmp_path: Path
) -> None:
    alerter, incidents, _clock, outcomes = make(
        [{"name": "platform", "urls": [json_sink.json_url()]}], tmp_path
    )
    await alerter.start()
    json_sink.fail_next(1)
    inc, o = acd_incident()
    incidents.by_id[inc.id] = inc
    alerter(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))
    await alerter.drain()
    assert len(json_sink.received) == 1
    assert [(x.ok, x.attempt, x.final) for x in outcomes] == [(False, 1, False), (True, 2, True)]
    await alerter.stop()


async def test_escalation_and_reminders_with_an_injected_clock(
    json_sink: HttpSink, tmp_path: Path
) -> None:
    alerter, incidents, _clock, _outcomes = make(
        [
            {
                "name": "platform",
                "urls": [json_sink.json_url("platform")],
                "systems": ["acd"],
                "escalate_to": "manager",
            },
            {"name": "manager", "urls": [json_sink.json_url("manager")], "systems": ["seat"]},
        ],
        tmp_path,
        remind_every=600,
    )
    await alerter.start()
    inc, o = acd_incident()
    incidents.by_id[inc.id] = inc
    alerter(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))
    await alerter.drain()
    await alerter.tick(T0 + 15 * 60_000)  # exactly at the P1 response deadline: not yet
    await alerter.drain()
    assert [r["_path"] for r in json_sink.received] == ["/platform"]
    await alerter.tick(T0 + 15 * 60_000 + 1)
    await alerter.tick(T0 + 15 * 60_000 + 2000)  # escalated once
    await alerter.drain()
    paths = [r["_path"] for r in json_sink.received]
    assert paths == ["/platform", "/manager"]  # the manager route, despite its seat filter
    assert "升级" in json_sink.received[1]["title"]
    assert "/ack/" in json_sink.received[1]["message"]
    await alerter.tick(T0 + 25 * 60_000 + 1)  # 10 min past the deadline: the first reminder
    await alerter.drain()
    assert sorted(r["_path"] for r in json_sink.received[2:]) == ["/manager", "/platform"]
    assert all("催办" in r["title"] for r in json_sink.received[2:])
    incidents.by_id[inc.id] = replace(inc, responded_at=T0 + 26 * 60_000, responded_by="wang")
    await alerter.tick(T0 + 40 * 60_000)  # acknowledged: told once, no more reminders
    await alerter.tick(T0 + 50 * 60_000)
    await alerter.drain()
    assert len(json_sink.received) == 5
    assert (
        "已响应" in json_sink.received[4]["title"]
        and "/ack/" not in json_sink.received[4]["message"]
    )
    await alerter.stop()


async def test_report_due_reminder_then_missed_notice(json_sink: HttpSink, tmp_path: Path) -> None:
    alerter, incidents, _clock, _outcomes = make(
        [{"name": "pm", "urls": [json_sink.json_url()]}], tmp_path, report_remind_before=4 * 3600
    )
    await alerter.start()
    restored = 1_794_000_000_000  # Fri 2026-11-06 05:20 +08:00 → due 2026-11-11 00:00 +08:00
    due = 1_794_326_400_000
    inc, _ = acd_incident(responded_at=T0 + 1, restored_at=restored)
    incidents.by_id[inc.id] = inc
    await alerter.tick(due - 5 * 3600_000)
    await alerter.tick(due - 3 * 3600_000)
    await alerter.tick(due - 2 * 3600_000)
    await alerter.drain()
    assert [r["title"] for r in json_sink.received] == [f"【书面报告待交】{inc.id}"]
    await alerter.tick(due)
    await alerter.tick(due + 60_000)
    await alerter.drain()
    assert [r["title"] for r in json_sink.received][1:] == [f"【书面报告逾期】{inc.id}"]
    await alerter.stop()


async def test_silent_components_alert_once_as_a_group(json_sink: HttpSink, tmp_path: Path) -> None:
    alerter, _incidents, _clock, outcomes = make(
        [
            {
                "name": "seats",
                "urls": [json_sink.json_url()],
                "systems": ["seat"],
                "severities": ["P3"],
            }
        ],
        tmp_path,
    )
    await alerter.start()
    for c in ("seat-001", "seat-002"):
        o = Outage(f"{c}@nd1", c, T0, None, kind=IntervalKind.NO_DATA)
        alerter(Event(EventType.NO_DATA_STARTED, T0, c, o))
    await alerter.drain()
    assert len(json_sink.received) == 1
    assert (
        "seat-001" in json_sink.received[0]["title"] and "无数据" in json_sink.received[0]["title"]
    )
    assert outcomes and outcomes[0].incident_id is None
    await alerter.stop()


async def test_restart_neither_resends_nor_loses(json_sink: HttpSink, tmp_path: Path) -> None:
    routes = [{"name": "platform", "urls": [json_sink.json_url()]}]
    alerter, incidents, _clock, _outcomes = make(routes, tmp_path)
    inc, o = acd_incident()
    incidents.by_id[inc.id] = inc
    # decided but never delivered (the collector stopped before the worker ran the send)
    alerter.outbox.decide(
        inc.id, "restored", [("platform", json_sink.json_url(), Message("t", "b"))], T0
    )
    await alerter.start()
    alerter(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))
    await alerter.drain()
    assert len(json_sink.received) == 2
    await alerter.stop()
    alerter.outbox.close()

    again, incidents2, _, _ = make(routes, tmp_path)
    incidents2.by_id[inc.id] = inc
    await again.start()
    again(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))
    await again.drain()
    assert len(json_sink.received) == 2  # nothing re-sent
    await again.stop()


async def test_events_never_wait_for_a_slow_channel(tmp_path: Path) -> None:
    started = asyncio.Event()

    async def slow(url: str, title: str, body: str) -> None:
        started.set()
        await asyncio.sleep(30)

    alerter, incidents, _clock, _outcomes = make(
        [{"name": "platform", "urls": ["json://127.0.0.1:9/x"]}], tmp_path
    )
    alerter._send = slow
    await alerter.start()
    inc, o = acd_incident()
    incidents.by_id[inc.id] = inc
    alerter(Event(EventType.INCIDENT_OPENED, T0, "acd-1", o, inc.id))  # returns at once
    await asyncio.wait_for(started.wait(), 2)
    await alerter.stop()
    assert len(alerter.outbox.pending()) == 1  # kept for the next start


def test_outcome_type_is_plain_data() -> None:
    x = SendOutcome("INC-1", "opened", "platform", "json://***", True, "", 1, True, T0)
    assert x.ok and x.route == "platform"

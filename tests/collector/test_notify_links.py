"""Acknowledgement links and the alert texts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from collector.domain.model import Incident, Outage
from collector.notify import messages as msg
from collector.notify.links import LinkError, LinkSigner, render_ack_done, render_ack_page
from collector.notify.messages import Limits

T0 = 1_793_500_000_000  # 2026-11-01T10:26:40+08:00
KEY = b"k" * 32
SYSTEMS = {"ACD-Main_1": "acd", "ivr-2": "ivr", "seat-001": "seat"}


def system_of(component: str) -> str:
    return SYSTEMS.get(component, "other")


def incident(**kw: object) -> Incident:
    base = Incident(
        id="INC-20261101-1",
        components=("ACD-Main_1",),
        severity="P1",
        detected_at=T0,
        first_failed_at=T0 - 20_000,
        outage_ids=("ACD-Main_1@1",),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


OUTAGE = Outage(
    "ACD-Main_1@1",
    "ACD-Main_1",
    T0 - 20_000,
    None,
    detected_at=T0,
    reason="timeout",
    detail="no answer in 5 s",
)


def test_link_round_trip_names_incident_and_who() -> None:
    signer = LinkSigner(KEY, "https://collector.example:8443/")
    link = signer.link("INC-1", "platform", T0)
    assert link is not None and link.startswith("https://collector.example:8443/ack/")
    token = link.rsplit("/", 1)[1]
    assert all(c.isalnum() or c in "-_." for c in token)  # URL-safe
    claim = signer.verify(token, T0 + 1000)
    assert (claim.incident_id, claim.who) == ("INC-1", "platform")


def test_tampered_expired_reused_and_foreign_tokens_are_refused() -> None:
    signer = LinkSigner(KEY, "https://c.example", ttl_seconds=60)
    token = signer.token("INC-1", "platform", T0 + 60_000)
    body, sig = token.split(".")
    forged = LinkSigner(KEY, None).token("INC-2", "platform", T0 + 60_000).split(".")[0]
    for bad, reason in [
        (f"{forged}.{sig}", "bad_signature"),
        (f"{body}.{'A' * len(sig)}", "bad_signature"),
        (LinkSigner(b"x" * 32, None).token("INC-1", "platform", T0 + 60_000), "bad_signature"),
        ("garbage", "malformed"),
    ]:
        with pytest.raises(LinkError) as info:
            signer.verify(bad, T0)
        assert info.value.reason == reason
    with pytest.raises(LinkError) as info:
        signer.verify(token, T0 + 60_000)
    assert info.value.reason == "expired"
    claim = signer.verify(token, T0)
    with pytest.raises(LinkError) as info:
        signer.verify(token, T0, used={claim.token_id})
    assert info.value.reason == "used"


def test_get_page_has_a_post_form_and_no_external_resources() -> None:
    signer = LinkSigner(KEY, "https://c.example")
    inc = incident()
    claim = signer.verify(signer.token(inc.id, "platform", T0 + 60_000), T0)
    page = render_ack_page(claim, inc, system_of)
    assert '<form method="post">' in page and "确认响应" in page
    assert "ACD-Main_1" in page and "排队机" in page and "platform" in page
    assert "http" not in page.split("<body>", 1)[1]  # no external resources
    assert '<meta charset="utf-8">' in page
    assert inc.responded_at is None  # rendering changes nothing (records are frozen anyway)
    acked = render_ack_page(claim, incident(responded_at=T0, responded_by="wang"), system_of)
    assert "<form" not in acked and "wang" in acked
    done = render_ack_done(inc.id, ok=True, who="platform", at=T0 + 5000)
    assert "已" in done and inc.id in done
    assert "<script" not in render_ack_page(
        claim, incident(title="<script>alert(1)</script>"), system_of
    )


def test_opened_message_names_components_as_written_in_chinese_with_link() -> None:
    inc = incident()
    m = msg.opened(inc, system_of, Limits(), outage=OUTAGE, ack_link="https://c/ack/TOKEN")
    text = m.title + m.body
    assert "ACD-Main_1" in text and "排队机" in text and inc.id in text
    assert "2026-11-01 10:26:20+08:00" in m.body  # since the first failed sample, with offset
    assert "10:41:40+08:00" in m.body  # response deadline (P1: 15 min)
    assert "超时" in m.body and "timeout" in m.body
    assert "https://c/ack/TOKEN" in m.body
    assert len(m.body) < 400


def test_link_only_while_unacknowledged() -> None:
    acked = incident(responded_at=T0 + 60_000, responded_by="wang", restored_at=T0 + 600_000)
    m = msg.restored(acked, system_of, Limits(), ack_link="https://c/ack/TOKEN")
    assert "ack" not in m.body
    assert "中断10分20秒" in m.body
    assert "响应：及时" in m.body and "恢复：及时" in m.body
    late = incident(restored_at=T0 + 3 * 3600_000)
    m = msg.restored(late, system_of, Limits(), ack_link="https://c/ack/TOKEN")
    assert "恢复：超时" in m.body and "尚未响应" in m.body and "https://c/ack/TOKEN" in m.body
    m = msg.acknowledged(acked, system_of, Limits())
    assert "wang" in m.body and "及时" in m.body and "ack" not in m.body


def test_other_messages_are_chinese_and_short() -> None:
    inc = incident(components=("ivr-2", "seat-001"), severity="P2", restored_at=T0 + 600_000)
    for m in [
        msg.deadline_passed(inc, "restoration", system_of, Limits()),
        msg.escalation(inc, system_of, Limits(), ["platform"], ack_link="L"),
        msg.reminder(inc, system_of, Limits(), T0 + 3600_000, ack_link="L"),
        msg.report_due(inc, system_of, T0 + 86_400_000),
        msg.report_missed(inc, system_of, T0 + 86_400_000),
        msg.overrun(inc, system_of, Limits(), outage=OUTAGE),
        msg.agent_silent([("seat-001", "seat")], T0),
    ]:
        assert len(m.title) < 60 and len(m.body) < 400
        assert any("\u4e00" <= ch <= "\u9fff" for ch in m.title)
    assert "IVR" in msg.escalation(inc, system_of, Limits(), ["platform"]).title


def test_report_deadline_counts_chinese_working_days() -> None:
    # restored Friday 2026-11-06 → Mon 9th, Tue 10th → due 2026-11-11 00:00 +08:00
    restored = 1_794_000_000_000  # 2026-11-06T05:20:00+08:00
    due = msg.report_deadline(restored)
    assert due is not None and msg.local_time(due) == "2026-11-11 00:00:00+08:00"

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from probes import SPECS, OptionError, Reason, check_probe, run_probe
from tests.peers.net import SilentUdpSocket
from tests.peers.sipuas import PASSWORD, USERNAME

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("setup_ms", "first_audio_ms", "packets", "expected", "lost", "loss", "rms", "rate")


def _numbers(value: dict) -> None:
    for key in FIGURES:
        assert isinstance(value[key], int | float) and not isinstance(value[key], bool), key


# --- a real peer: baresip ----------------------------------------------------------------


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_call_through_baresip_hears_the_prompt(baresip, transport):
    target = baresip.uri + ("" if transport == "udp" else ";transport=tcp")
    result = await run_probe("call", target, {"seconds": 1.5}, timeout=4)
    assert result.ok, result
    _numbers(result.value)
    assert result.value["packets"] >= 60  # 75 in 1.5 s at 20 ms
    assert result.value["loss"] == 0
    assert 5000 < result.value["rms"] < 6000  # a 440 Hz tone at amplitude 8000
    assert result.extra["status"] == 200 and result.extra["bye_status"] == 200
    assert result.extra["codec"] == "PCMU"
    assert result.latency_ms == result.value["setup_ms"]


async def test_call_offering_only_pcma_gets_pcma(baresip):
    result = await run_probe("call", baresip.uri, {"seconds": 0.5, "codecs": "PCMA"}, timeout=3)
    assert result.ok, result
    assert result.extra["codec"] == "PCMA"


async def test_call_to_a_silent_peer_is_check_failed(baresip_silent):
    result = await run_probe("call", baresip_silent.uri, {"seconds": 1}, timeout=3)
    assert result.reason is Reason.CHECK_FAILED, result
    assert "digital silence" in result.detail
    assert result.value["packets"] > 0 and result.value["rms"] == 0


async def test_call_sends_dtmf_the_peer_receives(baresip):
    options = {"seconds": 1.5, "dtmf": "5#", "dtmf_at": 0.2}
    result = await run_probe("call", baresip.uri, options, timeout=4)
    assert result.ok, result
    assert result.value["dtmf_sent"] == 2
    log = baresip.log_text()
    assert "received event: '5'" in log and "received event: '#'" in log


def test_hotline_probe_call_prints_the_figures(baresip):
    done = subprocess.run(
        [sys.executable, "-m", "hotline", "probe", "call", baresip.uri, "--timeout", "4"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=20,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ok"] and out["probe"] == "call"
    _numbers(out["value"])
    assert out["value"]["listened_s"] >= 2.9  # the default `seconds` is 3


# --- scripted outcomes: a tiny UAS -------------------------------------------------------


async def test_486_is_error_response_naming_486(sip_uas):
    result = await run_probe("call", sip_uas.uri("busy"), {}, timeout=3)
    assert result.reason is Reason.ERROR_RESPONSE
    assert "486" in result.detail and result.extra["status"] == 486
    assert sip_uas.wait_for("ACK"), "the 486 was not ACKed"


async def test_unanswered_call_is_cancelled_and_reported_timeout_in_time(sip_uas):
    started = time.monotonic()
    result = await run_probe("call", sip_uas.uri("ring"), {}, timeout=2)
    elapsed = time.monotonic() - started
    assert result.reason is Reason.TIMEOUT
    assert elapsed < 2 + 2
    assert "180" in result.detail and "CANCEL" in result.detail
    cancels = sip_uas.wait_for("CANCEL")
    assert cancels and cancels[0][0] == "target"
    assert sip_uas.wait_for("ACK"), "the 487 was not ACKed"


async def test_ack_and_bye_go_to_the_contact_of_the_200(sip_uas):
    result = await run_probe("call", sip_uas.uri("answer"), {"seconds": 0.6}, timeout=3)
    assert result.ok, result
    assert [where for where, _ in sip_uas.wait_for("ACK")] == ["contact"]
    byes = sip_uas.wait_for("BYE")
    assert [where for where, _ in byes] == ["contact"]
    assert byes[0][1].uri.startswith("sip:uas@127.0.0.1:")
    assert result.extra["bye_status"] == 200


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
async def test_exact_silence_is_check_failed_in_either_codec(sip_uas, codec):
    options = {"seconds": 0.6, "codecs": codec}
    result = await run_probe("call", sip_uas.uri("silence"), options, timeout=3)
    assert result.reason is Reason.CHECK_FAILED, result
    assert "digital silence" in result.detail
    assert result.value["packets"] > 0


async def test_the_far_end_hanging_up_while_we_listen_is_check_failed(sip_uas):
    result = await run_probe("call", sip_uas.uri("hangup"), {"seconds": 2}, timeout=4)
    assert result.reason is Reason.CHECK_FAILED
    assert "hung up" in result.detail
    assert result.value["listened_s"] < 1.5
    assert not sip_uas.seen("BYE"), "a BYE for a dialog the peer ended"


async def test_digest_auth_answers_the_challenge(sip_uas):
    options = {"seconds": 0.5, "username": USERNAME, "password": PASSWORD}
    result = await run_probe("call", sip_uas.uri("secure"), options, timeout=3)
    assert result.ok, result


async def test_wrong_password_is_auth_failed(sip_uas):
    options = {"seconds": 0.5, "username": USERNAME, "password": "wrong"}
    result = await run_probe("call", sip_uas.uri("secure"), options, timeout=3)
    assert result.reason is Reason.AUTH_FAILED
    assert "wrong" not in result.detail


async def test_rtp_port_comes_from_the_configured_range(sip_uas):
    options = {"seconds": 0.3, "rtp_ports": "23000-23009"}
    result = await run_probe("call", sip_uas.uri("answer"), options, timeout=3)
    assert result.ok, result
    invite = sip_uas.seen("INVITE")[0][1]
    port = int(re.search(rb"m=audio (\d+) RTP/AVP 0 8 101", invite.body).group(1))
    assert 23000 <= port <= 23009 and port % 2 == 0


async def test_a_cancelled_probe_still_cancels_the_ringing_call(sip_uas):
    task = asyncio.create_task(run_probe("call", sip_uas.uri("ring"), {}, timeout=5))
    await asyncio.sleep(0.3)
    assert sip_uas.seen("INVITE")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(sip_uas.wait_for, "CANCEL")


async def test_a_cancelled_probe_still_hangs_up_the_answered_call(sip_uas):
    task = asyncio.create_task(run_probe("call", sip_uas.uri("answer"), {"seconds": 3}, timeout=5))
    await asyncio.sleep(0.4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    byes = await asyncio.to_thread(sip_uas.wait_for, "BYE")
    assert [where for where, _ in byes] == ["contact"]


async def test_no_answer_at_all_is_timeout():
    silent = SilentUdpSocket().start()
    try:
        started = time.monotonic()
        result = await run_probe("call", f"sip:ivr@127.0.0.1:{silent.port}", {}, timeout=1)
        assert result.reason is Reason.TIMEOUT
        assert time.monotonic() - started < 1 + 2  # the contract: within timeout + 2 s
    finally:
        silent.stop()


async def test_closed_port_is_refused(closed_port):
    result = await run_probe("call", f"sip:ivr@127.0.0.1:{closed_port}", {}, timeout=2)
    assert result.reason is Reason.REFUSED


# --- options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"rtp_ports": "20000"}, "rtp_ports"),
        ({"rtp_ports": "999-2000"}, "rtp_ports"),
        ({"rtp_ports": "21001-21001"}, "rtp_ports"),
        ({"dtmf": "12x"}, "dtmf"),
        ({"codecs": "G729"}, "codecs"),
        ({"seconds": "0"}, "seconds"),
        ({"max_loss": "2"}, "max_loss"),
        ({"username": "alice"}, "password"),
        ({"secs": "3"}, "secs"),
    ],
)
def test_bad_options_fail_at_load_naming_the_option(options, named):
    with pytest.raises(OptionError) as caught:
        check_probe("call", "sip:ivr@127.0.0.1", options)
    assert caught.value.option == named


def test_tls_targets_are_refused_at_load():
    with pytest.raises(OptionError):
        check_probe("call", "sips:ivr@127.0.0.1", {})


async def test_listening_is_cut_short_to_fit_the_timeout(sip_uas):
    started = time.monotonic()
    result = await run_probe("call", sip_uas.uri("answer"), {"seconds": 5}, timeout=1.5)
    assert time.monotonic() - started < 1.5 + 2  # the contract: within timeout + 2 s
    assert result.ok, result
    assert result.extra["bye_status"] == 200
    assert result.value["listened_s"] < 1.5 and "cut it short" in result.detail


def test_call_kind_is_registered_with_a_small_concurrency():
    spec = SPECS["call"]
    assert spec.concurrency <= 8
    assert spec.default_target == "sip:{host_uri}"
    parsed = check_probe("call", "sip:ivr@127.0.0.1:5070", {"rtp_ports": "20000-20999"})
    assert parsed.ports == (20000, 20999) and parsed.seconds <= 10

"""The call probe's pure parts: G.711, RTP bookkeeping, SDP, DTMF payloads, SIP dialogs."""

from __future__ import annotations

import warnings

import pytest

from probes import rtp
from probes.sipdialog import Call, parse_message, split_list, uri_of


def _packet(seq: int, payload: bytes, pt: int = 0, ssrc: int = 7, ts: int = 0) -> bytes:
    return rtp.build_rtp(pt, seq, ts, ssrc, payload)


def test_g711_tables_match_audioop():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    every = bytes(range(256))
    as_bytes = b"".join(s.to_bytes(2, "little", signed=True) for s in rtp.decode(every, 0))
    assert as_bytes == audioop.ulaw2lin(every, 2)
    as_bytes = b"".join(s.to_bytes(2, "little", signed=True) for s in rtp.decode(every, 8))
    assert as_bytes == audioop.alaw2lin(every, 2)


def test_silence_codes_decode_to_zero_or_the_smallest_step():
    assert rtp.ULAW[rtp.SILENCE_BYTE[rtp.PCMU]] == 0
    assert abs(rtp.ALAW[rtp.SILENCE_BYTE[rtp.PCMA]]) == 8


def test_meter_counts_loss_from_sequence_gaps_and_ignores_duplicates():
    meter = rtp.AudioMeter()
    for seq in (10, 11, 13, 13, 14):  # 12 lost, 13 twice
        meter.feed(_packet(seq, b"\x00" * 160), now=seq * 0.02)
    assert meter.expected == 5
    assert meter.packets == 5 and meter.lost == 0  # a duplicate makes up for a loss, as in RFC 3550
    meter.feed(_packet(20, b"\x00" * 160), now=0.4)
    assert meter.expected == 11 and meter.lost == 5


def test_meter_follows_sequence_wraparound_and_a_new_ssrc():
    meter = rtp.AudioMeter()
    for seq in (65534, 65535, 0, 1):
        meter.feed(_packet(seq, b"\x7f" * 160), now=0.0)
    meter.feed(_packet(500, b"\x7f" * 160, ssrc=8), now=0.1)
    assert meter.expected == 5 and meter.lost == 0
    assert meter.rms == 0  # 0x7F is μ-law's other zero


def test_meter_rms_of_a_full_scale_square_wave_and_padding_ignored():
    meter = rtp.AudioMeter()
    loud = bytes([0x80, 0x00] * 80)  # μ-law ±32124
    padded = bytearray(_packet(1, loud + b"\xff\xff\x00\x04"))  # 4 bytes of padding
    padded[0] |= 0x20
    meter.feed(bytes(padded), now=0.0)
    assert meter.samples == 160
    assert round(meter.rms) == 32124


def test_meter_ignores_rtcp_events_and_junk():
    meter = rtp.AudioMeter()
    meter.feed(b"\x80\xc8" + bytes(26), now=0.0)  # RTCP SR
    meter.feed(b"junk", now=0.0)
    meter.feed(_packet(1, rtp.dtmf_payload(5, False, 160), pt=101), now=0.0)
    assert meter.packets == 0 and meter.events == 1 and meter.ignored == 2


def test_rate_is_audio_per_second_of_wall_clock():
    meter = rtp.AudioMeter()
    for i in range(25):  # 0.5 s of audio spread over 1 s
        meter.feed(_packet(i, b"\x00" * 160), now=i * 0.04)
    assert meter.rate(until=1.0) == pytest.approx(0.5)


def test_dtmf_digit_is_updates_then_three_end_packets():
    payloads = rtp.dtmf_payloads("#")
    assert len(payloads) == 5 + 3
    assert all(p[0] == 11 for p in payloads)
    assert [bool(p[1] & 0x80) for p in payloads] == [False] * 5 + [True] * 3
    assert int.from_bytes(payloads[-1][2:], "big") == 800


ANSWER = b"""v=0\r
o=- 1 1 IN IP4 192.0.2.9\r
s=-\r
c=IN IP4 192.0.2.9\r
t=0 0\r
m=audio 4000 RTP/AVP 8 0 96\r
c=IN IP4 127.0.0.5\r
a=rtpmap:96 telephone-event/8000\r
a=sendrecv\r
m=video 0 RTP/AVP 31\r
"""


def test_answer_media_address_codec_and_event_type():
    answer = rtp.parse_answer(ANSWER, (0, 8))
    assert (answer.ip, answer.port) == ("127.0.0.5", 4000)
    assert answer.codec == 8  # the answerer's preference among what we offered
    assert answer.event_pt == 96


@pytest.mark.parametrize(
    "body",
    [b"v=0\r\nc=IN IP4 1.2.3.4\r\n", b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n", b"m=audio x RTP/AVP 0"],
)
def test_unusable_answers_raise(body):
    with pytest.raises(rtp.SdpError):
        rtp.parse_answer(body, (0, 8))


def test_offer_lists_pcmu_pcma_and_telephone_event():
    offer = rtp.build_offer("127.0.0.1", 20000, (0, 8), 42).decode()
    assert "m=audio 20000 RTP/AVP 0 8 101\r\n" in offer
    assert "a=rtpmap:0 PCMU/8000" in offer and "a=rtpmap:8 PCMA/8000" in offer
    assert "a=rtpmap:101 telephone-event/8000" in offer


def _call() -> Call:
    return Call("sip:ivr@10.0.0.1", "sip:hotline@10.0.0.2", "sip:h@10.0.0.2:5062", "UDP", "x:1")


OK = (
    b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP x:1;branch=z9hG4bKa\r\n"
    b"Record-Route: <sip:p2.example;lr>, <sip:p1.example;lr>\r\n"
    b'm: "IVR, main" <sip:ivr@10.0.0.9:5080;transport=udp>;expires=60\r\n'
    b"t: <sip:ivr@10.0.0.1>;tag=abc\r\ni: c1\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n"
)


def test_confirmed_dialog_routes_loosely_through_the_record_route_reversed():
    call = _call()
    call.confirm(parse_message(OK))
    assert call.remote_tag == "abc"
    assert call.remote_target == "sip:ivr@10.0.0.9:5080;transport=udp"
    uri, routes, hop = call.next_hop()
    assert uri == "sip:ivr@10.0.0.9:5080;transport=udp"
    assert routes == ("<sip:p1.example;lr>", "<sip:p2.example;lr>")
    assert hop == "sip:p1.example;lr"
    bye = call.bye("z9hG4bKb").decode()
    assert bye.startswith("BYE sip:ivr@10.0.0.9:5080;transport=udp SIP/2.0\r\n")
    assert "Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>" in bye
    assert "To: <sip:ivr@10.0.0.1>;tag=abc" in bye and "CSeq: 2 BYE" in bye


def test_without_record_route_the_ack_goes_straight_to_the_contact():
    call = _call()
    call.confirm(parse_message(OK.replace(b"Record-Route", b"X-Ignored")))
    uri, routes, hop = call.next_hop()
    assert uri == hop == "sip:ivr@10.0.0.9:5080;transport=udp" and routes == ()
    assert call.ack().startswith(b"ACK sip:ivr@10.0.0.9:5080;transport=udp SIP/2.0\r\n")


def test_strict_route_becomes_the_request_uri():
    call = _call()
    call.confirm(parse_message(OK.replace(b";lr>, <sip:p1.example;lr>", b">")))
    uri, routes, hop = call.next_hop()
    assert uri == hop == "sip:p2.example"
    assert routes == ("<sip:ivr@10.0.0.9:5080;transport=udp>",)


def test_header_lists_split_outside_quotes_and_brackets():
    assert split_list('"a, b" <sip:x;p=1,2>;q=1, <sip:y>') == [
        '"a, b" <sip:x;p=1,2>;q=1',
        "<sip:y>",
    ]
    assert uri_of("sip:bare@h;expires=5") == "sip:bare@h"

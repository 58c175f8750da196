from __future__ import annotations

import asyncio
import contextlib

import pytest

from probes import Reason, run_probe
from probes.sipmsg import digest_authorization, parse_challenge, parse_response
from tests.peers.kamailio import PASSWORD, USERNAME
from tests.peers.net import BannerTcpServer


def uri(kamailio, user: str = "", transport: str = "udp") -> str:
    at = f"{user}@" if user else ""
    return f"sip:{at}127.0.0.1:{kamailio.port};transport={transport}"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_sip_options_answered_200_is_ok(kamailio, transport):
    result = await run_probe("sip", uri(kamailio, transport=transport), {})
    assert result.ok, result
    assert result.extra["status"] == 200
    assert result.latency_ms is not None


async def test_sip_target_without_transport_defaults_to_udp(kamailio):
    result = await run_probe("sip", f"sip:127.0.0.1:{kamailio.port}", {})
    assert result.ok, result
    assert "/udp" in result.detail


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_sip_503_is_error_response(kamailio, transport):
    result = await run_probe("sip", uri(kamailio, "busy", transport), {})
    assert result.reason is Reason.ERROR_RESPONSE
    assert result.extra["status"] == 503
    assert "503" in result.detail


async def test_sip_404_counts_as_alive_by_default(kamailio):
    result = await run_probe("sip", uri(kamailio, "gone"), {})
    assert result.ok
    assert result.extra["status"] == 404


async def test_sip_alive_codes_are_configurable(kamailio):
    result = await run_probe("sip", uri(kamailio, "gone"), {"alive_codes": "200-299"})
    assert result.reason is Reason.ERROR_RESPONSE
    result = await run_probe("sip", uri(kamailio, "busy"), {"alive_codes": "200-299, 503"})
    assert result.ok


async def test_sip_challenge_without_credentials_counts_as_alive(kamailio):
    result = await run_probe("sip", uri(kamailio, "secure"), {})
    assert result.ok
    assert result.extra["status"] == 401


@pytest.mark.parametrize("user", ["secure", "proxyauth"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_sip_digest_auth_with_right_password_is_ok(kamailio, user, transport):
    options = {"username": USERNAME, "password": PASSWORD}
    result = await run_probe("sip", uri(kamailio, user, transport), options)
    assert result.ok, result
    assert result.extra["status"] == 200


@pytest.mark.parametrize("user", ["secure", "proxyauth"])
async def test_sip_digest_auth_with_wrong_password_is_auth_failed(kamailio, user):
    options = {"username": USERNAME, "password": "wrong"}
    result = await run_probe("sip", uri(kamailio, user), options)
    assert result.reason is Reason.AUTH_FAILED
    assert "wrong" not in result.detail


async def test_sip_password_from_file(kamailio, tmp_path):
    secret = tmp_path / "sip-password"
    secret.write_text(PASSWORD + "\n")
    options = {"username": USERNAME, "password_file": str(secret)}
    result = await run_probe("sip", uri(kamailio, "secure"), options)
    assert result.ok, result


async def test_sip_no_answer_is_timeout(kamailio):
    result = await run_probe("sip", uri(kamailio, "silent"), {}, timeout=0.6)
    assert result.reason is Reason.TIMEOUT
    assert "provisional" not in result.detail


async def test_sip_provisional_only_is_timeout_saying_so(kamailio):
    result = await run_probe("sip", uri(kamailio, "slow"), {}, timeout=0.6)
    assert result.reason is Reason.TIMEOUT
    assert "provisional" in result.detail


async def test_sip_udp_is_retransmitted_until_answered(silent_udp):
    """A lost request is sent again per Timer A: a peer that answers only the 3rd copy works."""
    loop = asyncio.get_running_loop()
    seen: list[bytes] = []

    class Late(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            seen.append(data)
            if len(seen) == 3:
                self.transport.sendto(_reply_to(data, 200), addr)

    transport, _ = await loop.create_datagram_endpoint(Late, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        result = await run_probe("sip", f"sip:127.0.0.1:{port}", {"t1": "0.05"}, timeout=2)
    finally:
        transport.close()
    assert result.ok, result
    assert len(seen) == 3
    assert len({s.split(b"\r\n", 2)[1] for s in seen}) == 1  # same Via, same branch


async def test_sip_reply_with_foreign_call_id_is_unexpected_response():
    loop = asyncio.get_running_loop()

    class Liar(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            reply = _reply_to(data, 200).replace(b"Call-ID: ", b"Call-ID: other-")
            self.transport.sendto(reply, addr)

    transport, _ = await loop.create_datagram_endpoint(Liar, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        result = await run_probe("sip", f"sip:127.0.0.1:{port}", {}, timeout=1)
    finally:
        transport.close()
    assert result.reason is Reason.UNEXPECTED_RESPONSE
    assert "Call-ID" in result.detail


async def test_sip_udp_closed_port_is_refused(closed_port):
    # ICMP port unreachable comes back for UDP too (the TCP socket does not hold UDP).
    result = await run_probe("sip", f"sip:127.0.0.1:{closed_port}", {}, timeout=2)
    assert result.reason is Reason.REFUSED


async def test_sip_tcp_closed_port_is_refused(closed_port):
    result = await run_probe("sip", f"sip:127.0.0.1:{closed_port};transport=tcp", {})
    assert result.reason is Reason.REFUSED


async def test_sip_tcp_peer_speaking_http_is_unexpected_response():
    server = BannerTcpServer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").start()
    try:
        target = f"sip:127.0.0.1:{server.port};transport=tcp"
        result = await run_probe("sip", target, {}, timeout=1)
    finally:
        server.stop()
    assert result.reason is Reason.UNEXPECTED_RESPONSE


async def test_sip_many_concurrent_probes_share_the_socket_and_all_succeed(kamailio):
    results = await asyncio.gather(*(run_probe("sip", uri(kamailio), {}) for _ in range(200)))
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]


@pytest.mark.parametrize(
    ("target", "options", "named"),
    [
        ("127.0.0.1:5060", {}, "sip:"),
        ("sip:127.0.0.1:5060;transport=sctp", {}, "transport"),
        ("sip:127.0.0.1:5060", {"alive_codes": "2xx"}, "alive_codes"),
        ("sip:127.0.0.1:5060", {"username": "alice"}, "password"),
        ("sip:127.0.0.1:5060", {"t1": "fast"}, "t1"),
        ("sip:127.0.0.1:5060", {"password_file": "/nonexistent"}, "password_file"),
    ],
)
async def test_sip_bad_target_or_option_is_config_error(target, options, named):
    result = await run_probe("sip", target, options)
    assert result.reason is Reason.CONFIG_ERROR
    assert named in result.detail


def test_digest_answer_matches_rfc_2617_example():
    challenge = parse_challenge(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    value = digest_authorization(
        challenge, "GET", "/dir/index.html", "Mufasa", "Circle Of Life", "0a4f113b"
    )
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value


def test_response_parser_reads_compact_headers_and_top_via():
    response = parse_response(
        b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2\r\n"
        b"f: <sip:x@y>;tag=abc\r\ni: call-1\r\nCSeq: 7 OPTIONS\r\nl: 0\r\n\r\n"
    )
    assert (response.status, response.branch, response.from_tag) == (200, "z9hG4bK1", "abc")
    assert response.headers["call-id"] == "call-1"
    assert response.cseq == (7, "OPTIONS")


def _reply_to(request: bytes, status: int) -> bytes:
    """A minimal response echoing the request's Via, From, To, Call-ID and CSeq."""
    lines = request.split(b"\r\n")
    keep = [
        line
        for line in lines
        if line.split(b":", 1)[0] in (b"Via", b"From", b"To", b"Call-ID", b"CSeq")
    ]
    return b"\r\n".join([b"SIP/2.0 %d OK" % status, *keep, b"Content-Length: 0", b"", b""])


async def test_sips_over_tls_verifies_the_certificate(tmp_path):
    """`sips:` runs OPTIONS over TLS; an untrusted certificate is a tls_error."""
    import ssl

    from tests.peers.http import _self_signed

    cert, key = _self_signed(tmp_path, 30)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def answer(reader, writer):
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                writer.write(_reply_to(request, 200))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        trusted = await run_probe("sip", f"sips:127.0.0.1:{port}", {"ca_file": str(cert)})
        untrusted = await run_probe("sip", f"sips:127.0.0.1:{port}", {})
    finally:
        server.close()
    assert trusted.ok, trusted
    assert "/tls" in trusted.detail
    assert untrusted.reason is Reason.TLS_ERROR


async def test_sip_tcp_reconnects_when_the_kept_connection_is_closed_under_it():
    """A peer closing an idle TCP connection must not look like an outage."""
    connections = []

    async def answer_once(reader, writer):
        connections.append(writer)
        request = await reader.readuntil(b"\r\n\r\n")
        writer.write(_reply_to(request, 200))
        await writer.drain()
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            await reader.readuntil(b"\r\n\r\n")  # the next request on this connection...
        writer.close()  # ...is dropped with the connection

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = f"sip:127.0.0.1:{port};transport=tcp"
    try:
        first = await run_probe("sip", target, {}, timeout=2)
        second = await run_probe("sip", target, {}, timeout=2)
    finally:
        server.close()
    assert first.ok, first
    assert second.ok, second
    assert len(connections) == 2


async def test_sip_peer_that_never_answers_is_timeout_within_the_timeout(silent_udp):
    result = await run_probe("sip", f"sip:127.0.0.1:{silent_udp.port}", {}, timeout=0.4)
    assert result.reason is Reason.TIMEOUT
    assert "elapsed_ms" not in result.extra

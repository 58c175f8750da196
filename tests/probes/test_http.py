from __future__ import annotations

import pytest

from probes import Reason, run_probe
from tests.peers.http import PASSWORD, USERNAME, HttpServer
from tests.peers.net import BannerTcpServer


async def test_http_200_is_ok(http_server):
    result = await run_probe("http", http_server.url + "/", {})
    assert result.ok, result
    assert result.extra["status"] == 200


async def test_http_404_is_error_response(http_server):
    result = await run_probe("http", http_server.url + "/missing", {})
    assert result.reason is Reason.ERROR_RESPONSE
    assert result.extra["status"] == 404


async def test_http_503_is_error_response_unless_listed(http_server):
    result = await run_probe("http", http_server.url + "/broken", {})
    assert result.reason is Reason.ERROR_RESPONSE
    result = await run_probe("http", http_server.url + "/broken", {"status": "200-299,503"})
    assert result.ok


async def test_http_body_regex_decides(http_server):
    ok = await run_probe("http", http_server.url + "/", {"expect": r"queue RUNNING"})
    assert ok.ok, ok
    bad = await run_probe("http", http_server.url + "/", {"expect": r"queue STOPPED"})
    assert bad.reason is Reason.CHECK_FAILED


async def test_http_redirect_is_not_followed_unless_asked(http_server):
    result = await run_probe("http", http_server.url + "/redirect", {})
    assert result.reason is Reason.ERROR_RESPONSE
    assert result.extra["status"] == 302
    result = await run_probe("http", http_server.url + "/redirect", {"follow_redirects": "true"})
    assert result.ok


async def test_http_basic_auth(http_server):
    url = http_server.url + "/private"
    good = await run_probe("http", url, {"username": USERNAME, "password": PASSWORD})
    assert good.ok, good
    bad = await run_probe("http", url, {"username": USERNAME, "password": "guess"})
    assert bad.reason is Reason.AUTH_FAILED
    assert "guess" not in bad.detail


async def test_http_closed_port_is_refused(closed_port):
    result = await run_probe("http", f"http://127.0.0.1:{closed_port}/", {})
    assert result.reason is Reason.REFUSED


async def test_http_server_that_never_answers_is_timeout(silent_tcp):
    result = await run_probe("http", f"http://127.0.0.1:{silent_tcp.port}/", {}, timeout=0.5)
    assert result.reason is Reason.TIMEOUT


async def test_http_non_http_peer_is_unexpected_response():
    server = BannerTcpServer(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").start()
    try:
        result = await run_probe("http", f"http://127.0.0.1:{server.port}/", {}, timeout=1)
    finally:
        server.stop()
    assert result.reason is Reason.UNEXPECTED_RESPONSE


async def test_https_with_its_ca_is_ok_and_reports_cert_days(https_server):
    options = {"ca_file": https_server.ca_file, "cert_days": "20"}
    result = await run_probe("http", https_server.url + "/", options)
    assert result.ok, result
    assert 29 < result.extra["cert_days_left"] <= 30


async def test_https_untrusted_certificate_is_tls_error(https_server):
    result = await run_probe("http", https_server.url + "/", {})
    assert result.reason is Reason.TLS_ERROR


async def test_https_certificate_expiring_soon_is_check_failed(https_server):
    options = {"ca_file": https_server.ca_file, "cert_days": "45"}
    result = await run_probe("http", https_server.url + "/", options)
    assert result.reason is Reason.CHECK_FAILED
    assert "expires" in result.detail


async def test_https_verification_off_still_reads_cert_days():
    server = HttpServer(tls=True, cert_days=3).start()
    try:
        options = {"tls_verify": "false", "cert_days": "7"}
        result = await run_probe("http", server.url + "/", options)
    finally:
        server.stop()
    assert result.reason is Reason.CHECK_FAILED
    assert result.extra["cert_days_left"] <= 3


@pytest.mark.parametrize(
    ("target", "options", "named"),
    [
        ("ftp://127.0.0.1/", {}, "http"),
        ("http://127.0.0.1:1/", {"status": "ok"}, "status"),
        ("http://127.0.0.1:1/", {"method": "POST"}, "method"),
        ("http://127.0.0.1:1/", {"expect": "("}, "expect"),
        ("http://127.0.0.1:1/", {"username": "x"}, "password"),
        ("http://127.0.0.1:1/", {"cert_days": "-1"}, "cert_days"),
    ],
)
async def test_http_bad_target_or_option_is_config_error(target, options, named):
    result = await run_probe("http", target, options)
    assert result.reason is Reason.CONFIG_ERROR
    assert named in result.detail

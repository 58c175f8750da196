from __future__ import annotations

from probes import Reason, run_probe


async def test_tcp_connects_to_a_listening_port(silent_tcp):
    result = await run_probe("tcp", f"127.0.0.1:{silent_tcp.port}", {})
    assert result.ok, result
    assert result.latency_ms is not None and result.latency_ms >= 0


async def test_tcp_closed_port_is_refused(closed_port):
    result = await run_probe("tcp", f"127.0.0.1:{closed_port}", {})
    assert result.reason is Reason.REFUSED
    assert str(closed_port) in result.detail


async def test_tcp_expect_matches_the_banner(banner_tcp):
    result = await run_probe("tcp", f"127.0.0.1:{banner_tcp.port}", {"expect": "^SSH-2\\.0"})
    assert result.ok, result


async def test_tcp_expect_mismatch_is_check_failed(banner_tcp):
    target = f"127.0.0.1:{banner_tcp.port}"
    result = await run_probe("tcp", target, {"expect": "^HTTP/"}, timeout=0.5)
    assert result.reason is Reason.CHECK_FAILED
    assert "SSH-2.0" in result.detail


async def test_tcp_peer_that_never_answers_times_out(silent_tcp):
    result = await run_probe(
        "tcp", f"127.0.0.1:{silent_tcp.port}", {"send": "hello\\r\\n", "expect": "x"}, timeout=0.3
    )
    assert result.reason is Reason.TIMEOUT


async def test_tcp_target_without_port_is_config_error():
    result = await run_probe("tcp", "127.0.0.1", {})
    assert result.reason is Reason.CONFIG_ERROR
    assert "port" in result.detail


async def test_unknown_option_is_config_error_naming_it(silent_tcp):
    result = await run_probe("tcp", f"127.0.0.1:{silent_tcp.port}", {"expcet": "x"})
    assert result.reason is Reason.CONFIG_ERROR
    assert "expcet" in result.detail


async def test_bad_regex_is_config_error(silent_tcp):
    result = await run_probe("tcp", f"127.0.0.1:{silent_tcp.port}", {"expect": "("})
    assert result.reason is Reason.CONFIG_ERROR
    assert "expect" in result.detail


async def test_unknown_kind_is_config_error():
    result = await run_probe("gopher", "127.0.0.1:70", {})
    assert result.reason is Reason.CONFIG_ERROR
    assert "gopher" in result.detail


async def test_non_positive_timeout_is_config_error(silent_tcp):
    result = await run_probe("tcp", f"127.0.0.1:{silent_tcp.port}", {}, timeout=0)
    assert result.reason is Reason.CONFIG_ERROR


async def test_ipv6_loopback_target_is_understood():
    result = await run_probe("tcp", "[::1]", {})
    assert result.reason is Reason.CONFIG_ERROR
    assert "port" in result.detail

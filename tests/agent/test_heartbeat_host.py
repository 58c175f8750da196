"""Heartbeats ship when psutil cannot read the host (systemd's ProcSubset=pid hides /proc/stat
and /proc/meminfo; ProtectProc=invisible hides other processes): the metrics that could be read
go, `unavailable` names the others, and the log says so once per metric.

psutil is made to raise by monkeypatching: the failure being imitated is the kernel's."""

from __future__ import annotations

import logging
from pathlib import Path

import psutil
import pytest

from agent.heartbeat import HostMetrics
from tests.agent.conftest import TOKEN, TcpTarget, tcp_targets, write_config
from tests.agent.receiver import Receiver
from tests.agent.test_shipping import _running, _until


def _hide_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*_args: object, **_kw: object) -> object:
        raise PermissionError(13, "Permission denied", "/proc/stat")

    def gone(*_args: object, **_kw: object) -> object:
        raise FileNotFoundError(2, "No such file or directory", "/proc/meminfo")

    def psutil_error(*_args: object, **_kw: object) -> object:
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "cpu_percent", denied)
    monkeypatch.setattr(psutil, "virtual_memory", gone)
    monkeypatch.setattr("os.getloadavg", psutil_error)


def test_a_failing_metric_is_named_and_logged_once_then_once_when_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = HostMetrics(str(tmp_path))
    with monkeypatch.context() as patched:
        _hide_proc(patched)
        metrics.prime()  # must not raise either
        with caplog.at_level(logging.WARNING, logger="agent.heartbeat"):
            first = metrics.read()
            second = metrics.read()
    assert set(first) == {"disk_percent", "unavailable"}
    assert isinstance(first["disk_percent"], float)
    assert set(first["unavailable"]) == {"cpu_percent", "mem_percent", "load1"}
    assert first["unavailable"]["cpu_percent"].startswith("PermissionError")
    assert "/proc/meminfo" in first["unavailable"]["mem_percent"]
    assert second == first
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert sorted(r.getMessage().split()[2] for r in unavailable) == [
        "cpu_percent", "load1", "mem_percent",
    ]  # fmt: skip
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="agent.heartbeat"):
        back = metrics.read()
        metrics.read()
    assert set(back) == {"cpu_percent", "mem_percent", "disk_percent", "load1"}
    assert len([r for r in caplog.records if "available again" in r.getMessage()]) == 3


async def test_heartbeats_ship_while_psutil_cannot_read_the_host(
    tmp_path: Path,
    receiver: Receiver,
    tcp_target: TcpTarget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOTLINE_TEST_TOKEN", TOKEN)
    _hide_proc(monkeypatch)
    config = write_config(tmp_path, receiver.url, tcp_targets(("acd-1", tcp_target.port)))
    async with _running(config):
        await _until(lambda: len(receiver.heartbeats) >= 3, 10, "heartbeats")
        await _until(lambda: receiver.unique_results(), 10, "results")  # checks still ship
    with_host = [b for b in receiver.heartbeats if "host" in b]
    assert with_host, "no heartbeat carried host metrics"
    host = with_host[0]["host"]
    assert set(host["unavailable"]) == {"cpu_percent", "mem_percent", "load1"}
    assert "disk_percent" in host and "cpu_percent" not in host

"""icmp, process and file_age: the probes that look at this machine (or over ssh)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from probes import Reason, run_probe


def _icmp_allowed() -> bool:
    from probes import icmp

    try:
        sock, _ = icmp._open()
    except Exception:
        return False
    sock.close()
    return True


needs_icmp = pytest.mark.skipif(
    not _icmp_allowed(), reason="neither ping_group_range nor root allows ICMP sockets here"
)


@needs_icmp
async def test_icmp_loopback_answers():
    result = await run_probe("icmp", "127.0.0.1", {"count": "2", "interval": "0.01"})
    assert result.ok, result
    assert result.extra["received"] == 2
    assert result.latency_ms is not None


@needs_icmp
async def test_icmp_round_trip_above_limit_is_check_failed():
    result = await run_probe("icmp", "127.0.0.1", {"max_rtt_ms": "0"})
    assert result.reason is Reason.CHECK_FAILED


@pytest.mark.parametrize(
    ("target", "options", "named"),
    [
        ("::1", {}, "IPv4"),
        ("127.0.0.1", {"count": "0"}, "count"),
        ("127.0.0.1", {"count": "1", "min_replies": "2"}, "min_replies"),
    ],
)
async def test_icmp_bad_target_or_option_is_config_error(target, options, named):
    result = await run_probe("icmp", target, options)
    assert result.reason is Reason.CONFIG_ERROR
    assert named in result.detail


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(["sleep", "30"])
    yield proc
    proc.kill()
    proc.wait()


async def test_process_running_by_name_is_ok(sleeper):
    result = await run_probe("process", "sleep", {})
    assert result.ok, result
    assert result.value >= 1


async def test_process_missing_is_check_failed():
    result = await run_probe("process", "hotline-no-such-daemon", {})
    assert result.reason is Reason.CHECK_FAILED
    assert result.value == 0


async def test_process_by_cmdline_regex(sleeper):
    result = await run_probe("process", "sleeper", {"cmdline": r"^sleep 30$", "max_count": "5"})
    assert result.ok, result


async def test_process_memory_limit_is_checked():
    options = {"cmdline": "pytest", "max_memory_mb": "1"}
    result = await run_probe("process", "tests", options)
    assert result.reason is Reason.CHECK_FAILED
    assert "memory" in result.detail


async def test_system_resources_within_generous_limits_are_ok():
    options = {"max_cpu": "100.1", "sample": "0.1", "max_memory_pct": "100", "disk": "/"}
    result = await run_probe("process", "system", {**options, "max_disk_pct": "100"})
    assert result.ok, result
    assert 0 <= result.extra["disk_pct"] <= 100


async def test_system_disk_over_limit_is_check_failed():
    result = await run_probe("process", "system", {"disk": "/", "max_disk_pct": "0"})
    assert result.reason is Reason.CHECK_FAILED
    assert "disk /" in result.detail


async def test_process_bad_option_is_config_error():
    result = await run_probe("process", "system", {"disk": "/"})
    assert result.reason is Reason.CONFIG_ERROR
    assert "max_disk_pct" in result.detail


def _backup_tree(tmp_path, ages_hours):
    now = time.time()
    for name, age in ages_hours.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
        os.utime(path, (now - age * 3600, now - age * 3600))
    return tmp_path


async def test_file_age_recent_backup_is_ok(tmp_path):
    root = _backup_tree(tmp_path, {"inc/2026-11-27.tar.gz": 30, "inc/2026-11-28.tar.gz": 5})
    result = await run_probe("file_age", str(root), {"max_age_hours": "24"})
    assert result.ok, result
    assert 4.9 < result.value < 5.1
    assert result.extra["newest"].endswith("2026-11-28.tar.gz")


async def test_file_age_stale_backup_is_check_failed(tmp_path):
    root = _backup_tree(tmp_path, {"full-2026-10.tar.gz": 24 * 40, "notes.txt": 1})
    options = {"max_age_hours": str(24 * 32), "pattern": "full-*"}
    result = await run_probe("file_age", str(root), options)
    assert result.reason is Reason.CHECK_FAILED
    assert "full-2026-10" in result.detail


async def test_file_age_empty_files_do_not_count(tmp_path):
    (tmp_path / "empty.bak").write_bytes(b"")
    result = await run_probe("file_age", str(tmp_path), {"max_age_hours": "1", "min_size": "1"})
    assert result.reason is Reason.CHECK_FAILED
    assert "no file" in result.detail


async def test_file_age_missing_path_is_check_failed(tmp_path):
    result = await run_probe("file_age", str(tmp_path / "gone"), {"max_age_hours": "1"})
    assert result.reason is Reason.CHECK_FAILED


async def test_file_age_needs_max_age():
    result = await run_probe("file_age", "/tmp", {})
    assert result.reason is Reason.CONFIG_ERROR
    assert "max_age_hours" in result.detail


async def test_file_age_over_ssh(sshd, tmp_path):
    root = _backup_tree(tmp_path, {"a.bak": 50, "b.bak": 2})
    options = {
        "ssh": sshd.target,
        "known_hosts": sshd.known_hosts,
        "key": sshd.client_key,
        "max_age_hours": "24",
        "pattern": "*.bak",
    }
    result = await run_probe("file_age", str(root), options)
    assert result.ok, result
    assert result.extra["newest"].endswith("b.bak")
    stale = await run_probe("file_age", str(root), {**options, "max_age_hours": "1"})
    assert stale.reason is Reason.CHECK_FAILED


async def test_file_age_over_ssh_keeps_host_key_verification(sshd, tmp_path):
    options = {
        "ssh": sshd.target,
        "known_hosts": sshd.wrong_known_hosts,
        "key": sshd.client_key,
        "max_age_hours": "24",
    }
    result = await run_probe("file_age", str(tmp_path), options)
    assert result.reason is Reason.HOST_KEY_MISMATCH

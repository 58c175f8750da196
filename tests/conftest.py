"""Shared test plumbing.

Tests that need a real server (kamailio, snmpd, sshd, influxd) get it from a fixture that
starts it on 127.0.0.1. When the server's program is missing the test skips with the reason
locally; under CI=true a missing server is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_program(path_or_name: str, why: str) -> str:
    """Return the program's path, or skip (fail under CI) naming what is missing."""
    found = shutil.which(path_or_name) or (
        path_or_name if os.path.isabs(path_or_name) and os.access(path_or_name, os.X_OK) else None
    )
    if found:
        return found
    message = f"{path_or_name} not installed ({why}); scripts/test installs it as root"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


_SLOW_S = 60.0


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Under CI, a failure or a test over a minute is named the moment it ends, on a line of
    its own: CI keeps only the head of a long output, where the summary at the end is lost."""
    if not IN_CI:
        return
    line = None
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        where = f"{crash.path}:{crash.lineno}: " if crash else ""
        said = (crash.message if crash else report.longreprtext.strip()[-200:]).replace("\n", " | ")
        line = f"FAILED {report.nodeid} ({report.when}) {where}{said}"
    elif report.when == "call" and report.duration > _SLOW_S:
        line = f"SLOW {report.nodeid}: {report.duration:.0f} s"
    if line:
        os.write(1, f"\n{line[:300]}\n".encode(errors="replace"))

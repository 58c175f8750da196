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

"""A real small filesystem (tmpfs) a test can fill to the last byte, for disk-full faults.

`mount_small_fs(tmp_path, size)` is a context manager yielding the mount point; it needs root
(skips locally without it, fails under CI=true, as every peer does). `fill(path)` writes until
the filesystem has not one byte left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI


def _refuse(message: str) -> None:
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def mount_small_fs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's spelling: 1m, 4m) under `tmp_path`, unmounted afterwards."""
    if os.geteuid() != 0:
        _refuse("not root: mounting a small filesystem needs root; scripts/test runs as root in CI")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        _refuse(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Write `path` until the filesystem has not one byte left."""
    with open(path, "wb", buffering=0) as handle:
        for size in (1 << 16, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    handle.write(chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break

"""The collector's state directory (`state_dir`): where its local files live.

It holds the InfluxDB store's write buffer (`influx-buffer-….sqlite`), the default SQLite store
(`store.db`) and, later, other local state. Default: `$STATE_DIRECTORY` (set by systemd's
`StateDirectory=`), else `$XDG_STATE_HOME/hotline`, else `~/.local/state/hotline` — never the
working directory, so a run from a source checkout leaves nothing in it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


class StateDirError(Exception):
    """The state directory cannot be created or written; the message says why."""


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$STATE_DIRECTORY` (its first entry), else `$XDG_STATE_HOME/hotline`, else
    `~/.local/state/hotline`. Reads the environment only; creates nothing."""
    env = os.environ if env is None else env
    systemd = env.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd)
    xdg = env.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore a relative one
        return Path(xdg) / "hotline"
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".local" / "state" / "hotline"


def ensure_state_dir(path: str | Path) -> Path:
    """Create `path` (mode 0700, parents as needed) unless it exists, and check that a file can
    be created in it (by creating one: `os.access` says yes to root on a read-only mount)."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StateDirError(f"{path} is not a writable directory: {exc.strerror or exc}") from None
    return path

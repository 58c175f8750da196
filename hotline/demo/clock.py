"""Run `hotline collector` with a clock the demo can move forward: `python -m hotline.demo.clock
OFFSET_FILE collector --config …`.

The collector takes every instant from `collector.service.wall_clock`; here the module's `time`
is a stand-in whose `time_ns` adds the offset in OFFSET_FILE (milliseconds, read again whenever
the file changes). While the demo replays a past month it sets the offset so that the
collector lives through that month — incidents open, operators acknowledge and reports arrive
at their moments in it — then sets 0: from there on it is the ordinary wall clock.
"""

from __future__ import annotations

import os
import sys
import time
import types


class _Clock(types.SimpleNamespace):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path, self.offset_ns = path, 0

    def _offset(self) -> int:
        try:  # read every time: a few microseconds, and never a stale offset
            with open(self.path, encoding="ascii") as f:
                self.offset_ns = int(f.read().strip() or 0) * 1_000_000
        except (OSError, ValueError):
            pass
        return self.offset_ns

    def time_ns(self) -> int:
        return time.time_ns() + self._offset()

    def time(self) -> float:
        return self.time_ns() / 1e9

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)


def set_offset(path: str, offset_ms: int) -> None:
    """Write the offset atomically (the collector reads it on its next instant)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(str(int(offset_ms)))
    os.replace(tmp, path)


def main() -> int:
    path, argv = sys.argv[1], sys.argv[2:]
    import collector.service

    collector.service.time = _Clock(path)  # type: ignore[assignment]
    from hotline.cli import main as hotline_main

    return hotline_main(argv)


if __name__ == "__main__":
    sys.exit(main())

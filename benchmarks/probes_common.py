"""Shared plumbing for the probe benchmarks: drive a coroutine at fixed concurrency for a fixed
time and count successes per wall second and per CPU-second (utime + stime of this process).
"""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Rate:
    name: str
    ok: int
    failed: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.ok / self.cpu if self.cpu else 0.0

    def line(self, baseline: Rate | None = None) -> str:
        text = (
            f"{self.name:<44} {self.ok:>8} ok {self.failed:>5} failed "
            f"{self.per_second:>9.0f}/s {self.per_cpu_second:>9.0f}/CPU-s"
        )
        if baseline is not None and baseline is not self and baseline.per_cpu_second:
            ratio_cpu = self.per_cpu_second / baseline.per_cpu_second
            ratio_wall = self.per_second / baseline.per_second if baseline.per_second else 0
            text += f"   x{ratio_cpu:.2f} per CPU-s, x{ratio_wall:.2f} per s vs {baseline.name}"
        return text


async def drive(
    name: str,
    one: Callable[[], Awaitable[bool]],
    concurrency: int,
    duration: float,
    warmup: int = 20,
) -> Rate:
    """Run `one()` from `concurrency` workers for `duration` seconds; count True results."""
    for _ in range(warmup):
        await one()
    ok = failed = 0
    stop_at = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal ok, failed
        while time.perf_counter() < stop_at:
            if await one():
                ok += 1
            else:
                failed += 1

    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Rate(name, ok, failed, time.perf_counter() - wall0, cpu_seconds() - cpu0)


def four_digit_port() -> int:
    """A free TCP+UDP port below 10000 (Debian's sipsak 0.9.8 cuts 5-digit ports)."""
    for port in range(7060, 9999):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind(("127.0.0.1", port))
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free 4-digit port")

"""The one list of probe kinds, and `run_probe`, the one way to run any of them.

Every probe module exposes `async def probe(target, options, timeout) -> ProbeResult`.
Modules are imported on first use so that `hotline probe tcp …` does not pay for pysnmp or
asyncssh; the list itself is written out here, once.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from probes.options import OptionError
from probes.result import ProbeResult, Reason

log = logging.getLogger(__name__)

ProbeFn = Callable[[str, Mapping[str, Any], float], Awaitable[ProbeResult]]

DEFAULT_TIMEOUT = 5.0
# Extra time the outer guard grants a probe to report its own, more precise, timeout.
_GRACE = 0.25


def _lazy(module_name: str) -> ProbeFn:
    loaded: list[ProbeFn] = []

    async def probe(target: str, options: Mapping[str, Any], timeout: float) -> ProbeResult:
        if not loaded:
            loaded.append(importlib.import_module(module_name).probe)
        return await loaded[0](target, options, timeout)

    probe.__qualname__ = probe.__name__ = f"{module_name}.probe"
    return probe


PROBES: dict[str, ProbeFn] = {
    "tcp": _lazy("probes.tcp"),
    "sip": _lazy("probes.sip"),
    "snmp": _lazy("probes.snmp"),
    "ssh": _lazy("probes.ssh"),
    "http": _lazy("probes.http"),
    "icmp": _lazy("probes.icmp"),
    "process": _lazy("probes.process"),
    "file_age": _lazy("probes.file_age"),
}

# Kinds that compare with their previous run: they take the last result's `value` in the
# option `previous` (probes stay stateless; the caller keeps that value between runs).
STATEFUL_KINDS: frozenset[str] = frozenset({"snmp"})


async def run_probe(
    kind: str,
    target: str,
    options: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ProbeResult:
    """Run one probe. Never raises for a failing target; never takes much longer than `timeout`.

    An unknown kind, a bad target or a bad option gives `Reason.CONFIG_ERROR` naming it.
    """
    fn = PROBES.get(kind)
    if fn is None:
        known = ", ".join(sorted(PROBES))
        return ProbeResult(Reason.CONFIG_ERROR, f"unknown probe kind {kind!r} (known: {known})")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        detail = f"timeout must be a positive number, got {timeout!r}"
        return ProbeResult(Reason.CONFIG_ERROR, detail)
    if not math.isfinite(timeout):
        return ProbeResult(Reason.CONFIG_ERROR, "timeout must be finite")
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        return ProbeResult(Reason.CONFIG_ERROR, "options must be a mapping of name to value")
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout + _GRACE):
            return await fn(target, options, float(timeout))
    except TimeoutError:
        return ProbeResult(
            Reason.TIMEOUT,
            f"no answer within {timeout:g} s",
            extra={"elapsed_ms": round((time.perf_counter() - start) * 1000, 3)},
        )
    except OptionError as exc:
        return ProbeResult(Reason.CONFIG_ERROR, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug in a probe must not take the agent down with it
        log.exception("probe %s %s failed unexpectedly", kind, target)
        return ProbeResult(Reason.UNEXPECTED_RESPONSE, f"probe error: {type(exc).__name__}: {exc}")

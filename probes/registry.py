"""The one list of probe kinds, and `run_probe`, the one way to run any of them.

Every probe module exposes `async def probe(target, options, timeout) -> ProbeResult` and a
`SPEC` (`probes.spec.KindSpec`: its parser, default target, concurrency, file options,
`prepare`). The modules import their heavy libraries (pysnmp, asyncssh, httpx, psutil) only
when a probe runs or `prepare` is called, so `hotline probe tcp …` does not pay for them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from probes import call, file_age, http, icmp, process, sip, snmp, ssh, tcp
from probes import options as opt
from probes.options import OptionError
from probes.result import ProbeResult, Reason
from probes.spec import KindSpec, ProbeFn

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
# Extra time the outer guard grants a probe to report its own, more precise, timeout.
_GRACE = 0.25

SPECS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        tcp.SPEC,
        sip.SPEC,
        snmp.SPEC,
        ssh.SPEC,
        http.SPEC,
        icmp.SPEC,
        process.SPEC,
        file_age.SPEC,
        call.SPEC,
    )
}
PROBES: dict[str, ProbeFn] = {kind: spec.probe for kind, spec in SPECS.items()}

# Kinds that compare with their previous run: they take the last result's `value` in the
# option `previous` (probes stay stateless; the caller keeps that value between runs).
STATEFUL_KINDS: frozenset[str] = frozenset(k for k, s in SPECS.items() if s.stateful)


def check_probe(kind: str, target: str, options: Mapping[str, Any]) -> Any:
    """Parse one check as its probe will at run time; OptionError naming what is wrong.

    No network; files named by options must be readable and `NAME_env` variables set.
    """
    spec = SPECS.get(kind)
    if spec is None:
        raise OptionError(f"unknown probe kind {kind!r} (known: {', '.join(sorted(SPECS))})")
    return spec.parse(target, options)


def resolve_paths(
    kind: str, options: Mapping[str, Any], base: str | os.PathLike[str]
) -> dict[str, Any]:
    """`options` with the kind's relative file paths made absolute against `base` (the
    directory of the config file that names them)."""
    spec = SPECS.get(kind)
    if spec is None:
        return dict(options)
    return opt.resolve_paths(options, base, spec.files, spec.file_lists)


async def prepare_kinds(kinds: Iterable[str]) -> None:
    """Do each kind's one-time set-up on this event loop (imports, engines, sockets) so that
    no probe's first run spends its timeout on it. Idempotent; never raises: a kind whose
    set-up fails is logged and sets up on its first run instead."""
    for kind in sorted(set(kinds)):
        spec = SPECS.get(kind)
        if spec is None or spec.prepare is None:
            continue
        start = time.perf_counter()
        try:
            await spec.prepare()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("preparing %s probes failed (%s: %s)", kind, type(exc).__name__, exc)
            continue
        log.debug("prepared %s probes in %.0f ms", kind, (time.perf_counter() - start) * 1000)


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

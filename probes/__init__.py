"""Probes: one async function per protocol, one shape for all, one closed list of reasons.

    from probes import run_probe
    result = await run_probe("sip", "sip:10.0.0.5;transport=tcp", {"alive_codes": "200-299"})
    result.ok, result.reason, result.latency_ms, result.to_dict()

`PROBES` maps each kind to its function `probe(target, options, timeout) -> ProbeResult`;
each kind's options and reasons are documented in its module (`probes.sip`, `probes.snmp`, …).
`SPECS` holds each kind's facts (`KindSpec`): `check_probe` parses a check as the probe will
(for config validation), `resolve_paths` anchors file options to a config's directory, and
`await prepare_kinds({"snmp", …})` does the one-time set-up before the first probe is timed.
"""

from probes.options import OptionError
from probes.registry import (
    DEFAULT_TIMEOUT,
    PROBES,
    SPECS,
    STATEFUL_KINDS,
    check_probe,
    prepare_kinds,
    resolve_paths,
    run_probe,
)
from probes.result import ProbeResult, Reason
from probes.spec import KindSpec, ProbeFn

__all__ = [
    "DEFAULT_TIMEOUT",
    "PROBES",
    "SPECS",
    "STATEFUL_KINDS",
    "KindSpec",
    "OptionError",
    "ProbeFn",
    "ProbeResult",
    "Reason",
    "check_probe",
    "prepare_kinds",
    "resolve_paths",
    "run_probe",
]

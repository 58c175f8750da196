"""Probes: one async function per protocol, one shape for all, one closed list of reasons.

    from probes import run_probe
    result = await run_probe("sip", "sip:10.0.0.5;transport=tcp", {"alive_codes": "200-299"})
    result.ok, result.reason, result.latency_ms, result.to_dict()

`PROBES` maps each kind to its function `probe(target, options, timeout) -> ProbeResult`;
each kind's options and reasons are documented in its module (`probes.sip`, `probes.snmp`, …).
"""

from probes.options import OptionError
from probes.registry import DEFAULT_TIMEOUT, PROBES, STATEFUL_KINDS, ProbeFn, run_probe
from probes.result import ProbeResult, Reason

__all__ = [
    "DEFAULT_TIMEOUT",
    "PROBES",
    "STATEFUL_KINDS",
    "OptionError",
    "ProbeFn",
    "ProbeResult",
    "Reason",
    "run_probe",
]

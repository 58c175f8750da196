"""Probes: one async function per protocol, one shape for all, one closed list of reasons."""

from probes.result import ProbeResult, Reason

__all__ = ["ProbeResult", "Reason"]

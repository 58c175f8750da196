"""What every probe returns, and the closed vocabulary of why a check failed.

The same few words appear in alerts, in the collector's evidence and in the monthly report,
whatever the protocol (after Telegraf's `inputs.sip` result types).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"  # no answer within the probe's timeout
    REFUSED = "refused"  # the peer actively refused the connection (RST, ICMP port unreachable)
    UNREACHABLE = "unreachable"  # no route, network or host unreachable
    DNS_ERROR = "dns_error"  # the target's name did not resolve
    TLS_ERROR = "tls_error"  # handshake or certificate verification failed
    AUTH_FAILED = "auth_failed"  # credentials refused (SNMPv3 key, SSH key, SIP digest)
    HOST_KEY_MISMATCH = "host_key_mismatch"  # SSH host key unknown or changed
    ERROR_RESPONSE = "error_response"  # the peer answered with an error (SIP 5xx, HTTP 404)
    UNEXPECTED_RESPONSE = "unexpected_response"  # an answer that is not the protocol's
    CHECK_FAILED = "check_failed"  # the answer came but the condition did not hold
    CONFIG_ERROR = "config_error"  # the check itself is wrong: bad target or option


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one check. `ok` is True exactly when `reason` is `Reason.OK`."""

    reason: Reason
    detail: str = ""
    latency_ms: float | None = None
    value: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "reason": self.reason.value,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "detail": self.detail,
        }
        if self.value is not None:
            out["value"] = self.value
        out.update(self.extra)
        return out

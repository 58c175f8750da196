"""Mapping the exceptions sockets raise onto the closed list of reasons."""

from __future__ import annotations

import errno
import socket
import ssl

from probes.result import Reason

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def reason_for(exc: BaseException) -> Reason:
    """The reason a connection-level exception stands for."""
    if isinstance(exc, TimeoutError):
        return Reason.TIMEOUT
    if isinstance(exc, socket.gaierror):
        return Reason.DNS_ERROR
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return Reason.TLS_ERROR
    if isinstance(exc, ConnectionRefusedError):
        return Reason.REFUSED
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return Reason.UNREACHABLE
    if isinstance(exc, ConnectionError):
        return Reason.UNEXPECTED_RESPONSE  # reset or aborted mid-conversation
    return Reason.UNEXPECTED_RESPONSE


def describe(exc: BaseException) -> str:
    """A short human detail for an exception, without a traceback."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

"""Splitting `HOST[:PORT]` targets as engineers write them, IPv6 in brackets included."""

from __future__ import annotations

from probes.options import OptionError


def split_host_port(target: str, default_port: int | None = None) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, or a bare host when a default port exists."""
    target = target.strip()
    if not target:
        raise OptionError("target is empty")
    if target.startswith("["):
        host, sep, rest = target[1:].partition("]")
        if not sep:
            raise OptionError(f"target {target!r}: missing ']' after IPv6 address")
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            raise OptionError(f"target {target!r}: expected ':PORT' after ']'")
    elif target.count(":") == 1:
        host, _, port_text = target.partition(":")
    else:  # a bare name, or a bare IPv6 address without brackets (no port possible)
        host, port_text = target, None
    if not host:
        raise OptionError(f"target {target!r}: host is empty")
    if port_text is None or port_text == "":
        if default_port is None:
            raise OptionError(f"target {target!r}: port is required (HOST:PORT)")
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise OptionError(f"target {target!r}: port {port_text!r} is not in 1-65535")
    return host, int(port_text)

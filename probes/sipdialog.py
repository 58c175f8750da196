"""The SIP half of a synthetic call, without I/O: INVITE, ACK, CANCEL and BYE as bytes, whole
messages parsed (requests too: a peer may send BYE), and the dialog's route (RFC 3261 §12-§17).

`probes.sipmsg` serves the OPTIONS probe's hot path and reads only the few headers it checks;
a call needs more (Contact, Record-Route, To tag, the SDP body), so it has this parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from probes.sipmsg import SipParseError, new_branch, new_token

_COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "l": "content-length",
    "m": "contact",
    "c": "content-type",
    "k": "supported",
}
# Headers whose values may be comma-separated lists (RFC 3261 §7.3.1).
_LISTS = {"via", "route", "record-route", "contact"}


@dataclass(frozen=True, slots=True)
class Message:
    """A parsed SIP request (`method`, `uri`) or response (`status`, `phrase`)."""

    method: str | None
    uri: str | None
    status: int
    phrase: str
    headers: tuple[tuple[str, str], ...]  # (lower-case full name, value), in order
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every value of `name`, comma-separated lists split (Via, Route, Contact, …)."""
        out: list[str] = []
        for key, value in self.headers:
            if key == name:
                out.extend(split_list(value) if name in _LISTS else [value])
        return out

    @property
    def branch(self) -> str | None:
        vias = self.get_all("via")
        return param(vias[0], "branch") if vias else None

    @property
    def cseq(self) -> tuple[int, str] | None:
        parts = (self.get("cseq") or "").split()
        if len(parts) != 2 or not parts[0].isdigit():
            return None
        return int(parts[0]), parts[1].upper()

    @property
    def call_id(self) -> str | None:
        return self.get("call-id")

    @property
    def to_tag(self) -> str | None:
        return param(self.get("to") or "", "tag")


def parse_message(data: bytes) -> Message:
    """One SIP message (a datagram, or one message cut by `sipmsg.split_message`)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    text = head.decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    first = lines[0].split(" ", 2)
    if len(first) < 3:
        raise SipParseError(f"not a SIP message: {lines[0][:60]!r}")
    method = uri = None
    status, phrase = 0, ""
    if first[0] == "SIP/2.0":
        if not (first[1].isdigit() and len(first[1]) == 3):
            raise SipParseError(f"bad status line {lines[0][:60]!r}")
        status, phrase = int(first[1]), first[2]
    elif first[2] == "SIP/2.0" and first[0].isalpha():
        method, uri = first[0].upper(), first[1]
    else:
        raise SipParseError(f"not a SIP message: {lines[0][:60]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            continue
        key = name.strip().lower()
        headers.append((_COMPACT.get(key, key), value.strip()))
    length = next((v for k, v in headers if k == "content-length"), None)
    if length is not None and length.isdigit():
        body = body[: int(length)]
    return Message(method, uri, status, phrase, tuple(headers), body)


def split_list(value: str) -> list[str]:
    """Split a header value on commas outside quotes and angle brackets."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def uri_of(name_addr: str) -> str:
    """The URI of `"Name" <sip:…;uri-params>;header-params` or of a bare `sip:…;params`."""
    start = name_addr.find("<")
    if start >= 0:
        end = name_addr.find(">", start)
        return name_addr[start + 1 : end if end > 0 else None].strip()
    return name_addr.split(";", 1)[0].strip()


def param(value: str, name: str) -> str | None:
    """A `;name=value` header parameter (outside the <URI>), None if absent; '' if bare."""
    end = value.rfind(">")
    for part in value[end + 1 :].split(";")[1:]:
        key, eq, found = part.partition("=")
        if key.strip().lower() == name:
            return found.strip() if eq else ""
    return None


def uri_param(uri: str, name: str) -> str | None:
    """A `;name[=value]` parameter of a URI (before any `?headers`)."""
    for part in uri.split("?", 1)[0].split(";")[1:]:
        key, eq, found = part.partition("=")
        if key.strip().lower() == name:
            return found.strip() if eq else ""
    return None


@dataclass(slots=True)
class Call:
    """What identifies a call and its dialog, and the requests it sends.

    Filled in as the call proceeds: `remote_tag`, `remote_target` and `route` come from the
    2xx (the route set is its Record-Route, reversed, as a UAC sees it).
    """

    request_uri: str
    from_uri: str
    contact: str  # our Contact URI
    transport: str  # UDP | TCP, for Via
    sent_by: str  # HOST:PORT, for Via
    user_agent: str = "hotline-probe"
    call_id: str = field(default_factory=lambda: f"{new_token()}@hotline")
    local_tag: str = field(default_factory=lambda: new_token()[:10])
    cseq: int = 1
    remote_tag: str | None = None
    remote_target: str | None = None
    route: tuple[str, ...] = ()
    local_cseq_bye: int = 0

    def _via(self, branch: str) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by};branch={branch};rport"

    def _to(self, tag: str | None) -> str:
        return f"<{self.request_uri}>" + (f";tag={tag}" if tag else "")

    def _request(
        self,
        method: str,
        uri: str,
        branch: str,
        cseq: int,
        to_tag: str | None,
        routes: tuple[str, ...] = (),
        extra: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> bytes:
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: {self._via(branch)}",
            "Max-Forwards: 70",
            *(f"Route: {r}" for r in routes),
            f"From: <{self.from_uri}>;tag={self.local_tag}",
            f"To: {self._to(to_tag)}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
        ]
        if method in ("INVITE", "BYE"):
            lines.append(f"Contact: <{self.contact}>")
        lines.append(f"User-Agent: {self.user_agent}")
        lines.extend(f"{name}: {value}" for name, value in extra)
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def invite(
        self, branch: str, sdp: bytes, authorization: tuple[str, str] | None = None
    ) -> bytes:
        extra: list[tuple[str, str]] = [("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")]
        if authorization is not None:
            extra.append(authorization)
        return self._request(
            "INVITE",
            self.request_uri,
            branch,
            self.cseq,
            None,
            extra=tuple(extra),
            body=sdp,
            content_type="application/sdp",
        )

    def ack_failure(self, branch: str, to_tag: str | None) -> bytes:
        """The ACK of a non-2xx final response: same branch and Request-URI as the INVITE."""
        return self._request("ACK", self.request_uri, branch, self.cseq, to_tag)

    def cancel(self, branch: str) -> bytes:
        """CANCEL of the pending INVITE (RFC 3261 §9.1): its branch, Request-URI and CSeq."""
        return self._request("CANCEL", self.request_uri, branch, self.cseq, None)

    def confirm(self, response: Message) -> None:
        """Take the dialog's remote tag, target and route set from a 2xx to the INVITE."""
        self.remote_tag = response.to_tag
        contacts = response.get_all("contact")
        self.remote_target = uri_of(contacts[0]) if contacts else None
        self.route = tuple(reversed(response.get_all("record-route")))

    def next_hop(self) -> tuple[str, tuple[str, ...], str]:
        """(Request-URI, Route headers, the URI to send to) of an in-dialog request.

        Loose routing (the first route carries `lr`): the Request-URI is the remote target
        and the request goes to the first route. Strict routing: the first route is the
        Request-URI and the remote target goes last. No route set: straight to the Contact.
        """
        target = self.remote_target or self.request_uri
        if not self.route:
            return target, (), target
        first = uri_of(self.route[0])
        if uri_param(first, "lr") is not None:
            return target, self.route, first
        return first, (*self.route[1:], f"<{target}>"), first

    def ack(self) -> bytes:
        """The ACK of the 2xx: a new transaction within the dialog."""
        uri, routes, _ = self.next_hop()
        return self._request("ACK", uri, new_branch(), self.cseq, self.remote_tag, routes)

    def bye(self, branch: str, authorization: tuple[str, str] | None = None) -> bytes:
        if not self.local_cseq_bye:
            self.local_cseq_bye = self.cseq + 1
        uri, routes, _ = self.next_hop()
        extra = (authorization,) if authorization is not None else ()
        return self._request(
            "BYE", uri, branch, self.local_cseq_bye, self.remote_tag, routes, extra=extra
        )


def response_to(
    request: Message,
    status: int,
    phrase: str,
    extra: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    content_type: str | None = None,
    to_tag: str | None = None,
) -> bytes:
    """A response to a request the peer sent us (its BYE, a keep-alive OPTIONS, …)."""
    lines = [f"SIP/2.0 {status} {phrase}"]
    lines += [f"Via: {v}" for v in request.get_all("via")]
    lines.append(f"From: {request.get('from') or ''}")
    to = request.get("to") or ""
    if to_tag and param(to, "tag") is None:
        to = f"{to};tag={to_tag}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {request.call_id or ''}")
    lines.append(f"CSeq: {request.get('cseq') or ''}")
    lines.extend(f"{name}: {value}" for name, value in extra)
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

"""SIP OPTIONS requests and replies as bytes, without I/O (RFC 3261, digest per RFC 7616).

Hand-written on purpose: the Python SIP stacks on PyPI are unmaintained or full user agents,
and a probe needs only one request, the few reply headers it checks, and digest answers.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

MAGIC_COOKIE = "z9hG4bK"
_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "l": "content-length"}
_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)')
_TAG = re.compile(r";\s*tag=([^;>\s,]+)", re.IGNORECASE)
_BRANCH = re.compile(r";\s*branch=([^;\s,]+)", re.IGNORECASE)


class SipParseError(ValueError):
    """Bytes that are not a SIP response."""


@dataclass(frozen=True, slots=True)
class Dialog:
    """What identifies one probe's requests; the reply must echo it back."""

    call_id: str
    from_tag: str
    cseq: int = 1


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    phrase: str
    headers: dict[str, str]  # lower-case name -> first value (Via: the top one)
    challenges: list[str] = field(default_factory=list)  # WWW-/Proxy-Authenticate values

    @property
    def branch(self) -> str | None:
        match = _BRANCH.search(self.headers.get("via", ""))
        return match.group(1) if match else None

    @property
    def from_tag(self) -> str | None:
        match = _TAG.search(self.headers.get("from", ""))
        return match.group(1) if match else None

    @property
    def cseq(self) -> tuple[int, str] | None:
        parts = self.headers.get("cseq", "").split()
        if len(parts) != 2 or not parts[0].isdigit():
            return None
        return int(parts[0]), parts[1].upper()


def new_token() -> str:
    """A random token for branch, tag and Call-ID (uniqueness, not secrecy, is needed)."""
    return f"{random.getrandbits(64):016x}"


def new_dialog() -> Dialog:
    token = new_token()
    return Dialog(call_id=f"{token}@hotline", from_tag=token[:10])


def new_branch() -> str:
    return MAGIC_COOKIE + new_token()


def build_options(
    request_uri: str,
    transport: str,
    sent_by: str,
    branch: str,
    dialog: Dialog,
    from_uri: str,
    user_agent: str,
    authorization: tuple[str, str] | None = None,
) -> bytes:
    """An OPTIONS request. `authorization` is (header name, value) after a challenge."""
    lines = [
        f"OPTIONS {request_uri} SIP/2.0",
        f"Via: SIP/2.0/{transport.upper()} {sent_by};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <{from_uri}>;tag={dialog.from_tag}",
        f"To: <{request_uri}>",
        f"Call-ID: {dialog.call_id}",
        f"CSeq: {dialog.cseq} OPTIONS",
        "Accept: application/sdp",
        f"User-Agent: {user_agent}",
    ]
    if authorization is not None:
        lines.append(f"{authorization[0]}: {authorization[1]}")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def split_message(buffer: bytes) -> tuple[bytes, bytes] | None:
    """For stream transports: (one whole message, the rest) or None if incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head_end = end + 4
    length = 0
    for line in buffer[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            try:
                length = int(value.strip())
            except ValueError:
                raise SipParseError("bad Content-Length") from None
            break
    if len(buffer) < head_end + length:
        return None
    return buffer[: head_end + length], buffer[head_end + length :]


# Only the headers a probe checks, found by one C-level scan rather than a Python loop over
# every line (replies carry a dozen headers; this is the hot path at 10k probes per second).
_HEADER = re.compile(
    r"^(via|v|from|f|call-id|i|cseq|content-length|l|www-authenticate|proxy-authenticate"
    r"|server|user-agent)[ \t]*:[ \t]*([^\r\n]*)",
    re.IGNORECASE | re.MULTILINE,
)


def parse_response(data: bytes) -> Response:
    """The status and the headers a probe checks. Raises SipParseError for anything else."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    status_line, _, rest = head.partition("\r\n")
    first = status_line.split(" ", 2)
    if len(first) < 2 or first[0] != "SIP/2.0" or not first[1].isdigit() or len(first[1]) != 3:
        raise SipParseError(f"not a SIP response: {status_line[:60]!r}")
    headers: dict[str, str] = {}
    challenges: list[str] = []
    for match in _HEADER.finditer(rest):
        key = match.group(1).lower()
        key = _COMPACT.get(key, key)
        value = match.group(2).rstrip()
        if key in ("www-authenticate", "proxy-authenticate"):
            challenges.append(f"{key}:{value}")
        if key not in headers:
            headers[key] = value.split(",", 1)[0] if key == "via" else value
    return Response(int(first[1]), first[2] if len(first) > 2 else "", headers, challenges)


def parse_challenge(value: str) -> dict[str, str]:
    """`Digest realm="x", nonce="y", …` to a dict (lower-case keys); {} if not Digest."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {
        m.group(1).lower(): m.group(3) if m.group(3) is not None else m.group(2)
        for m in _PARAM.finditer(rest)
    }


_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def digest_authorization(
    challenge: dict[str, str],
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int = 1,
) -> str:
    """The Authorization value answering a Digest challenge (qop=auth or none)."""
    algorithm = challenge.get("algorithm", "MD5")
    base = algorithm.upper().removesuffix("-SESS")
    factory = _HASHES.get(base)
    if factory is None:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")

    def h(text: str) -> str:
        return factory(text.encode()).hexdigest()

    realm = challenge.get("realm", "")
    nonce = challenge.get("nonce", "")
    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    parts = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        f"algorithm={algorithm}",
    ]
    if "auth" in qops:
        nc_text = f"{nc:08x}"
        response = h(f"{ha1}:{nonce}:{nc_text}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={nc_text}", f'cnonce="{cnonce}"']
    elif qops:
        raise ValueError(f"unsupported digest qop {challenge['qop']!r}")
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
    parts.append(f'response="{response}"')
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)

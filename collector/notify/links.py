"""One-tap acknowledgement links: `{public_url}/ack/{token}`. Pure — stdlib hmac, no I/O.

The token carries the incident id, who acknowledges (a route's name or an operator), when it
expires and a random id, signed with HMAC-SHA256; everything is URL-safe base64. `verify`
checks the signature, the expiry and — given the ids of tokens already used, which the caller
keeps (e.g. `Outbox.used_tokens`) — that it was not used before: a link works once.

GET on a link must never change anything (WeCom, DingTalk and mail clients prefetch links):
`render_ack_page` shows the incident and a `<form method="post">` button; the POST handler
verifies again, records the acknowledgement, marks the token used and answers with
`render_ack_done`. The pages are plain UTF-8 HTML with no external resources.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import ClassVar

from collector.domain.model import Incident, Millis
from collector.notify.messages import local_time, system_name

ACK_PATH = "/ack/"
_SIG_BYTES = 16  # 128-bit truncated HMAC-SHA256


class LinkError(ValueError):
    """A token that must not acknowledge: `reason` is malformed, bad_signature, expired or
    used; the message says it in Chinese for the result page."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "malformed": "链接无效",
        "bad_signature": "链接签名不符（可能被改动）",
        "expired": "链接已过期",
        "used": "链接已使用过",
    }

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.MESSAGES.get(reason, reason))


@dataclass(frozen=True, slots=True)
class AckClaim:
    """What a valid token says: acknowledge `incident_id` as `who` (until `expires_at`)."""

    incident_id: str
    who: str
    expires_at: Millis
    token_id: str  # the random id the used-token registry keeps


class LinkSigner:
    def __init__(self, key: bytes, public_url: str | None, ttl_seconds: float = 86400.0) -> None:
        if len(key) < 16:
            raise ValueError("signing key shorter than 16 bytes")
        self._key = key
        self.public_url = public_url.rstrip("/") if public_url else None
        self.ttl_ms = int(ttl_seconds * 1000)

    def token(
        self, incident_id: str, who: str, expires_at: Millis, token_id: str | None = None
    ) -> str:
        token_id = token_id or secrets.token_urlsafe(9)
        payload = json.dumps(
            [incident_id, who, expires_at, token_id], ensure_ascii=False, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def link(self, incident_id: str, who: str, now: Millis) -> str | None:
        """The acknowledgement URL for `who`, valid from `now` for the configured lifetime;
        None when no `public_url` is configured (messages then carry no link)."""
        if self.public_url is None:
            return None
        return f"{self.public_url}{ACK_PATH}{self.token(incident_id, who, now + self.ttl_ms)}"

    def verify(self, token: str, now: Millis, used: Container[str] = ()) -> AckClaim:
        """The claim of a genuine, unexpired, unused token; else `LinkError`."""
        body, dot, sig = token.partition(".")
        if not dot or not body or not sig:
            raise LinkError("malformed")
        try:
            payload = _unb64(body)
            signature = _unb64(sig)
        except ValueError:
            raise LinkError("malformed") from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise LinkError("bad_signature")
        try:
            incident_id, who, expires_at, token_id = json.loads(payload)
        except (ValueError, TypeError):
            raise LinkError("malformed") from None
        claim = AckClaim(str(incident_id), str(who), int(expires_at), str(token_id))
        if now >= claim.expires_at:
            raise LinkError("expired")
        if claim.token_id in used:
            raise LinkError("used")
        return claim

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"hotline-ack\x00" + payload, hashlib.sha256).digest()[
            :_SIG_BYTES
        ]


# --- pages -----------------------------------------------------------------------------------


def render_ack_page(
    claim: AckClaim, incident: Incident | None, system_of: Callable[[str], str]
) -> str:
    """The GET page: the incident and a button that POSTs to the same URL. Changes nothing."""
    if incident is None:
        return _page("事件不存在", f"<p>找不到事件 {_e(claim.incident_id)}。</p>")
    rows = _incident_rows(incident, system_of)
    if incident.responded_at is not None:
        action = (
            f"<p>该事件已由 {_e(incident.responded_by or '-')} 于 "
            f"{_e(local_time(incident.responded_at))} 确认响应，无需再次确认。</p>"
        )
    else:
        action = (
            '<form method="post">'
            f"<p>以 <b>{_e(claim.who)}</b> 的身份确认响应此事件。</p>"
            '<button type="submit">确认响应</button>'
            "</form>"
            f"<p class=note>链接有效期至 {_e(local_time(claim.expires_at))}，仅可使用一次。</p>"
        )
    return _page(f"确认响应 {incident.id}", rows + action)


def render_ack_done(
    incident_id: str, *, ok: bool, who: str = "", at: Millis | None = None, error: str = ""
) -> str:
    """The page after the POST: acknowledged, or why not (a `LinkError`'s message, say)."""
    if ok:
        when = f"于 {_e(local_time(at))} " if at is not None else ""
        body = f"<p>已{when}以 <b>{_e(who)}</b> 的身份确认响应事件 {_e(incident_id)}。</p>"
        return _page(f"已确认 {incident_id}", body)
    return _page("未能确认", f"<p>事件 {_e(incident_id)} 未确认：{_e(error)}</p>")


def render_link_error(error: LinkError) -> str:
    """The page for a link that does not verify (GET or POST)."""
    return _page("链接不可用", f"<p>{_e(str(error))}。请在值班群中查看最新消息或联系管理员。</p>")


def _incident_rows(inc: Incident, system_of: Callable[[str], str]) -> str:
    systems = "、".join(sorted({system_name(system_of(c)) for c in inc.components}))
    rows = [
        ("事件", f"{inc.id}（{inc.severity}）"),
        ("系统", systems),
        ("组件", "、".join(inc.components)),
        ("发现于", local_time(inc.detected_at)),
    ]
    if inc.title:
        rows.append(("说明", inc.title))
    if inc.restored_at is not None:
        rows.append(("恢复于", local_time(inc.restored_at)))
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1.5em;max-width:36em}"
        "th{text-align:left;padding-right:1em}button{font-size:1.2em;padding:.5em 2em}"
        ".note{color:#666;font-size:.9em}</style></head>"
        f"<body><h1>{_e(title)}</h1>{body}</body></html>\n"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ValueError("not base64url") from None

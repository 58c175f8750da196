"""Instants at the edges: ISO 8601 text with an offset ⇄ epoch milliseconds (`Millis`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from collector.model import Millis

LOCAL = ZoneInfo("Asia/Shanghai")  # the hotline's zone: facts, ids and reports use it
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def parse_instant(text: object) -> Millis:
    """ISO 8601 with an offset (`Z` or `+08:00`) → epoch ms; ValueError says why not."""
    if not isinstance(text, str):
        raise ValueError("must be an ISO 8601 string with an offset")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 instant: {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"needs an offset (e.g. +08:00 or Z): {text!r}")
    return (moment - _EPOCH) // _MS


def to_datetime(ms: Millis, tz: ZoneInfo = LOCAL) -> datetime:
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz)


def format_instant(ms: Millis | None, tz: ZoneInfo = LOCAL) -> str | None:
    """Epoch ms → ISO 8601 in the hotline's zone (milliseconds shown only when not zero)."""
    if ms is None:
        return None
    moment = to_datetime(ms, tz)
    return moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


def from_datetime(moment: datetime) -> Millis:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def month_range(month: str, tz: ZoneInfo = LOCAL) -> tuple[Millis, Millis]:
    """'2026-11' → [start, end) of that calendar month in the hotline's zone."""
    try:
        year, number = (int(p) for p in month.split("-"))
        start = datetime(year, number, 1, tzinfo=tz)
    except ValueError:
        raise ValueError(f"not a month (YYYY-MM): {month!r}") from None
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return from_datetime(start), from_datetime(end)

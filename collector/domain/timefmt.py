"""Instants at the edges: ISO 8601 text with an offset ⇄ epoch milliseconds (`Millis`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from collector.domain.model import Millis

LOCAL = ZoneInfo("Asia/Shanghai")  # the hotline's zone: facts, ids and reports use it
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

# The sane range of every instant the collector takes in (results, heartbeats, windows,
# incidents, query parameters, months): the years 2000..2099 in the hotline's zone, so the
# months 2000-01..2099-12 lie exactly inside it. Outside it a value is a typo or a broken
# clock, and year 1 or 9999 would not even survive the conversion to local time.
FIRST_YEAR, LAST_YEAR = 2000, 2099
MIN_INSTANT: Millis = 946_656_000_000  # 2000-01-01T00:00:00+08:00
MAX_INSTANT: Millis = 4_102_416_000_000  # 2100-01-01T00:00:00+08:00 (excluded)


def in_range(ms: object) -> bool:
    """True for an integer instant inside [MIN_INSTANT, MAX_INSTANT)."""
    return type(ms) is int and MIN_INSTANT <= ms < MAX_INSTANT


def check_instant(ms: Millis) -> Millis:
    """`ms` itself when in the sane range; else ValueError saying so."""
    if not in_range(ms):
        raise ValueError(f"outside the years {FIRST_YEAR}..{LAST_YEAR}")
    return ms


def _show(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_instant(text: object) -> Millis:
    """ISO 8601 with an offset (`Z` or `+08:00`) → epoch ms, within the years 2000..2099;
    ValueError says why not."""
    if not isinstance(text, str):
        raise ValueError("must be an ISO 8601 string with an offset")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 instant: {_show(text)}") from None
    if moment.tzinfo is None:
        raise ValueError(f"needs an offset (e.g. +08:00 or Z): {_show(text)}")
    ms = (moment - _EPOCH) // _MS
    if not MIN_INSTANT <= ms < MAX_INSTANT:
        raise ValueError(f"{_show(text)} is outside the years {FIRST_YEAR}..{LAST_YEAR}")
    return ms


def to_datetime(ms: Millis, tz: ZoneInfo = LOCAL) -> datetime:
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz)


def format_instant(ms: Millis | None, tz: ZoneInfo = LOCAL) -> str | None:
    """Epoch ms → ISO 8601 in the hotline's zone (milliseconds shown only when not zero).
    OverflowError for an instant beyond the years datetime knows (see `in_range`)."""
    if ms is None:
        return None
    moment = to_datetime(ms, tz)
    return moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


def from_datetime(moment: datetime) -> Millis:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def month_range(month: str, tz: ZoneInfo = LOCAL) -> tuple[Millis, Millis]:
    """'2026-11' → [start, end) of that calendar month in the hotline's zone (years
    2000..2099)."""
    try:
        year, number = (int(p) for p in month.split("-"))
        start = datetime(year, number, 1, tzinfo=tz)
    except (ValueError, AttributeError):
        raise ValueError(f"not a month (YYYY-MM): {_show(month)}") from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"{_show(month)} is outside the years {FIRST_YEAR}..{LAST_YEAR}")
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return from_datetime(start), from_datetime(end)

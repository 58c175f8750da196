"""InfluxDB line protocol, written by hand (pure, no I/O).

`measurement,tag=v,tag=v field=v,field=v TIMESTAMP`, escaped as InfluxDB's own parser
(`models/points.go`) reads it, checked against influxd 1.6.7:
- measurement: `,` and space are escaped;
- tag keys, tag values and field keys: `,`, `=` and space are escaped; any other backslash is
  kept literally — but the parser skips the character after every backslash, so a backslash
  right before `,`, `=`, space or at the very end cannot be written and is rejected, as are
  newlines (a newline ends the point);
- string field values: `\\` and `"` are escaped, everything else (newlines, unicode) is
  written as is and read back unchanged.

Hand-written rather than influxdb-client's `Point`: this module is short, pure and tested
directly, while `Point` would pull influxdb-client (with urllib3 and reactivex) into the
collector only for string escaping, and builds one object per point on the hot ingest path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

FieldValue = bool | int | float | str

_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ "})
_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STRING = str.maketrans({"\\": "\\\\", '"': '\\"'})
_UNWRITABLE = re.compile(r"\\([,= ]|$)|[\n\r]")


class LineProtocolError(ValueError):
    """A value that cannot be written as line protocol; the message names it."""


def _check_key(kind: str, text: str) -> None:
    if not text:
        raise LineProtocolError(f"{kind} is empty")
    if _UNWRITABLE.search(text):
        raise LineProtocolError(
            f"{kind} {text!r} has a newline, or a backslash before ',', '=', ' ' or the end"
        )


def measurement(name: str) -> str:
    _check_key("measurement", name)
    return name.translate(_MEASUREMENT)


def key(text: str, kind: str = "tag") -> str:
    """An escaped tag key, tag value or field key."""
    _check_key(kind, text)
    return text.translate(_KEY)


def tag_set(tags: Mapping[str, str]) -> str:
    """`,k=v,k=v` sorted by key (InfluxDB's preferred order), empty values left out (line
    protocol has no empty tag values)."""
    return "".join(
        f",{key(k, 'tag key')}={key(v, 'tag value')}" for k, v in sorted(tags.items()) if v != ""
    )


def string_value(text: str) -> str:
    return '"' + text.translate(_STRING) + '"'


def field_value(value: FieldValue) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise LineProtocolError(f"float field value {value!r} is not finite")
        return repr(value)
    if isinstance(value, str):
        return string_value(value)
    raise LineProtocolError(f"unsupported field value type {type(value).__name__}")


def field_set(fields: Mapping[str, FieldValue | None]) -> str:
    """`k=v,k=v` in the given order; None values left out (a missing field reads as null)."""
    parts = [f"{key(k, 'field key')}={field_value(v)}" for k, v in fields.items() if v is not None]
    if not parts:
        raise LineProtocolError("a point needs at least one field")
    return ",".join(parts)


def line(
    name: str,
    tags: Mapping[str, str],
    fields: Mapping[str, FieldValue | None],
    ts_ns: int,
) -> str:
    """One point, without the trailing newline."""
    return f"{measurement(name)}{tag_set(tags)} {field_set(fields)} {ts_ns}"


def lines(points: Iterable[str]) -> bytes:
    """Points joined into one request body (UTF-8, newline-terminated)."""
    return "".join(p + "\n" for p in points).encode()

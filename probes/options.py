"""Reading a probe's options, which arrive as strings (`--opt k=v`) or YAML scalars.

Every helper raises `OptionError` naming the option, which the registry turns into a
`config_error` result. Secrets (`password`, `auth_key`, …) may instead come from a file
(`NAME_file=PATH`) or an environment variable (`NAME_env=VAR`), so they never sit in a config
or a command line.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class OptionError(ValueError):
    """A probe option is missing, malformed or unknown; the message names it."""


def check_known(options: Mapping[str, Any], known: set[str]) -> None:
    """Reject options the probe does not know (a typo must not silently weaken a check)."""
    unknown = sorted(set(options) - known)
    if unknown:
        raise OptionError(f"unknown option {unknown[0]!r} (known: {', '.join(sorted(known))})")


def text(options: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """A scalar as text; a YAML list of scalars (`oid: [a, b]`) as the comma-joined list."""
    value = options.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list | tuple) and all(
        isinstance(v, int | float | str) and not isinstance(v, bool) for v in value
    ):
        return ",".join(str(v) for v in value)
    raise OptionError(f"option {name!r} must be a scalar or a list of them")


def required(options: Mapping[str, Any], name: str) -> str:
    value = text(options, name)
    if value is None or value == "":
        raise OptionError(f"option {name!r} is required")
    return value


def number(
    options: Mapping[str, Any],
    name: str,
    default: float | None = None,
    minimum: float | None = None,
) -> float | None:
    value = options.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise OptionError(f"option {name!r} must be a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"option {name!r} must be a number, got {value!r}") from None
    if minimum is not None and result < minimum:
        raise OptionError(f"option {name!r} must be at least {minimum:g}, got {value!r}")
    return result


def integer(
    options: Mapping[str, Any],
    name: str,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    value = options.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise OptionError(f"option {name!r} must be an integer, got {value!r}")
    try:
        result = int(str(value), 10)
    except (TypeError, ValueError):
        raise OptionError(f"option {name!r} must be an integer, got {value!r}") from None
    if minimum is not None and result < minimum:
        raise OptionError(f"option {name!r} must be at least {minimum}, got {value!r}")
    if maximum is not None and result > maximum:
        raise OptionError(f"option {name!r} must be at most {maximum}, got {value!r}")
    return result


def codes(
    options: Mapping[str, Any], name: str, default: str, low: int = 100, high: int = 699
) -> frozenset[int]:
    """Status codes written as a list of codes and ranges: `200-299,401,407`."""
    given = text(options, name)
    return _codes(name, default if given is None or given == "" else given, low, high)


@functools.lru_cache(maxsize=1024)
def _codes(name: str, text: str, low: int, high: int) -> frozenset[int]:
    result: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        try:
            start, end = int(first), int(last if dash else first)
        except ValueError:
            raise OptionError(f"option {name!r}: {part!r} is not a code or range") from None
        if not low <= start <= end <= high:
            raise OptionError(f"option {name!r}: {part!r} is outside {low}-{high}")
        result.update(range(start, end + 1))
    if not result:
        raise OptionError(f"option {name!r} is empty")
    return frozenset(result)


def flag(options: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = options.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise OptionError(f"option {name!r} must be true or false, got {value!r}")


def secret(options: Mapping[str, Any], name: str) -> str | None:
    """A secret given inline (`name`), from a file (`name_file`) or from env (`name_env`)."""
    given = [k for k in (name, f"{name}_file", f"{name}_env") if options.get(k) not in (None, "")]
    if len(given) > 1:
        raise OptionError(f"give only one of {', '.join(repr(k) for k in given)}")
    if not given:
        return None
    key = given[0]
    if key == name:
        return required(options, name)
    if key.endswith("_file"):
        path = required(options, key)
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise OptionError(f"option {key!r}: cannot read {path}: {exc.strerror}") from None
        if not value:
            raise OptionError(f"option {key!r}: {path} is empty")
        return value
    var = required(options, key)
    value = os.environ.get(var)
    if not value:
        raise OptionError(f"option {key!r}: environment variable {var} is not set")
    return value


def secret_names(name: str) -> set[str]:
    """The three option names under which a secret may be given."""
    return {name, f"{name}_file", f"{name}_env"}


SECRET_OPTIONS = frozenset(
    {"password", "auth_key", "priv_key", "passphrase", "community", "key_passphrase"}
)


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with secret values replaced, for logs and error details."""
    return {k: ("***" if k in SECRET_OPTIONS else v) for k, v in options.items()}

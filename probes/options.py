"""Reading a probe's options, which arrive as strings (`--opt k=v`) or YAML scalars.

Every helper raises `OptionError` naming the option, which the registry turns into a
`config_error` result. Secrets (`password`, `auth_key`, …) may instead come from a file
(`NAME_file=PATH`) or an environment variable (`NAME_env=VAR`), so they never sit in a config
or a command line.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from typing import Any

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class OptionError(ValueError):
    """A probe option (or the target) is missing, malformed or unknown; the message names it.

    `option` is the option's name when one option is to blame (a config loader reports it as
    the field), None when the target or a combination of options is.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def check_known(options: Mapping[str, Any], known: set[str]) -> None:
    """Reject options the probe does not know (a typo must not silently weaken a check)."""
    unknown = sorted(set(options) - known)
    if unknown:
        known_text = ", ".join(sorted(known))
        raise OptionError(f"unknown option {unknown[0]!r} (known: {known_text})", unknown[0])


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
    raise OptionError(f"option {name!r} must be a scalar or a list of them", name)


def required(options: Mapping[str, Any], name: str) -> str:
    value = text(options, name)
    if value is None or value == "":
        raise OptionError(f"option {name!r} is required", name)
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
        raise OptionError(f"option {name!r} must be a number, got {value!r}", name)
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"option {name!r} must be a number, got {value!r}", name) from None
    if minimum is not None and result < minimum:
        raise OptionError(f"option {name!r} must be at least {minimum:g}, got {value!r}", name)
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
        raise OptionError(f"option {name!r} must be an integer, got {value!r}", name)
    try:
        result = int(str(value), 10)
    except (TypeError, ValueError):
        raise OptionError(f"option {name!r} must be an integer, got {value!r}", name) from None
    if minimum is not None and result < minimum:
        raise OptionError(f"option {name!r} must be at least {minimum}, got {value!r}", name)
    if maximum is not None and result > maximum:
        raise OptionError(f"option {name!r} must be at most {maximum}, got {value!r}", name)
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
            raise OptionError(f"option {name!r}: {part!r} is not a code or range", name) from None
        if not low <= start <= end <= high:
            raise OptionError(f"option {name!r}: {part!r} is outside {low}-{high}", name)
        result.update(range(start, end + 1))
    if not result:
        raise OptionError(f"option {name!r} is empty", name)
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
    raise OptionError(f"option {name!r} must be true or false, got {value!r}", name)


def secret(options: Mapping[str, Any], name: str) -> str | None:
    """A secret given inline (`name`), from a file (`name_file`) or from env (`name_env`)."""
    given = [k for k in (name, f"{name}_file", f"{name}_env") if options.get(k) not in (None, "")]
    if len(given) > 1:
        raise OptionError(f"give only one of {', '.join(repr(k) for k in given)}", given[1])
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
            raise OptionError(f"option {key!r}: cannot read {path}: {exc.strerror}", key) from None
        except UnicodeDecodeError:
            raise OptionError(f"option {key!r}: {path} is not UTF-8 text", key) from None
        if not value:
            raise OptionError(f"option {key!r}: {path} is empty", key)
        return value
    var = required(options, key)
    value = os.environ.get(var)
    if not value:
        raise OptionError(f"option {key!r}: environment variable {var} is not set", key)
    return value


def readable_file(options: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """A file the probe will read (`ca_file`, `known_hosts`…): it must exist and be readable."""
    path = text(options, name, default)
    if path is None or path == "":
        return None
    path = os.path.expanduser(path)
    return _readable(name, path)


def readable_files(options: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """A comma-separated list of files (`key=id_a,id_b`), each existing and readable."""
    given = text(options, name) or ""
    paths = [os.path.expanduser(p.strip()) for p in given.split(",") if p.strip()]
    return tuple(_readable(name, p) for p in paths)


def _readable(name: str, path: str) -> str:
    if not os.path.isfile(path):
        raise OptionError(f"option {name!r}: {path} is not a file", name)
    if not os.access(path, os.R_OK):
        raise OptionError(f"option {name!r}: {path} is not readable", name)
    return path


def resolve_paths(
    options: Mapping[str, Any],
    base: str | os.PathLike[str],
    files: Iterable[str] = (),
    lists: Iterable[str] = (),
) -> dict[str, Any]:
    """The options with relative file paths made absolute against `base`.

    `files` name the kind's file options, `lists` its comma-separated lists of files; every
    `*_file` option is a file too. A config file passes its own directory, so paths in it mean
    what they say wherever the agent runs; a command line leaves them to the working directory.
    """
    single, several = set(files), set(lists)
    out = dict(options)
    for key, value in options.items():
        is_file = key in single or key in several or key.endswith("_file")
        if not isinstance(value, str) or not value or not is_file:
            continue
        parts = value.split(",") if key in several else [value]
        out[key] = ",".join(
            os.path.join(base, os.path.expanduser(p.strip())) for p in parts if p.strip()
        )
    return out


def secret_names(name: str) -> set[str]:
    """The three option names under which a secret may be given."""
    return {name, f"{name}_file", f"{name}_env"}


SECRET_OPTIONS = frozenset(
    {"password", "auth_key", "priv_key", "passphrase", "community", "key_passphrase"}
)


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with secret values replaced, for logs and error details."""
    return {k: ("***" if k in SECRET_OPTIONS else v) for k, v in options.items()}

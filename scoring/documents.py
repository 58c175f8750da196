"""Reading the scorer's documents strictly: facts JSON and rules YAML, refused rather than guessed.

`json` and PyYAML both let the last of two equal keys win silently, and both fail on hostile
input with exceptions that are not parse errors (RecursionError for deep nesting, ValueError for
an integer past Python's digit limit). Here every such document raises `DocumentError` with a
message a person can act on; the caller wraps it as a facts or rules error.

YAML aliases are kept (a rules file may reuse settings with anchors and `<<:` merge keys) but
their expansion is counted before anything is built: a "billion laughs" file of a few hundred
bytes that would expand to millions of values is refused at once, as is a recursive alias.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml

# Deeper than any rules document needs (5 levels) by a wide margin, well below the interpreter's
# recursion limit. (JSON needs no such limit: the facts reader only looks at known fields, and
# `json` itself stops at the recursion limit, which is reported.)
MAX_DEPTH = 64
# Values a YAML document may expand to once its aliases are followed (the shipped rules: ~150).
MAX_YAML_VALUES = 100_000


class DocumentError(ValueError):
    """The document cannot be read; `errors` holds `where: message` lines."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def describe(value: Any) -> str:
    """A short, safe description of any value for an error message (never a huge repr)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "…"
        return repr(text)
    if isinstance(value, int | float):
        text = repr(value) if not isinstance(value, int) or abs(value) < 10**20 else ""
        return text if text and len(text) <= 24 else "a long number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def is_text(value: Any) -> bool:
    """A string that can be written out as UTF-8 (JSON allows lone surrogates like "\\ud800")."""
    if not isinstance(value, str):
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- JSON -----------------------------------------------------------------------------------


class _Twice(dict):
    """An object in which some key appeared more than once (only built when that happens)."""

    keys_twice: list[str]


def load_json(text: str | bytes, name: str) -> Any:
    """Parse JSON text; duplicate keys, deep nesting and huge numbers are errors."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError([f"{name}: not UTF-8 text (byte {exc.start})"]) from None
    twice: list[_Twice] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        marked = _Twice(obj)
        seen: set[str] = set()
        marked.keys_twice = []
        for key, _ in items:
            if key in seen:
                marked.keys_twice.append(key)
            seen.add(key)
        twice.append(marked)
        return marked

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DocumentError([f"{name}: line {exc.lineno}, column {exc.colno}: {exc.msg}"]) from None
    except RecursionError:
        raise DocumentError([f"{name}: nested too deep"]) from None
    except ValueError as exc:  # an integer past sys.get_int_max_str_digits, NaN, Infinity
        raise DocumentError([f"{name}: {_value_problem(exc)}"]) from None
    if twice:
        marked_ids = {id(m) for m in twice}
        raise DocumentError(
            [
                f"{_join(path, key)}: duplicate key (the last value would silently win)"
                for path, obj in _paths_of(data, marked_ids)
                for key in obj.keys_twice
            ]
        )
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _value_problem(exc: Exception) -> str:
    message = str(exc)
    if "digits" in message:  # sys.get_int_max_str_digits: Python refuses to read it
        return f"a number with more than {sys.get_int_max_str_digits()} digits"
    return _short(message)


def _short(message: str) -> str:
    return message if len(message) <= 120 else message[:120] + "…"


def _join(path: str, key: Any) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]" if path else f"[{key}]"
    return f"{path}.{key}" if path else str(key)


def _paths_of(data: Any, wanted: set[int]) -> list[tuple[str, Any]]:
    """(path, object) for every object in `wanted`, walking without recursion."""
    found = []
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            if id(value) in wanted:
                found.append((path, value))
            stack.extend((_join(path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((_join(path, i), v) for i, v in enumerate(value))
    found.sort(key=lambda pair: pair[0])
    return found


# --- YAML -----------------------------------------------------------------------------------

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (merge keys `<<:` may still be overridden)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    "a key must be a plain value, not a list or mapping",
                    key_node.start_mark,
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {describe(key)} (the last value would silently win)",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, name: str) -> Any:
    """Parse one YAML document; duplicate keys, alias bombs and deep nesting are errors."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, name)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DocumentError([f"{name}:{where} broken YAML: {problem}"]) from None
    except DocumentError:
        raise
    except RecursionError:
        raise DocumentError([f"{name}: nested too deep (more than {MAX_DEPTH} levels)"]) from None
    except (ValueError, OverflowError) as exc:  # a 5,000-digit integer, a date like 2026-02-31
        raise DocumentError([f"{name}: unreadable value: {_value_problem(exc)}"]) from None
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, name: str) -> None:
    """Refuse a node graph whose aliases expand past MAX_YAML_VALUES, nest past MAX_DEPTH, or
    refer to themselves. Each distinct node is visited once (aliases share nodes), so the check
    costs the size of the file, not of its expansion."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    # Iterative post-order walk: (node, children pushed?)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            on_path.discard(key)
            kids = _children(node)
            size[key] = min(MAX_YAML_VALUES + 1, 1 + sum(size[id(k)] for k in kids))
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_YAML_VALUES:
                raise DocumentError(
                    [
                        f"{name}: line {node.start_mark.line + 1}: its aliases expand to more "
                        f"than {MAX_YAML_VALUES:,} values (refused: an alias bomb?)"
                    ]
                )
            if depth[key] > MAX_DEPTH:
                raise DocumentError(
                    [
                        f"{name}: line {node.start_mark.line + 1}: nested too deep "
                        f"(more than {MAX_DEPTH} levels)"
                    ]
                )
            continue
        if key in size:
            continue
        if key in on_path:
            raise DocumentError(
                [f"{name}: line {node.start_mark.line + 1}: an alias refers to itself"]
            )
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []

"""YAML loading that remembers where every value came from, so errors can name file and line.

PyYAML's safe loader forgets node marks once it builds plain dicts and lists; this loader
builds `MarkedDict` / `MarkedList` (plain dict and list subclasses) that keep the line of each
key and item. It also refuses duplicate keys, which PyYAML silently lets the last one win.
"""

from __future__ import annotations

from typing import Any

import yaml


class MarkedDict(dict):
    """A dict that knows the 1-based line of itself and of each of its values."""

    line: int = 0
    lines: dict[Any, int]


class MarkedList(list):
    """A list that knows the 1-based line of itself and of each of its items."""

    line: int = 0
    lines: list[int]


class DuplicateKeyError(yaml.MarkedYAMLError):
    pass


# libyaml's parser when PyYAML has it: a 10,000-target config then peaks ~30 MB lower (the
# pure-Python scanner's tokens are what the allocator cannot give back), marks are the same.
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> MarkedDict:
    loader.flatten_mapping(node)  # resolves `<<:` merge keys
    out = MarkedDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise DuplicateKeyError(
                "while reading a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = value_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> MarkedList:
    out = MarkedList(loader.construct_object(item, deep=True) for item in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [item.start_mark.line + 1 for item in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load(text: str, name: str) -> Any:
    """Parse one YAML document; `yaml.YAMLError` (with file and line in its message) on error."""
    loader = _Loader(text)
    loader.name = name
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def line_of(container: Any, key: Any = None) -> int:
    """The line of `container[key]` (or of the container itself), 0 when unknown."""
    if key is None:
        return getattr(container, "line", 0)
    if isinstance(container, MarkedDict):
        return container.lines.get(key, container.line)
    if isinstance(container, MarkedList) and isinstance(key, int) and key < len(container.lines):
        return container.lines[key]
    return getattr(container, "line", 0)

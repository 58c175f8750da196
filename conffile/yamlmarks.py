"""YAML that remembers where every value came from, read safely, parsed once.

The agent's and the collector's configs are YAML written by hand, and every error must name the
file and line. PyYAML's safe loader forgets node marks once it builds plain dicts and lists, so
this loader builds `MarkedDict` / `MarkedList` (plain dict and list subclasses) that keep the
line of themselves, of each value and of each key. Before anything is built the node tree is
checked, each refusal with its line: duplicate keys (PyYAML lets the last one win; `<<:` merge
keys are not duplicates), aliases that refer to themselves, and aliases that expand to more
than `MAX_NODES` values beyond the document's own (a "billion laughs" bomb). Syntax errors and
absurd nesting become a `YamlError` too, never a traceback.

    doc = parse(text, "agent.yaml")     # YamlError(line, key, problem)
    doc.data["targets"]                 # a MarkedList
    line_of(doc.data, "targets")        # the line of that value
    key_line_of(doc.data, "targets")    # the line of its key
"""

from __future__ import annotations

from typing import Any, NamedTuple

import yaml

MAX_NODES = 200_000  # values aliases may add (a 10,000-agent list has ~50k without any alias)


class MarkedDict(dict):
    """A dict that knows the 1-based line of itself and of each of its values and keys."""

    line: int = 0
    lines: dict[Any, int]
    key_lines: dict[Any, int]


class MarkedList(list):
    """A list that knows the 1-based line of itself and of each of its items."""

    line: int = 0
    lines: list[int]


class YamlError(ValueError):
    """The text is not YAML we accept. `line` is 1-based (0 when unknown); `key` the mapping key
    it is about ("" for none); `problem` what is wrong; `broken` tells a syntax error (or
    nesting too deep) from a refusal of valid YAML (a duplicate key, an alias)."""

    def __init__(self, line: int, key: str, problem: str, *, broken: bool = False) -> None:
        self.line = line
        self.key = key
        self.problem = problem
        self.broken = broken
        super().__init__(self._text())

    def _text(self) -> str:
        if self.problem.startswith("duplicate key"):  # name the key when no one else does
            return self.problem.replace("duplicate key", f"duplicate key {self.key!r}", 1)
        return self.problem


class Parsed(NamedTuple):
    data: Any  # MarkedDict, MarkedList, a scalar, or None for an empty document
    line: int  # the line the document starts on (1 when empty)


# libyaml's parser when PyYAML has it: a 10,000-target config then peaks ~30 MB lower (the
# pure-Python scanner's tokens are what the allocator cannot give back), marks are the same.
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> MarkedDict:
    loader.flatten_mapping(node)  # resolves `<<:` merge keys; explicit keys come last and win
    out = MarkedDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = value_node.start_mark.line + 1
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> MarkedList:
    out = MarkedList(loader.construct_object(item, deep=True) for item in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [item.start_mark.line + 1 for item in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def parse(text: str, name: str = "", *, max_nodes: int = MAX_NODES) -> Parsed:
    """Check and build one YAML document (see the module's docstring); YamlError if refused."""
    loader = _Loader(text)
    loader.name = name
    try:
        root = loader.get_single_node()
        if root is None:
            return Parsed(None, 1)
        _check(root, max_nodes)
        return Parsed(loader.construct_document(root), root.start_mark.line + 1)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or str(exc)
        raise YamlError(mark.line + 1 if mark else 0, "", problem, broken=True) from None
    except yaml.YAMLError as exc:
        raise YamlError(0, "", str(exc), broken=True) from None
    except RecursionError:
        raise YamlError(0, "", "nested too deep", broken=True) from None
    finally:
        loader.dispose()


def load(text: str, name: str = "") -> Any:
    """The data of `parse(text, name)`."""
    return parse(text, name).data


def line_of(container: Any, key: Any = None) -> int:
    """The line of `container[key]` (or of the container itself), 0 when unknown."""
    if key is None:
        return getattr(container, "line", 0)
    if isinstance(container, MarkedDict):
        return container.lines.get(key, container.line)
    if isinstance(container, MarkedList) and isinstance(key, int) and 0 <= key < len(container):
        return container.lines[key]
    return getattr(container, "line", 0)


def key_line_of(container: Any, key: Any) -> int:
    """The line of `key` in a mapping (of the item for a list), else of the container."""
    key_lines = getattr(container, "key_lines", None)
    if isinstance(container, MarkedDict) and key_lines is not None and key in key_lines:
        return key_lines[key]
    return line_of(container, key)


def _check(root: yaml.Node, max_nodes: int) -> None:
    """Refuse duplicate keys, aliases that refer to themselves, and aliases that add more than
    `max_nodes` values — without expanding them (each collection is sized once)."""
    size: dict[int, int] = {}  # collections only: a scalar is one value
    visiting: set[int] = set()
    distinct = 1 if isinstance(root, yaml.ScalarNode) else 0
    first_big: yaml.Node | None = None
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            visiting.discard(key)
            children = _children(node)
            total = 1 + sum(size.get(id(c), 1) for c in children)
            distinct += 1 + sum(1 for c in children if isinstance(c, yaml.ScalarNode))
            if total > max_nodes and first_big is None:
                first_big = node
            size[key] = total
            continue
        if key in size or isinstance(node, yaml.ScalarNode):
            continue
        if key in visiting:
            raise YamlError(node.start_mark.line + 1, "", "an alias refers to itself")
        visiting.add(key)
        if isinstance(node, yaml.MappingNode):
            _no_duplicates(node)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)
    if first_big is not None and size.get(id(root), 1) - distinct > max_nodes:
        raise YamlError(
            first_big.start_mark.line + 1,
            "",
            f"aliases expand to over {max_nodes} values (a YAML alias bomb?)",
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _no_duplicates(node: yaml.MappingNode) -> None:
    first: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
            continue
        ident = (key_node.tag, key_node.value)
        line = key_node.start_mark.line + 1
        if ident in first:
            raise YamlError(
                line, str(key_node.value), f"duplicate key (first on line {first[ident]})"
            )
        first[ident] = line

"""Reading the collector's YAML config safely: duplicate keys, alias bombs, recursive aliases and
absurd nesting are refused before anything is built, each with the line it is on.

The agent has the same guard in `agent.yamlmarks`; the collector may not import `agent` (the
layout allows it `probes` and `scoring` only), so this is the collector's own copy of the idea
until a shared std-lib-plus-PyYAML package exists (issue 13).
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_NODES = 200_000  # nodes of the document with every alias expanded (a 10,000-agent list is ~50k)


class YamlError(ValueError):
    """`line` (1-based, 0 when unknown), the key path (`agents.0.name`, or "" for none) and
    what is wrong."""

    def __init__(self, line: int, key: str, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.key = key
        self.problem = problem


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document, checked (see the module's docstring)."""
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or str(exc)
            raise YamlError(mark.line + 1 if mark else 0, "", f"broken YAML: {problem}") from None
        except yaml.YAMLError as exc:
            raise YamlError(0, "", f"broken YAML: {exc}") from None
        except RecursionError:
            raise YamlError(0, "", "broken YAML: nested too deep") from None
    finally:
        loader.dispose()
    if root is not None:
        _check(root)
    return root


def construct(root: yaml.Node | None) -> Any:
    """Plain dicts, lists and scalars from a node tree `compose` returned."""
    if root is None:
        return None
    loader = _Loader("")
    try:
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or str(exc)
        raise YamlError(mark.line + 1 if mark else 0, "", f"broken YAML: {problem}") from None
    except RecursionError:
        raise YamlError(0, "", "broken YAML: nested too deep") from None
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check(root: yaml.Node) -> None:
    """Refuse duplicate keys, aliases that refer to themselves and documents whose aliases
    expand to more than MAX_NODES nodes — without expanding them (each node is sized once)."""
    size: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            visiting.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_NODES:
                raise YamlError(
                    node.start_mark.line + 1,
                    "",
                    f"aliases expand to over {MAX_NODES} values (a YAML alias bomb?)",
                )
            size[key] = total
            continue
        if key in size:
            continue
        if key in visiting:
            raise YamlError(node.start_mark.line + 1, "", "an alias refers to itself")
        visiting.add(key)
        if isinstance(node, yaml.MappingNode):
            _no_duplicates(node)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)


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

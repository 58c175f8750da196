"""One YAML reader for the agent's and the collector's configs: lines kept for every value and
key, hostile documents refused with their line, the file parsed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import AgentConfigError
from agent.config import load_config as load_agent_config
from collector.config import load_config
from conffile.yamlmarks import (
    MarkedDict,
    MarkedList,
    YamlError,
    key_line_of,
    line_of,
    load,
    parse,
)


def test_values_items_and_keys_keep_their_lines() -> None:
    doc = parse("# head\nagents:\n  - name: a1\n  - name: a2\nport: 8\n", "c.yaml")
    assert doc.line == 2
    data = doc.data
    assert isinstance(data, MarkedDict) and isinstance(data["agents"], MarkedList)
    assert key_line_of(data, "agents") == 2 and line_of(data, "agents") == 3
    assert line_of(data["agents"], 1) == 4 and line_of(data["agents"][1], "name") == 4
    assert line_of(data, "port") == key_line_of(data, "port") == 5
    assert line_of(data, "missing") == 2 and line_of(data["agents"], 7) == 3


def test_an_empty_document_is_none_on_line_one() -> None:
    assert parse("# nothing\n") == (None, 1)


def test_a_duplicate_key_names_itself_and_its_first_line() -> None:
    with pytest.raises(YamlError) as caught:
        load("a: 1\nb: 2\na: 3\n")
    assert (caught.value.line, caught.value.key, caught.value.broken) == (3, "a", False)
    assert caught.value.problem == "duplicate key (first on line 1)"
    assert str(caught.value) == "duplicate key 'a' (first on line 1)"


def test_merge_keys_are_not_duplicates_and_explicit_keys_win() -> None:
    data = load("base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  x: 3\n")
    assert data["item"] == {"x": 3, "y": 2}
    assert line_of(data["item"], "x") == 4


def test_an_alias_bomb_is_refused_without_expanding_it() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    with pytest.raises(YamlError, match="aliases expand to over 200000 values") as caught:
        load("\n".join(lines) + "\n")
    assert caught.value.line > 1 and not caught.value.broken


def test_a_large_document_without_aliases_is_not_taken_for_a_bomb() -> None:
    text = "".join(f"- {{id: c{i}, kind: tcp, target: 'h{i}:80'}}\n" for i in range(40_000))
    assert len(load(text)) == 40_000  # 280,001 values, none of them from an alias


def test_a_recursive_alias_and_broken_syntax_say_so_with_a_line() -> None:
    with pytest.raises(YamlError, match="an alias refers to itself"):
        load("a: &a\n  b: *a\n")
    with pytest.raises(YamlError) as caught:
        load("a: 1\nb: [\n")
    assert caught.value.broken and caught.value.line >= 2
    with pytest.raises(YamlError) as caught:  # libyaml's depth limit, or ours
        load("[" * 100_000 + "]" * 100_000)
    assert caught.value.broken


AGENT = "agent: a1\ncollector: {url: 'http://127.0.0.1:1', token_env: T}\ntargets: []\n"


def test_the_agent_refuses_an_alias_bomb_naming_file_and_line(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "agent.yaml"
    path.write_text(AGENT + "\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AgentConfigError) as caught:
        load_agent_config(path)
    assert any(
        e.startswith(f"{path}:") and "invalid YAML: aliases expand to over" in e
        for e in caught.value.errors
    ), caught.value.errors


def test_the_collector_reads_its_file_once_and_remembers_its_key_lines(tmp_path: Path) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text("# c\nlisten: 127.0.0.1:9\nstore:\n  sqlite:///x.db\n", encoding="utf-8")
    config = load_config(path)
    path.unlink()  # the lines the CLI names come from the one parse
    assert config.key_line("listen") == 2 and config.key_line("store") == 3
    assert config.key_line("tls_key_file") == 1

"""One reader for every secret file: the token files of the agent, the collector and the
operator's commands, and the InfluxDB token and password files — and the words each caller
wraps around its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.client.http import ClientError, read_token
from collector.config import CollectorConfigError, load_config
from collector.store.base import StoreError
from collector.store.influx.client import parse_url
from conffile import SecretFileError, read_secret


def test_a_secret_is_the_file_stripped_of_its_surrounding_whitespace(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("  s3cret \n\n", encoding="utf-8")
    assert read_secret(tmp_path / "t") == "s3cret"


def test_an_empty_or_blank_file_is_refused_as_empty(tmp_path: Path) -> None:
    (tmp_path / "t").write_text(" \n", encoding="utf-8")
    with pytest.raises(SecretFileError) as caught:
        read_secret(tmp_path / "t")
    assert caught.value.empty and caught.value.reason == "empty"
    assert str(caught.value) == f"{tmp_path / 't'}: empty"


def test_a_missing_file_is_refused_with_the_systems_reason(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError) as caught:
        read_secret(tmp_path / "missing")
    assert not caught.value.empty and caught.value.reason == "No such file or directory"


def test_a_file_that_is_not_utf8_is_refused_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "t").write_bytes(b"\xff\xfe")
    with pytest.raises(SecretFileError, match="not UTF-8 text"):
        read_secret(tmp_path / "t")


def test_the_agent_names_its_config_key_for_a_missing_or_empty_token_file(
    tmp_path: Path,
) -> None:
    from agent.config import AgentConfigError
    from agent.config import load_config as load_agent_config

    (tmp_path / "agent.yaml").write_text(
        "agent: a1\ncollector: {url: 'http://127.0.0.1:1', token_file: agent.token}\ntargets: []\n",
        encoding="utf-8",
    )
    config = load_agent_config(tmp_path / "agent.yaml")
    with pytest.raises(AgentConfigError) as caught:
        config.read_token()
    assert caught.value.errors == [
        f"collector.token_file: cannot read {tmp_path / 'agent.token'}: No such file or directory"
    ]
    (tmp_path / "agent.token").write_text("\n", encoding="utf-8")
    with pytest.raises(AgentConfigError) as caught:
        config.read_token()
    assert caught.value.errors == [f"collector.token_file: {tmp_path / 'agent.token'} is empty"]
    (tmp_path / "agent.token").write_text("tok\n", encoding="utf-8")
    assert config.read_token() == "tok"


def test_the_collector_names_file_line_and_key_for_an_empty_token_file(tmp_path: Path) -> None:
    (tmp_path / "a1.token").write_text("\n", encoding="utf-8")
    path = tmp_path / "collector.yaml"
    path.write_text("agents:\n  - {name: a1, token_file: a1.token}\n", encoding="utf-8")
    with pytest.raises(CollectorConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (f"{path}:2: agents.0.token_file: {tmp_path / 'a1.token'} is empty")


def test_the_operators_token_file_errors_say_where_the_path_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOTLINE_TOKEN", raising=False)
    (tmp_path / "ops.token").write_text("\n", encoding="utf-8")
    monkeypatch.setenv("HOTLINE_TOKEN_FILE", str(tmp_path / "ops.token"))
    with pytest.raises(ClientError, match=r"^HOTLINE_TOKEN_FILE .*ops\.token: empty$") as caught:
        read_token(None)
    assert caught.value.usage
    with pytest.raises(ClientError, match=r"^--token-file .*missing: No such file or directory$"):
        read_token(str(tmp_path / "missing"))
    (tmp_path / "ops.token").write_text("ops-tok\n", encoding="utf-8")
    assert read_token(None) == "ops-tok"


def test_an_empty_influxdb_token_file_is_refused_not_sent_as_an_empty_token(
    tmp_path: Path,
) -> None:
    (tmp_path / "tok").write_text("\n", encoding="utf-8")
    with pytest.raises(StoreError, match=r"InfluxDB token file .*tok is empty"):
        parse_url(f"influxdb://h/x?token_file={tmp_path / 'tok'}", env={})

"""The `alerts:` block: the SPEC's format parses; every mistake names its field."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from collector.notify.config import (
    AlertsConfigError,
    mask_url,
    parse_alerts,
    signing_key,
)

SPEC_EXAMPLE = {
    "public_url": "https://collector.example:8443",
    "routes": [
        {
            "name": "platform",
            "urls": ["wecombot://KEY", "mailto://user:pw@mail.example.cn?to=a@example.cn"],
            "systems": ["acd", "ivr", "callsys"],
            "escalate_to": "manager",
        },
        {"name": "manager", "urls": ["dingtalk://TOKEN"]},
    ],
}


def test_spec_example_parses_with_defaults() -> None:
    cfg = parse_alerts(SPEC_EXAMPLE)
    assert cfg is not None
    assert [r.name for r in cfg.routes] == ["platform", "manager"]
    assert cfg.route("platform").systems == {"acd", "ivr", "callsys"}
    assert cfg.route("platform").escalate_to == "manager"
    assert cfg.route("manager").systems is None
    assert cfg.public_url == "https://collector.example:8443"
    assert cfg.signing_key_file is None and cfg.remind_every > 0


def test_absent_block_means_no_alerts() -> None:
    assert parse_alerts(None) is None


def _error(data: object, **kw: object) -> AlertsConfigError:
    with pytest.raises(AlertsConfigError) as info:
        parse_alerts(data, **kw)  # type: ignore[arg-type]
    return info.value


def test_escalate_to_naming_no_route_names_the_field() -> None:
    data = {
        "routes": [
            {"name": "a", "urls": ["json://127.0.0.1/x"]},
            {"name": "b", "urls": ["json://127.0.0.1/y"], "escalate_to": "boss"},
        ]
    }
    err = _error(data)
    assert err.field == "alerts.routes[1].escalate_to"
    assert err.path == ("alerts", "routes", 1, "escalate_to")
    assert "boss" in str(err)


def test_unknown_apprise_scheme_names_the_url_and_hides_its_secret() -> None:
    data = {"routes": [{"name": "a", "urls": ["json://127.0.0.1/x", "nosuch://SECRETKEY"]}]}
    err = _error(data)
    assert err.field == "alerts.routes[0].urls[1]"
    assert "SECRETKEY" not in str(err) and "nosuch://***" in str(err)


def test_unknown_keys_and_wrong_types_name_the_field() -> None:
    assert _error({"routes": [], "remind": 5}).field == "alerts.remind"
    route = {"name": "a", "urls": ["json://127.0.0.1/x"], "sytems": ["acd"]}
    assert _error({"routes": [route]}).field == "alerts.routes[0].sytems"
    assert _error({"routes": "platform"}).field == "alerts.routes"
    assert _error({"routes": [], "link_ttl": "1d"}).field == "alerts.link_ttl"
    bad_system = {"name": "a", "urls": ["json://127.0.0.1/x"], "systems": ["acd", "pbx"]}
    assert _error({"routes": [bad_system]}).field == "alerts.routes[0].systems[1]"
    assert _error({"routes": [{"urls": ["json://x"]}]}).field == "alerts.routes[0].name"
    assert _error({"routes": [{"name": "a"}]}).field == "alerts.routes[0].urls"
    assert _error({"public_url": "ftp://x", "routes": []}).field == "alerts.public_url"
    twice = {"name": "a", "urls": ["json://127.0.0.1/x"]}
    assert _error({"routes": [twice, twice]}).field == "alerts.routes[1].name"


def test_urls_file_one_url_a_line_with_comments(tmp_path: Path) -> None:
    (tmp_path / "hooks.txt").write_text(
        "# platform on-call\nwecombot://KEY1\n\njson://127.0.0.1/x\n"
    )
    cfg = parse_alerts({"routes": [{"name": "a", "urls_file": "hooks.txt"}]}, base_dir=tmp_path)
    assert cfg is not None and cfg.routes[0].urls == ("wecombot://KEY1", "json://127.0.0.1/x")
    (tmp_path / "bad.txt").write_text("# x\nwecombot://KEY1\nbogus://KEY2\n")
    err = _error({"routes": [{"name": "a", "urls_file": "bad.txt"}]}, base_dir=tmp_path)
    assert err.field == "alerts.routes[0].urls_file (line 3)"
    assert err.path[:4] == ("alerts", "routes", 0, "urls_file")
    assert "KEY2" not in str(err)


def test_masked_urls_keep_no_secret() -> None:
    assert mask_url("wecombot://abcdef123456") == "wecombot://***"
    assert mask_url("json://u:pw@127.0.0.1:8080/hook?token=t") == "json://127.0.0.1:8080/***"
    assert "pw" not in mask_url("mailto://user:pw@smtp.example.cn:25?to=a@b.cn")
    cfg = parse_alerts(SPEC_EXAMPLE)
    assert cfg is not None and "KEY" not in repr(cfg.routes[0])


def test_signing_key_generated_once_in_the_state_dir_mode_0600(tmp_path: Path) -> None:
    cfg = parse_alerts({"routes": []})
    assert cfg is not None
    key = signing_key(cfg, tmp_path)
    path = tmp_path / "alerts-signing.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert signing_key(cfg, tmp_path) == key and len(key) >= 32


def test_configured_signing_key_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "k").write_bytes(b"0123456789abcdef-configured\n")
    cfg = parse_alerts({"routes": [], "signing_key_file": "k"}, base_dir=tmp_path)
    assert (
        cfg is not None and signing_key(cfg, tmp_path / "state") == b"0123456789abcdef-configured"
    )
    (tmp_path / "short").write_bytes(b"short")
    cfg = parse_alerts({"routes": [], "signing_key_file": "short"}, base_dir=tmp_path)
    assert cfg is not None
    with pytest.raises(AlertsConfigError) as info:
        signing_key(cfg, tmp_path)
    assert info.value.field == "alerts.signing_key_file"

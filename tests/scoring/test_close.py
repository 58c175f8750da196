"""`hotline score --close DIR`: a month frozen so its figures can be shown unchanged later."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.scoring.helpers import at, comps, facts, incident, outage
from tests.scoring.months import december_running, november

FILES = {
    "facts.json",
    "rules.yaml",
    "report.json",
    "report.html",
    "report.xlsx",
    "report.pdf",
    "SHA256SUMS",
}


@pytest.fixture(autouse=True)
def _weasyprint():
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # the package, or Pango underneath it
        message = f"WeasyPrint cannot load ({exc}); scripts/test installs it"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def hotline(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hotline", "score", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _facts_file(tmp_path: Path, data: dict, name: str = "facts.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def test_a_closed_month_holds_every_file_and_verifies_with_sha256sum(tmp_path):
    closed = tmp_path / "2026-11"
    done = hotline("--facts", str(_facts_file(tmp_path, november())), "--close", str(closed))
    assert done.returncode == 0, done.stderr
    assert {p.name for p in closed.iterdir()} == FILES
    listed = {}
    for line in (closed / "SHA256SUMS").read_text("utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == FILES - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256((closed / name).read_bytes()).hexdigest() == digest
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=closed, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
    assert (closed / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_scoring_the_frozen_facts_with_the_frozen_rules_reproduces_the_frozen_report(tmp_path):
    data = november()
    del data["as_of"]  # scored as of --as-of: the frozen facts must carry the instant used
    closed = tmp_path / "closed"
    path = _facts_file(tmp_path, data)
    done = hotline("--facts", str(path), "--as-of", at(6, 9, month=12), "--close", str(closed))
    assert done.returncode == 0, done.stderr
    frozen = json.loads((closed / "facts.json").read_text("utf-8"))
    assert frozen["as_of"] == "2026-12-06T09:00:00+08:00"
    again = hotline("--facts", str(closed / "facts.json"), "--rules", str(closed / "rules.yaml"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.encode("utf-8") == (closed / "report.json").read_bytes()


def test_closing_the_same_facts_twice_gives_byte_identical_json(tmp_path):
    path = _facts_file(tmp_path, november())
    for name in ("a", "b"):
        done = hotline("--facts", str(path), "--close", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    for name in ("report.json", "facts.json", "rules.yaml", "report.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_an_existing_directory_is_refused(tmp_path):
    path = _facts_file(tmp_path, november())
    existing = tmp_path / "exists"
    existing.mkdir()
    done = hotline("--facts", str(path), "--close", str(existing))
    assert done.returncode == 3
    assert "exists" in done.stderr
    assert list(existing.iterdir()) == []


def test_a_month_still_running_asks_for_force(tmp_path):
    path = _facts_file(tmp_path, december_running())
    closed = tmp_path / "2026-12"
    done = hotline("--facts", str(path), "--close", str(closed))
    assert done.returncode == 3
    assert "still running" in done.stderr and "--force" in done.stderr
    assert "INC-12-2" in done.stderr  # pending items are named too
    assert not closed.exists()
    forced = hotline("--facts", str(path), "--close", str(closed), "--force")
    assert forced.returncode == 0, forced.stderr
    assert {p.name for p in closed.iterdir()} == FILES


def test_pending_items_ask_for_force_after_the_month_ended(tmp_path):
    # Restored on Monday 30 November: the written report is due by 3 December, not yet missing.
    data = facts(
        comps("acd-1:acd"),
        [outage("acd-1", at(30, 14), at(30, 15))],
        incidents=[incident("INC-9", at(30, 14, 1), at(30, 14, 5), at(30, 15))],
        as_of=at(1, 9, month=12),
    )
    done = hotline("--facts", str(_facts_file(tmp_path, data)), "--close", str(tmp_path / "c"))
    assert done.returncode == 3
    assert "INC-9" in done.stderr and "written report due 2026-12-03T00:00:00+08:00" in done.stderr
    assert "still running" not in done.stderr


def test_calendar_overrides_are_frozen_beside_the_rules(tmp_path):
    calendar = tmp_path / "2099.yaml"
    calendar.write_text("year: 2099\nsource: test\nholidays: []\nworkdays: []\n", "utf-8")
    month = "2099-03"
    data = facts(
        comps("acd-1:acd"),
        [outage("acd-1", "2099-03-02T10:00:00+08:00", "2099-03-02T11:00:00+08:00")],
        incidents=[
            incident(
                "INC-99",
                "2099-03-02T10:01:00+08:00",
                "2099-03-02T10:05:00+08:00",
                "2099-03-02T11:00:00+08:00",
                "2099-03-03T09:00:00+08:00",
            )
        ],
        as_of="2099-04-10T00:00:00+08:00",
        month=month,
    )
    closed = tmp_path / "closed"
    path = _facts_file(tmp_path, data)
    done = hotline("--facts", str(path), "--calendar", str(calendar), "--close", str(closed))
    assert done.returncode == 0, done.stderr
    assert (closed / "calendar-1.yaml").read_bytes() == calendar.read_bytes()
    report = json.loads((closed / "report.json").read_text("utf-8"))
    assert not [f for f in report["flags"] if f["type"] == "calendar_unknown"]
    again = hotline("--facts", str(closed / "facts.json"), "--rules", str(closed / "rules.yaml"))
    assert again.stdout.encode("utf-8") == (closed / "report.json").read_bytes()

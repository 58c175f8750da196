"""Month close: the facts, the rules and every report format frozen in one directory.

`hotline score … --close DIR` writes `facts.json` (with the `as_of` the score used, so it
scores the same forever), `rules.yaml` (and the calendar override files it names), the report
as `report.json`, `report.html`, `report.xlsx`, `report.pdf`, and `SHA256SUMS` over every
other file, so `sha256sum -c SHA256SUMS` in DIR shows the figures handed over are unchanged.

What may be closed is decided here without I/O (`blockers`); writing is `write_closed`, which
builds the directory beside DIR and renames it into place, so a failed close leaves nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from scoring.documents import load_yaml
from scoring.facts import Facts
from scoring.present import instant
from scoring.rules import DEFAULT_RULES, Rules, RulesError, shipped_rules

SUMS = "SHA256SUMS"
_PENDING = {
    "incident_pending": "incident {incident}: response or restoration not yet due",
    "incident_unrestored": "incident {incident}: not restored yet",
    "report_pending": "incident {incident}: written report due {deadline}, not submitted yet",
}


def blockers(facts: Facts, report: dict[str, Any], rules: Rules) -> list[str]:
    """Why the month should not be closed yet: still running, or items still pending."""
    reasons = []
    if facts.as_of < facts.month_end:
        reasons.append(
            f"the month {facts.month} is still running: as_of {instant(facts.as_of, rules)} "
            f"is before its end {instant(facts.month_end, rules)}"
        )
    for flag in report["flags"]:
        template = _PENDING.get(flag["type"])
        if template:
            values = dict(flag)
            if values.get("deadline"):
                values["deadline"] = instant(values["deadline"], rules)
            reasons.append(template.format(**values))
    return reasons


def frozen_facts(data: dict[str, Any], report: dict[str, Any]) -> bytes:
    """The facts as scored, with the `as_of` used written in (a missing one meant 'now')."""
    frozen = {**data, "as_of": report["as_of"]}
    return (json.dumps(frozen, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def frozen_rules(rules_path: str | None, calendar_files: tuple[str, ...]) -> dict[str, bytes]:
    """`rules.yaml` as given (the built-in file when none was) and the calendar overrides it
    and `--calendar` name, copied beside it as `calendar-N.yaml` and named relative to it."""
    builtin = (
        None
        if rules_path is not None and Path(rules_path).exists()
        else shipped_rules(rules_path or DEFAULT_RULES)
    )
    if builtin is not None:  # no rules given, or a shipped set's name (changsha-12345-full)
        text = builtin.encode("utf-8")
        base = None
    else:
        assert rules_path is not None  # the default rules are always shipped
        text = Path(rules_path).read_bytes()
        base = Path(rules_path).parent
    data = load_yaml(text.decode("utf-8"), rules_path or DEFAULT_RULES)
    calendar = (data.get("calendar") or {}) if isinstance(data, dict) else {}
    overrides = [
        (base / p if base is not None else Path(p)) for p in calendar.get("overrides") or []
    ] + [Path(p) for p in calendar_files]
    if not overrides:
        return {"rules.yaml": text}
    files: dict[str, bytes] = {}
    names = []
    for n, path in enumerate(overrides, 1):
        try:
            files[f"calendar-{n}.yaml"] = path.read_bytes()
        except OSError as exc:
            raise RulesError([f"{path}: cannot read ({exc.strerror})"]) from None
        names.append(f"calendar-{n}.yaml")
    data["calendar"] = {**calendar, "overrides": names}
    files["rules.yaml"] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode("utf-8")
    return files


def sha256sums(files: dict[str, bytes]) -> bytes:
    lines = [
        f"{hashlib.sha256(content).hexdigest()}  {name}\n"
        for name, content in sorted(files.items())
    ]
    return "".join(lines).encode("utf-8")


def write_closed(directory: Path, files: dict[str, bytes]) -> None:
    """Write the files and their SHA256SUMS into `directory`, which must not exist yet."""
    if directory.exists() or directory.is_symlink():
        raise FileExistsError(str(directory))
    staging = directory.parent / f".{directory.name}.closing-{os.getpid()}"
    staging.mkdir(parents=False)
    try:
        for name, content in {**files, SUMS: sha256sums(files)}.items():
            (staging / name).write_bytes(content)
        if directory.exists():
            raise FileExistsError(str(directory))
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

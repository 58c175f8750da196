"""`hotline score --monthly FILE.csv|FILE.xlsx`: the month's figures from a spreadsheet.

One row per figure or event count, under a header row naming the columns (English or Chinese):

    item,kind,value,note                     指标,类别,数值,备注
    call_answer_rate,,96.2%,话务系统月报
    average_handling_time,,312,
    public_opinion,municipal_media,1,晚报 11-12
    public_opinion,leadership_instruction,2,视情节轻重：2分

`item` is an item key or its Chinese name (月均呼叫接通率); `kind` an event kind (key or name),
needed only when the item has several; `value` a threshold item's figure (0.962, "96.2%", 312
seconds), an event kind's count of occurrences, or — for a kind the center grades within a range
(视情节轻重) — that occurrence's deduction, one row each. Counts of one kind add up over rows;
a threshold item takes one row. `note` and a `name`/`名称` column are free text. A row whose
cells are all empty is skipped. The first sheet of an XLSX workbook is read (openpyxl, cached
values: a formula Excel never calculated reads as empty).

The rows become the facts' `monthly` entries (`scoring.monthly`), checked against the rules:
every bad row is reported with its row number and column (`m.csv: row 4: value: not a number`),
all of them, and nothing is merged unless every row is good. An item already in the facts'
`monthly` is an error too: a figure is given in one place.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

from scoring.documents import describe
from scoring.facts import FactsError
from scoring.monthly import monthly_items, monthly_kinds, occurrences, threshold_value
from scoring.rules import ItemRule, Rules
from scoring.values import Errors, exact_number

COLUMNS = {
    "item": "item",
    "指标": "item",
    "kind": "kind",
    "类别": "kind",
    "value": "value",
    "数值": "value",
    "note": "note",
    "备注": "note",
    "name": "name",
    "名称": "name",
}
MAX_ROWS = 10_000
_NAMES = "item, kind, value, note, name; or 指标, 类别, 数值, 备注, 名称"


def read_monthly_file(path: str | Path, rules: Rules) -> dict[str, Any]:
    """The file's rows as the facts' `monthly` mapping; FactsError naming every bad row."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    else:
        raise FactsError([f"--monthly {path}: expected a .csv or .xlsx file"])
    return monthly_from_rows(rows, rules, str(path))


def merge_monthly(data: Any, monthly: dict[str, Any], source: str) -> Any:
    """The facts with the imported entries added under `monthly` (never overwriting one)."""
    if not isinstance(data, dict) or not monthly:
        return data
    given = data.get("monthly")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        return data  # parse_facts reports the facts' own `monthly` as it is
    clashes = sorted(set(given) & set(monthly))
    if clashes:
        raise FactsError(
            [
                f"{source}: {key}: also in the facts' monthly; give it in one place"
                for key in clashes
            ]
        )
    return {**data, "monthly": {**given, **monthly}}


def monthly_from_rows(rows: list[tuple[int, list[Any]]], rules: Rules, name: str) -> dict[str, Any]:
    """`rows`: (row number, cells), the header first. Pure: the CSV and XLSX readers share it."""
    errors = Errors()
    rows = [(n, cells) for n, cells in rows if any(_blank(c) is not None for c in cells)]
    if not rows:
        raise FactsError([f"{name}: no header row (item, value, …)"])
    header_row, header = rows[0]
    columns: dict[str, int] = {}
    for i, cell in enumerate(header):
        label = _blank(cell)
        if label is None:
            continue
        column = COLUMNS.get(str(label).strip().lower())
        if column is None or column in columns:
            why = "a second" if column else "unknown column"
            errors.add(
                f"{name}: row {header_row}: column {i + 1}",
                f"{why} {describe(label)} (columns: {_NAMES})",
            )
            continue
        columns[column] = i
    for needed in ("item", "value"):
        if needed not in columns:
            errors.add(f"{name}: row {header_row}", f"no {needed!r} column")
    errors.raise_if_any(FactsError)
    if len(rows) > MAX_ROWS + 1:
        raise FactsError([f"{name}: more than {MAX_ROWS} rows"])

    items = monthly_items(rules)
    by_name = {item.name: item for item in items.values()}
    out: dict[str, dict[str, Any]] = {}
    seen_threshold: dict[str, int] = {}
    notes: dict[str, list[str]] = {}
    for number, cells in rows[1:]:

        def cell(column: str, cells: list[Any] = cells) -> Any:
            i = columns.get(column)
            return _blank(cells[i]) if i is not None and i < len(cells) else None

        where = f"{name}: row {number}"
        item_text = cell("item")
        item = (
            items.get(str(item_text).strip()) or by_name.get(str(item_text).strip())
            if item_text is not None
            else None
        )
        if item is None:
            errors.add(
                f"{where}: item",
                "required"
                if item_text is None
                else f"not a monthly item of the rules {rules.id!r} ({describe(item_text)})",
            )
            continue
        value = cell("value")
        note = cell("note")
        if item.measure == "threshold":
            if cell("kind") is not None:
                errors.add(f"{where}: kind", f"{item.key} has no kinds of events: leave it empty")
                continue
            if item.key in seen_threshold:
                errors.add(
                    f"{where}: item", f"{item.key} already given in row {seen_threshold[item.key]}"
                )
                continue
            if threshold_value(item, value, f"{where}: value", errors) is None:
                continue
            seen_threshold[item.key] = number
            out[item.key] = {"value": value}
        else:
            kind = _kind(item, cell("kind"), f"{where}: kind", errors)
            if kind is None:
                continue
            entry = out.setdefault(item.key, {"events": {}})["events"]
            if kind.points_range is not None:
                low, high = kind.points_range
                try:
                    points = exact_number(value) if value is not None else None
                except ValueError as exc:
                    errors.add(f"{where}: value", str(exc))
                    continue
                if points is None or not low <= points <= high:
                    errors.add(
                        f"{where}: value",
                        f"this occurrence's deduction, from {float(low):g} to {float(high):g}, "
                        f"not {describe(value)}",
                    )
                    continue
                entry.setdefault(kind.key, []).append(value)
            else:
                count = occurrences(value, f"{where}: value", errors)
                if count is None:
                    continue
                entry[kind.key] = entry.get(kind.key, 0) + count
        if note is not None:
            notes.setdefault(item.key, []).append(str(note).strip())
    errors.raise_if_any(FactsError)
    for key, texts in notes.items():
        out[key]["note"] = "；".join(t for t in texts if t)
    return out


def _kind(item: ItemRule, given: Any, path: str, errors: Errors):
    kinds = monthly_kinds(item)
    if given is None:
        if len(kinds) == 1:
            return kinds[0]
        errors.add(path, f"required for {item.key} (kinds: {', '.join(k.key for k in kinds)})")
        return None
    text = str(given).strip()
    found = next((k for k in kinds if text in (k.key, k.name)), None)
    if found is None:
        errors.add(
            path,
            f"{describe(given)} is not a kind of {item.key} given monthly "
            f"(kinds: {', '.join(k.key for k in kinds)})",
        )
    return found


def _blank(value: Any) -> Any:
    """A cell's value, None for an empty one (and text that is only spaces)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _csv_rows(path: Path) -> list[tuple[int, list[Any]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FactsError([f"--monthly {path}: cannot read ({exc.strerror})"]) from None
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        raise FactsError(
            [f"{path}: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"]
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for cells in reader:
            rows.append((reader.line_num, cells))
            if len(rows) > MAX_ROWS + 10:
                break
    except csv.Error as exc:
        raise FactsError([f"{path}: row {reader.line_num}: not CSV ({exc})"]) from None
    return rows


def _xlsx_rows(path: Path) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise FactsError([f"--monthly {path}: cannot read ({exc.strerror or exc})"]) from None
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise FactsError([f"{path}: not an XLSX workbook ({exc})"]) from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for number, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
            rows.append((number, list(cells)))
            if len(rows) > MAX_ROWS + 10:
                break
        return rows
    finally:
        book.close()

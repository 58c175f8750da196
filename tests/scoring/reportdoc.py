"""Reading the reports for people back in tests: the HTML's summary rows, text and instants."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from scoring import load_rules, parse_facts, score
from scoring.breakdown import breakdown
from scoring.report_html import render_html
from scoring.report_md import render_markdown

RULES = load_rules()
# The one instant format: local time with its offset, a fraction only where there is one.
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")
ONE_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3}|\.\d{6})?\+08:00")


def render(data: dict[str, Any], rules=RULES) -> tuple[dict[str, Any], str, str]:
    facts = parse_facts(data, rules)
    report = score(facts, rules)
    details = breakdown(facts, rules)
    return report, render_html(report, rules, details), render_markdown(report, rules, details)


class _Rows(HTMLParser):
    """Collects every <tr>'s attributes and cell texts, and the page's whole text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[dict[str, str | None], list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "title"):
            self._skip += 1
        if tag == "tr":
            self.rows.append((dict(attrs), []))
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Rows:
    parser = _Rows()
    parser.feed(html)
    return parser


def summary_rows(html: str) -> dict[str, tuple[dict[str, str | None], list[str]]]:
    return {
        attrs["data-key"]: (attrs, cells)
        for attrs, cells in parse(html).rows
        if attrs.get("data-key")
    }


def text_of(html: str) -> str:
    return "".join(parse(html).text)


def instants_in(text: str) -> list[str]:
    return INSTANT.findall(text)

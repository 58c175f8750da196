"""Fuzzing the facts reader and the scorer: any JSON-like document either scores (and renders)
or is refused with `FactsError` — never another exception."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scoring import FactsError, parse_facts, score
from scoring.facts import read_facts_json
from scoring.report_md import render_markdown
from tests.scoring.helpers import RULES

EXAMPLE = json.loads(Path("configs/examples/2026-11.json").read_text("utf-8"))

EXTREME_INSTANTS = st.sampled_from(
    [
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999999Z",
        "2199-12-31T23:59:59.999999Z",
        "2200-01-01T00:00:00Z",
        "2026-11-30T16:00:00+23:59",
        "2026-11-01T00:00:00-23:59",
        "2026-11-15T12:00:00.000001+08:00",
        "2026-11-15T12:00:00",
        "2026-02-29T00:00:00Z",
        "2026-11-15",
    ]
)
MONTHS = st.sampled_from(["0001-01", "1969-12", "1970-01", "2199-12", "2200-01", "9999-12"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**4000)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "*", "acd-1", "P1", "acd", "\ud800", "2026-11"])
    | EXTREME_INSTANTS
    | MONTHS
)
JSON_LIKE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value] if depth % 2 else {"a": value}
    return value


REPLACEMENTS = JSON_LIKE | EXTREME_INSTANTS | st.integers(100, 3000).map(deep)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += paths(item, (*prefix, index))
    return out


EXAMPLE_PATHS = paths(EXAMPLE)


def must_score_or_refuse(data: Any) -> None:
    try:
        facts = parse_facts(data, RULES, now_us=1_795_000_000_000_000)
    except FactsError as exc:
        assert exc.errors and all(isinstance(line, str) and ": " in line for line in exc.errors)
        return
    report = score(facts, RULES)
    json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    render_markdown(report, RULES).encode("utf-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_LIKE)
def test_any_json_like_document_scores_or_is_refused(data):
    must_score_or_refuse(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(list(EXAMPLE)), REPLACEMENTS, max_size=6))
def test_any_top_level_field_of_any_type_scores_or_is_refused(fields):
    must_score_or_refuse({**EXAMPLE, **fields})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(EXAMPLE_PATHS), REPLACEMENTS), min_size=1, max_size=4))
def test_the_example_with_fields_replaced_scores_or_is_refused(mutations):
    data = copy.deepcopy(EXAMPLE)
    for path, value in mutations:
        target = data
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced a parent of this path
    must_score_or_refuse(data)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=40), st.binary(max_size=40)))
def test_any_text_or_bytes_is_read_or_refused(text):
    try:
        data = read_facts_json(text, "facts.json")
    except FactsError:
        return
    must_score_or_refuse(data)


def path_text(path: tuple) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([p for p in EXAMPLE_PATHS if isinstance(p[-1], str)]),
    JSON_LIKE,
    JSON_LIKE,
)
def test_a_duplicate_key_anywhere_is_refused_naming_it(path, first, second):
    marker = "\u0000duplicate\u0000"
    try:  # JSON text has no NaN or Infinity (refused on their own)
        json.dumps([first, second], allow_nan=False)
    except ValueError:
        assume(False)
    data = copy.deepcopy(EXAMPLE)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    key = json.dumps(path[-1])
    text = json.dumps(data).replace(
        f"{key}: {json.dumps(marker)}", f"{key}: {json.dumps(first)}, {key}: {json.dumps(second)}"
    )
    try:
        read_facts_json(text, "facts.json")
    except FactsError as exc:
        assert exc.errors == [
            f"{path_text(path)}: duplicate key (the last value would silently win)"
        ]
    else:
        raise AssertionError("a duplicated key was read")

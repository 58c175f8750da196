"""Line protocol: escaping checked as text, then read back from a real influxd."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from collector.store.influx import lineproto as lp
from tests.peers.influxd import Influxd

AWKWARD = [
    "plain",
    "with space",
    "a,comma",
    "key=value",
    'say "hi"',
    "back\\slash",
    "two\\\\back",
    "排队机-1 主用",
    '座席终端,7=东区 "A"',
]


def test_tag_values_escape_comma_equals_and_space() -> None:
    assert lp.tag_set({"component": "a b,c=d"}) == ",component=a\\ b\\,c\\=d"


def test_tags_are_sorted_and_empty_values_left_out() -> None:
    assert lp.tag_set({"z": "1", "a": "2", "m": ""}) == ",a=2,z=1"


def test_measurement_escapes_comma_and_space_only() -> None:
    assert lp.measurement("cpu load,x=y") == "cpu\\ load\\,x=y"


def test_string_fields_escape_quotes_and_backslashes() -> None:
    assert lp.field_value('a "b" \\c') == '"a \\"b\\" \\\\c"'


def test_field_types() -> None:
    assert lp.field_set({"b": True, "f": False, "i": 3, "x": 1.5, "s": "", "n": None}) == (
        'b=true,f=false,i=3i,x=1.5,s=""'
    )


@pytest.mark.parametrize("bad", ["ends\\", "a\\,b", "a\\ b", "a\\=b", "new\nline", "cr\rx"])
def test_unwritable_tag_values_are_rejected_naming_the_value(bad: str) -> None:
    with pytest.raises(lp.LineProtocolError, match="tag value"):
        lp.tag_set({"component": bad})


def test_non_finite_floats_are_rejected() -> None:
    with pytest.raises(lp.LineProtocolError, match="not finite"):
        lp.field_value(float("nan"))


def test_a_point_needs_a_field() -> None:
    with pytest.raises(lp.LineProtocolError, match="at least one field"):
        lp.line("m", {}, {"only": None}, 1)


def _query(server: Influxd, db: str, q: str) -> dict:
    params = urllib.parse.urlencode({"db": db, "q": q, "epoch": "ns"})
    with urllib.request.urlopen(f"{server.url}/query?{params}", timeout=5) as r:
        return json.loads(r.read())


def _post(server: Influxd, path: str, params: dict[str, str], body: bytes) -> int:
    url = f"{server.url}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=5) as r:
        return r.status


def test_awkward_text_round_trips_through_influxd(influxd: Influxd) -> None:
    db = influxd.new_database_name("lp")
    _post(influxd, "/query", {"q": f'CREATE DATABASE "{db}"'}, b"")
    points = [
        lp.line("m", {"component": text}, {"detail": text + "\nsecond line", "i": i}, 1_000 + i)
        for i, text in enumerate(AWKWARD)
    ]
    points.append(lp.line("m", {"component": "newline"}, {"detail": "a\r\nb\n"}, 5_000))
    assert _post(influxd, "/write", {"db": db, "precision": "ns"}, lp.lines(points)) == 204
    result = _query(influxd, db, 'SELECT "component", "detail" FROM "m"')
    got = {row[1]: row[2] for row in result["results"][0]["series"][0]["values"]}
    assert got == {text: text + "\nsecond line" for text in AWKWARD} | {"newline": "a\r\nb\n"}

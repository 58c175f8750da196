"""The v1-API client: store URLs, secrets, authentication and chunked queries."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from collector.domain.model import Sample
from collector.store import StoreError
from collector.store.influx import lineproto as lp
from collector.store.influx.client import InfluxClient, parse_url, rows
from collector.store.influx.store import InfluxStore
from tests.peers.influxd import Influxd, influxd_factory  # noqa: F401

SECRET = "s3cr:et/pw"


def test_url_gives_http_base_database_and_default_port() -> None:
    t = parse_url("influxdb://db.example:9999/hotline", env={})
    assert (t.base_url, t.database, t.username, t.token) == (
        "http://db.example:9999",
        "hotline",
        None,
        None,
    )
    assert parse_url("influxdb+https://h/x", env={}).base_url == "https://h:8086"
    assert parse_url("influxdb://[::1]:8086/x", env={}).base_url == "http://[::1]:8086"


def test_url_credentials_are_percent_decoded_and_never_shown() -> None:
    t = parse_url("influxdb://ops:s3cr%3Aet%2Fpw@h:8086/x", env={})
    assert (t.username, t.password) == ("ops", SECRET)
    assert SECRET not in repr(t) and "s3cr" not in t.display
    assert t.display == "http://ops:***@h:8086/x"


def test_password_and_token_come_from_files_or_the_environment(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET + "\n")
    (tmp_path / "tok").write_text("tok-from-file\n")
    t = parse_url(f"influxdb://ops@h/x?password_file={tmp_path / 'pw'}", env={})
    assert t.password == SECRET
    env = {"HOTLINE_INFLUX_PASSWORD": "from-env", "HOTLINE_INFLUX_TOKEN": "tok-env"}
    assert parse_url("influxdb://ops@h/x", env=env).password == "from-env"
    assert parse_url("influxdb://h/x", env=env).token == "tok-env"
    assert parse_url(f"influxdb://h/x?token_file={tmp_path / 'tok'}", env=env).token == (
        "tok-from-file"
    )
    assert parse_url("influxdb://h/x", token="tok-arg", env=env).token == "tok-arg"
    assert "tok" not in repr(parse_url("influxdb://h/x", env=env))


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://h/x", "scheme"),
        ("influxdb://h:port/x", "port"),
        ("influxdb:///x", "host"),
        ("influxdb://h:8086/", "database"),
        ("influxdb://h/x?colour=red", "colour"),
        ("influxdb://h/x?token_file=/nonexistent/tok", "token file"),
        ("influxdb://h/x?timeout=soon", "timeout"),
    ],
)
def test_bad_store_urls_name_what_is_wrong(url: str, error: str) -> None:
    with pytest.raises(StoreError, match=error):
        parse_url(url, env={})


def test_from_url_options_reach_the_store(tmp_path: Path) -> None:
    url = f"influxdb://h/x?rp_raw=r&rp_keep=k&rp_raw_days=7&rp_keep_days=0&buffer={tmp_path}/b.db"
    s = InfluxStore.from_url(url)
    assert (s.db.rp_raw, s.db.rp_keep, s.db.rp_raw_days, s.db.rp_keep_days) == ("r", "k", 7, None)
    assert s._buffer.path == tmp_path / "b.db"
    with pytest.raises(StoreError, match="400 days"):
        InfluxStore.from_url(url.replace("rp_keep_days=0", "rp_keep_days=30"))
    with pytest.raises(StoreError, match=r"verify=/nonexistent/ca\.pem: cannot load CA"):
        InfluxStore.from_url(f"influxdb+https://h/x?verify=/nonexistent/ca.pem&buffer={tmp_path}/c")


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append(dict(self.headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[dict[str, str]]]]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _Recorder.seen
    server.shutdown()
    server.server_close()


async def test_token_is_sent_as_authorization_token_header(recorder) -> None:
    port, seen = recorder
    client = InfluxClient(parse_url(f"influxdb://127.0.0.1:{port}/x", token="t0k", env={}))
    await client.write(lp.lines(["m f=1i 1"]), rp="r")
    await client.aclose()
    assert seen[0]["Authorization"] == "Token t0k"
    assert seen[0]["Content-Encoding"] == "gzip"


async def test_user_and_password_authenticate_against_influxd_with_auth(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = influxd_factory(auth=True)
    admin = InfluxClient(parse_url(server.store_url("_internal"), env={}))
    await admin.query(f"CREATE USER ops WITH PASSWORD '{SECRET}' WITH ALL PRIVILEGES", write=True)
    await admin.aclose()
    good = server.store_url("authdb").replace("influxdb://", "influxdb://ops:s3cr%3Aet%2Fpw@")
    store = InfluxStore.from_url(
        good, state_dir=tmp_path / "good", rp_raw_days=None, rp_keep_days=None
    )
    await store.open()
    sample = Sample("a1", "ivr-1", "ivr", "sip", 1_792_999_980_000, True, "ok")
    assert await store.append_samples("a1", None, [sample])
    assert await store.read_samples(0, 2**50) == [sample]
    await store.close()

    bad = good.replace("s3cr%3Aet", "wrong")
    store = InfluxStore.from_url(bad, state_dir=tmp_path / "bad", read_timeout=1.0, close_timeout=0)
    await store.open()
    assert await store.append_samples("a1", None, [sample])  # durable locally all the same
    with pytest.raises(StoreError) as failed:
        await store.read_samples(0, 2**50)
    assert "401" in str(failed.value) and "wrong" not in str(failed.value)
    stats = store.buffer_stats()  # the sample and its component's registration wait
    assert stats.sink_failing and stats.pending_lines == 2 and stats.rejected_lines == 0
    assert "401" in stats.last_error and "wrong" not in stats.last_error
    await store.close()


async def test_large_answers_arrive_in_chunks_and_are_merged(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
) -> None:
    server = influxd_factory()
    client = InfluxClient(parse_url(server.store_url("big"), env={}))
    await client.query('CREATE DATABASE "big"', write=True)
    points = [lp.line("m", {"c": f"c{i % 3}"}, {"i": i}, 1_000_000 + i) for i in range(25_000)]
    await client.write(lp.lines(points), rp=None)
    [result] = await client.query('SELECT "i" FROM "m" GROUP BY "c"', chunk_size=4_000)
    got = rows(result)
    assert len(got) == 25_000 and sorted(r["i"] for r in got) == list(range(25_000))
    assert {r["c"] for r in got} == {"c0", "c1", "c2"}
    [one, two] = await client.query('SELECT count("i") FROM "m"; SHOW MEASUREMENTS')
    assert rows(one)[0]["count"] == 25_000 and rows(two) == [{"name": "m"}]
    await client.aclose()
    await asyncio.sleep(0)


async def test_a_user_without_admin_rights_writes_into_a_prepared_database(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = influxd_factory(auth=True)
    admin_url = server.store_url("prepared").replace("influxdb://", "influxdb://root:rootpw@")
    admin = InfluxClient(parse_url(server.store_url("_internal"), env={}))
    await admin.query("CREATE USER root WITH PASSWORD 'rootpw' WITH ALL PRIVILEGES", write=True)
    await admin.aclose()
    prepare = InfluxStore.from_url(admin_url, state_dir=tmp_path / "admin")
    await prepare.open()  # the admin creates the database and the policies once
    await prepare.db.client.query("CREATE USER writer WITH PASSWORD 'w'", write=True)
    await prepare.db.client.query('GRANT ALL ON "prepared" TO "writer"', write=True)
    await prepare.close()
    url = server.store_url("prepared").replace("influxdb://", "influxdb://writer:w@")
    store = InfluxStore.from_url(url, state_dir=tmp_path / "writer")
    await store.open()  # CREATE DATABASE is refused (403): used as it is
    assert "cannot create the database" in caplog.text and "w@" not in caplog.text
    sample = Sample("a1", "ivr-1", "ivr", "sip", int(time.time() * 1000), True, "ok")
    assert await store.append_samples("a1", None, [sample])
    assert await store.read_samples(0, 2**50) == [sample]
    await store.close()


async def test_influxdb_over_tls_is_verified_against_the_given_ca(
    influxd_factory: Callable[..., Influxd],  # noqa: F811
    tmp_path: Path,
) -> None:
    server = influxd_factory(tls=True)
    sample = Sample("a1", "ivr-1", "ivr", "sip", int(time.time() * 1000), True, "ok")
    trusted = server.store_url("tls", verify=str(server.ca_file))
    assert trusted.startswith("influxdb+https://")
    store = InfluxStore.from_url(trusted, state_dir=tmp_path / "ok")
    await store.open()
    assert await store.ping()
    assert await store.append_samples("a1", None, [sample])
    assert await store.read_samples(0, 2**50) == [sample]
    await store.close()

    untrusted = InfluxStore.from_url(
        server.store_url("tls"), state_dir=tmp_path / "no", read_timeout=0.5, close_timeout=0
    )
    await untrusted.open()
    assert not await untrusted.ping()  # a self-signed certificate is not trusted by default
    assert await untrusted.append_samples("a1", None, [sample])  # kept, not lost
    with pytest.raises(StoreError, match="not reachable"):
        await untrusted.read_samples(0, 2**50)
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.buffer_stats().last_error
    await untrusted.close()

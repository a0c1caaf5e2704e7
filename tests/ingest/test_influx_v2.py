"""The InfluxDB 2.x/3.x path (``influxdb2://``) without a server: a tiny local HTTP server
records what the store sends. Writes go to ``/api/v2/write`` with bucket, org, precision and
``Authorization: Token …``, with the same gzip line protocol as the v1 path; queries go to the
v1-compatible ``/query`` with the bucket as ``db`` and the token. Also: URL errors name what is
missing."""

from __future__ import annotations

import gzip
import http.server
import threading
from urllib.parse import parse_qs, urlparse

import orjson
import pytest

from ingest.store import StoreURLError, open_store
from ingest.store.base import Message, Rejected, StoredReading
from ingest.store.influx_http import InfluxTarget

T0_MS = 1_300_000_000_000


class FakeInflux:
    """Answers 204 to writes and an empty result per statement to queries; records requests."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                url = urlparse(self.path)
                q = parse_qs(body.decode()).get("q", [""])[-1] if url.path == "/query" else None
                fake.requests.append(
                    {
                        "path": url.path,
                        "params": {k: v[-1] for k, v in parse_qs(url.query).items()},
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "q": q,
                    }
                )
                if url.path == "/query":
                    results = [{"statement_id": i} for i in range(q.count(";") + 1)]
                    payload = orjson.dumps({"results": results})
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                else:
                    self.send_response(204)
                    self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def writes(self) -> list[dict]:
        return [r for r in self.requests if r["path"] != "/query"]

    def queries(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/query"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    f = FakeInflux()
    yield f
    f.close()


def _messages() -> list[Message]:
    return [
        Message(
            "wattleague/x/alfa/m1",
            T0_MS + 5,
            "mqtt",
            [
                StoredReading("m1", T0_MS, 100.0, 500.0),
                StoredReading("m1", T0_MS + 10_000, 100.25, 510.0),
                StoredReading("kommunhus ö", T0_MS, 7.0, None),
            ],
            [Rejected("undecodable", "not JSON", "wattleague/x/alfa/m1", b"{", T0_MS + 5)],
        )
    ]


def _write_through(url: str, fake: FakeInflux) -> list[dict]:
    store = open_store(url)
    try:
        result = store.write(_messages())
        assert (result.inserted, result.quarantined, result.spooled) == (3, 1, 0)
    finally:
        store.close()
    writes = fake.writes()
    # first, a new database's mark that its hourly rollup is complete (influx_hourly)
    assert gzip.decompress(writes[0]["body"]).decode().startswith("schema hourly_rollup=")
    return writes[1:]


def test_v2_writes_and_queries(fake, tmp_path):
    url = f"influxdb2://MYTOKEN@127.0.0.1:{fake.port}/mybucket?org=myorg&spool={tmp_path}/spool.db"
    writes = _write_through(url, fake)
    assert len(writes) == 3  # energy with its readings (one group of meters), quarantine, marker
    for w in writes:
        assert w["path"] == "/api/v2/write"
        assert w["params"]["bucket"] == "mybucket" and w["params"]["org"] == "myorg"
        assert w["headers"]["authorization"] == "Token MYTOKEN"
        assert w["headers"]["content-encoding"] == "gzip"
        assert "db" not in w["params"]
    assert [w["params"]["precision"] for w in writes] == ["ms", "ns", "ns"]
    lines = gzip.decompress(writes[0]["body"]).decode().split("\n")
    first_reading = next(i for i, line in enumerate(lines) if line.startswith("reading,"))
    energy, readings = lines[:first_reading], lines[first_reading:]
    hourly = [line for line in energy if line.startswith("hourly,")]
    energy = energy[len(hourly) :]  # the hourly totals, then the pieces, then the readings
    assert hourly and all(line.startswith("hourly,meter=") for line in hourly)
    assert energy and all(line.startswith("energy,chain=") for line in energy)
    assert any("meter=m1" in line for line in energy)
    m1 = next(line for line in readings if line.startswith("reading,meter=m1 "))
    assert m1.startswith("reading,meter=m1 energy_kwh=100.0,power_w=500.0,")
    assert m1.endswith(f" {T0_MS}")
    assert any(line.startswith(r"reading,meter=kommunhus\ ö ") for line in readings)
    assert gzip.decompress(writes[1]["body"]).decode().startswith("quarantine,reason=undecodable ")
    assert gzip.decompress(writes[2]["body"]).decode().startswith("writes id=")

    queries = fake.queries()
    assert queries, "the store reads the chain tails before writing"
    for q in queries:
        assert q["params"]["db"] == "mybucket"
        assert q["headers"]["authorization"] == "Token MYTOKEN"
        assert "CREATE DATABASE" not in q["q"]  # v2 buckets are not created

    # reads go the same way
    store = open_store(url)
    try:
        before = len(fake.queries())
        assert store.read_hourly(["m1"], 0, 2e9) == {}
        assert store.meter_states() == {}
        q = fake.queries()[before]
        assert q["params"] == {"db": "mybucket", "epoch": "ms"}
        assert q["headers"]["authorization"] == "Token MYTOKEN"
    finally:
        store.close()


def _without_generated_times(write: dict) -> list[str]:
    """Body lines, with what the store makes up itself (quarantine ids, the write marker's time
    and random id) cut off: they differ from one store to the next by design."""
    lines = gzip.decompress(write["body"]).decode().split("\n")
    return [
        "writes"
        if line.startswith("writes ")
        else line.rsplit(" ", 1)[0]
        if line.startswith("quarantine,")
        else line
        for line in lines
    ]


def test_v1_and_v2_send_the_same_line_protocol(fake, tmp_path):
    v2 = _write_through(
        f"influxdb2://MYTOKEN@127.0.0.1:{fake.port}/mybucket?org=myorg&spool={tmp_path}/a.db",
        fake,
    )
    fake.requests.clear()
    v1 = _write_through(
        f"influxdb://alice:s3cret@127.0.0.1:{fake.port}/mybucket?spool={tmp_path}/b.db", fake
    )
    assert [_without_generated_times(w) for w in v1] == [_without_generated_times(w) for w in v2]
    for w in v1:
        assert w["path"] == "/write"
        assert w["params"]["db"] == "mybucket"
        assert "bucket" not in w["params"] and "org" not in w["params"]
        assert w["headers"]["authorization"].startswith("Basic ")  # alice:s3cret
    assert [w["params"]["precision"] for w in v1] == ["ms", "ns", "ns"]
    assert fake.queries()[0]["q"] == 'CREATE DATABASE "mybucket"'


def test_v1_retention_policy_and_tls_options():
    target = InfluxTarget.from_url("influxdb://h.example:9999/db?rp=one_year&tls=1")
    assert target.base_url == "https://h.example:9999"
    assert target.write_request("ms") == (
        "/write",
        {"db": "db", "precision": "ms", "rp": "one_year"},
        {},
    )
    assert target.query_request()[1] == {"db": "db", "epoch": "ms", "rp": "one_year"}
    assert InfluxTarget.from_url("influxdb://h/db").base_url == "http://h:8086"


def test_credentials_and_database_are_url_decoded():
    target = InfluxTarget.from_url("influxdb://alice:p%40ss%3Aword@h:8086/my%20db")
    assert target.auth == ("alice", "p@ss:word")
    assert target.database == "my db"


def test_an_ipv6_host_keeps_its_brackets():
    assert InfluxTarget.from_url("influxdb://[::1]:8086/db").base_url == "http://[::1]:8086"


def test_a_real_v2_token_with_base64_padding_survives_the_url():
    token = "Ab-cd_EF0123456789xyzXYZ-_abc=="
    target = InfluxTarget.from_url(f"influxdb2://{token}@h:8086/b?org=my%20org")
    assert target.token == token
    assert target.org == "my org"
    assert target.write_request("ms")[2] == {"Authorization": f"Token {token}"}


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("influxdb2://MYTOKEN@127.0.0.1:8086/bucket", ["org"]),
        ("influxdb2://MYTOKEN@127.0.0.1:8086/bucket?org=", ["org"]),
        ("influxdb2://127.0.0.1:8086/bucket?org=o", ["token"]),
        ("influxdb2://MYTOKEN@127.0.0.1:8086/?org=o", ["database"]),
        ("influxdb://127.0.0.1:8086", ["database"]),
        ("influxdb://127.0.0.1:8086/", ["database"]),
        ("influxdb:///db", ["host"]),
        ("influxdb://127.0.0.1:99999/db", ["port"]),
        ("influxdb://127.0.0.1:eighty/db", ["port"]),
        ("influx://127.0.0.1:8086/db", ["influxdb://", "influxdb2://"]),
    ],
)
def test_url_errors_name_what_is_missing(url, names, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default spool file would land here
    with pytest.raises(StoreURLError) as error:
        open_store(url)
    assert isinstance(error.value, ValueError)
    for name in names:
        assert name in str(error.value)
    assert list(tmp_path.iterdir()) == []  # no spool file for a URL that is refused

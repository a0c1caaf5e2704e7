"""`wattleague close` and `wattleague verify` on real stores (SQLite in tmp_path, the test
InfluxDB): a bundle a jury can check, refused before the end and the second time, and every
change of the store or the bundle found."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
from datetime import datetime

import pytest
from click.testing import CliRunner

from ingest.store import open_store
from tests.fixtures import COMPETITION_TOML, TZ, seed
from wattleague.cli import main

END = datetime(2011, 4, 1, 0, 0, tzinfo=TZ)  # the end of the fixture's last local hour
CHANGED_HOUR_S = int(datetime(2011, 3, 15, 12, tzinfo=TZ).timestamp())
FILES = ["MANIFEST.sha256", "jury-report-en.pdf", "jury-report-sv.pdf", "results.json"]


@pytest.fixture
def closable(store_url, tmp_path):
    """(store URL, competition file) of the fixture's competition, measured to its end."""
    return _seeded(store_url, tmp_path)


def _seeded(store_url, tmp_path):
    store = open_store(store_url)
    try:
        seed(store, until=datetime(2011, 4, 1, 1, tzinfo=TZ))
    finally:
        store.close()
    config = tmp_path / "liten.toml"
    config.write_text(COMPETITION_TOML, encoding="utf-8")
    return store_url, config


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _close(url, config, out):
    return _run("close", "--config", config, "--store", url, "--out", out)


def test_close_writes_a_bundle_that_verifies_identical(closable, tmp_path):
    url, config = closable
    out = tmp_path / "bundle"
    result = _close(url, config, out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == FILES
    checked = subprocess.run(
        ["sha256sum", "-c", "MANIFEST.sha256"], cwd=out, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bundle = json.loads((out / "results.json").read_bytes())
    assert bundle["as_of"] == END.isoformat()
    assert [e["site"] for e in bundle["leaderboards"]["reduction"]] == ["alfa", "beta", "gamma"]
    alfa = next(s for s in bundle["sites"] if s["site"] == "alfa")
    assert alfa["reduction_pct"] == 20.0 and alfa["uncertainty_kwh"] is not None
    assert alfa["rank_reduction"] == 1 and alfa["completeness"] == 1.0
    assert bundle["competition"]["file_text"] == COMPETITION_TOML
    assert "results.json SHA-256" in result.output

    result = _run("verify", out, "--store", url)
    assert (result.exit_code, result.output) == (0, "identical\n")

    store = open_store(url)
    try:
        closing = store.organiser.closing("liten")
        assert closing.bundle == bundle
        (entry,) = [e for e in store.organiser.list_audit("liten") if e.action == "closed"]
        assert entry.after["manifest_sha256"] == closing.manifest_sha256
    finally:
        store.close()


def test_close_is_refused_the_second_time(closable, tmp_path):
    url, config = closable
    assert _close(url, config, tmp_path / "first").exit_code == 0
    result = _close(url, config, tmp_path / "second")
    assert result.exit_code == 1
    assert "was closed at" in result.output and "by cli:" in result.output
    sha = hashlib.sha256((tmp_path / "first" / "results.json").read_bytes()).hexdigest()
    assert sha in result.output
    assert not (tmp_path / "second").exists()


def test_close_is_refused_before_the_end(tmp_path):
    url = f"sqlite:///{tmp_path}/future.db"
    open_store(url).close()
    config = tmp_path / "future.toml"
    config.write_text(
        COMPETITION_TOML.replace("2011-03-01", "2099-03-01").replace("2011-03-31", "2099-03-31")
    )
    result = _close(url, config, tmp_path / "out")
    assert result.exit_code == 1
    assert "ends at 2099-04-01T00:00:00+02:00" in result.output
    assert not (tmp_path / "out").exists()


def test_a_missing_sqlite_store_is_named(tmp_path):
    config = tmp_path / "liten.toml"
    config.write_text(COMPETITION_TOML)
    result = _close(f"sqlite:///{tmp_path}/nope.db", config, tmp_path / "out")
    assert result.exit_code == 2 and "no store file at" in result.output


def change_a_sqlite_reading(url: str) -> None:
    """Add 50 kWh to one competition hour of alfa's meter, behind the store's back."""
    conn = sqlite3.connect(url[len("sqlite://") :])
    changed = conn.execute(
        "UPDATE hourly SET reg_kwh = reg_kwh + 50 WHERE meter_id = 'alfa-main' AND hour_s = ?",
        (CHANGED_HOUR_S,),
    ).rowcount
    conn.commit()
    conn.close()
    assert changed == 1


def test_verify_names_a_reading_changed_in_sqlite(tmp_path):
    url, config = _seeded(f"sqlite:///{tmp_path}/store.db", tmp_path)
    out = tmp_path / "bundle"
    assert _close(url, config, out).exit_code == 0
    change_a_sqlite_reading(url)
    result = _run("verify", out, "--store", url)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "alfa, actual_kwh, 5944.0, 5994.0" in lines
    assert any(line.startswith("alfa, reduction_pct, 20.0, ") for line in lines)
    assert not any(line.startswith(("beta,", "gamma,")) for line in lines)


def test_verify_names_a_point_changed_in_influxdb(influxd, influx_database, tmp_path):
    db = influx_database()
    url, config = _seeded(influxd.url(db), tmp_path)
    out = tmp_path / "bundle"
    assert _close(url, config, out).exit_code == 0
    # an administrator's write over alfa's meter's stored hourly energy (the rollup scoring
    # reads; docs/influxdb.md)
    start_ms, end_ms = CHANGED_HOUR_S * 1000, (CHANGED_HOUR_S + 3600) * 1000
    (result,) = influxd.query(
        db,
        f'SELECT * FROM "hourly" WHERE "meter" = \'alfa-main\' AND '
        f"time >= {start_ms}ms AND time < {end_ms}ms",
        epoch="ns",
    )
    series = result["series"][0]
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    fields = ",".join(
        f"{k}={row[k] + (50.0 if k == 'reg_kwh' else 0.0)}"
        for k in series["columns"]
        if k not in ("time", "meter") and isinstance(row[k], int | float)
    )
    line = f"hourly,meter={row['meter']} {fields} {row['time']}"
    assert influxd.write_lines(db, line, precision="ns").status_code == 204
    result = _run("verify", out, "--store", url)
    assert result.exit_code == 1
    assert "alfa, actual_kwh, 5944.0, 5994.0" in result.output.splitlines()


def test_a_changed_byte_in_the_bundle_is_caught_by_its_manifest(closable, tmp_path):
    url, config = closable
    out = tmp_path / "bundle"
    assert _close(url, config, out).exit_code == 0
    results = out / "results.json"
    data = bytearray(results.read_bytes())
    at = data.index(b'"reduction_pct":20.0') + len('"reduction_pct":2')
    data[at] = ord("9")  # 20.0 → 29.0
    results.write_bytes(bytes(data))
    result = _run("verify", out, "--store", url)
    assert result.exit_code == 1
    assert "manifest: results.json: changed" in result.output
    (out / "notes.txt").write_text("an extra file")
    (out / "jury-report-sv.pdf").unlink()
    result = _run("verify", out, "--store", url)
    assert "manifest: jury-report-sv.pdf: missing" in result.output
    assert "manifest: notes.txt: extra" in result.output


def test_a_store_that_does_not_answer_is_named_without_its_password(tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "liten.toml"
    config.write_text(COMPETITION_TOML, encoding="utf-8")
    url = f"influxdb://admin:S3cret-pa55@127.0.0.1:{port}/db?spool={tmp_path}/s.db"
    result = _close(url, config, tmp_path / "bundle")
    assert result.exit_code == 1
    assert "the store is unavailable (unreachable)" in result.output
    assert "S3cret" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "bundle").exists()

"""Backup, restore and retention of the SQLite store (`wattleague deploy backup|restore|prune`)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from api.scoreboard import Scoreboard
from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import IngestWorker
from ingest.routing import Routing
from ingest.store.base import Message, Rejected
from ingest.store.sqlite import SQLiteStore
from ingest.store.sqlite_maintenance import (
    QUARANTINE_PRUNE_STEP,
    MaintenanceError,
    prune_readings,
)
from scoring.competition_file import parse_competition
from tests.fixtures import NOW, competition, seed
from tests.ingest.test_sqlite_quarantine import old_store_file
from tests.services import wait_until
from wattleague.cli import main

NOW_MS = int(NOW.timestamp() * 1000)


def leaderboard(store) -> dict:
    return Scoreboard(competition(), store, clock=NOW.timestamp).leaderboard()


def run(*args: str):
    return CliRunner().invoke(main, ["deploy", *args])


def test_backup_restore_round_trip(tmp_path):
    store = SQLiteStore(tmp_path / "live.db")
    seed(store)  # still open: recent pages sit in the WAL, which the backup must include
    before = (store.count_readings(), leaderboard(store))
    backup = tmp_path / "backup.db"
    result = run("backup", "--store", f"sqlite:///{tmp_path}/live.db", "--out", str(backup))
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output
    again = run("backup", "--store", f"sqlite:///{tmp_path}/live.db", "--out", str(backup))
    assert again.exit_code == 1 and "exists" in again.output and "--force" in again.output

    target = f"sqlite:///{tmp_path}/restored.db"
    result = run("restore", str(backup), "--store", target)
    assert result.exit_code == 0, result.output
    restored = SQLiteStore(tmp_path / "restored.db")
    assert (restored.count_readings(), leaderboard(restored)) == before
    restored.close()

    refused = run("restore", str(backup), "--store", target)
    assert refused.exit_code == 1
    assert "exists" in refused.output and "--force" in refused.output
    assert run("restore", str(backup), "--store", target, "--force").exit_code == 0
    store.close()


def test_restore_refuses_a_damaged_or_foreign_file(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    result = run("restore", str(junk), "--store", f"sqlite:///{tmp_path}/new.db")
    assert result.exit_code == 1 and "not a SQLite database" in result.output
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    result = run("restore", str(other), "--store", f"sqlite:///{tmp_path}/new.db")
    assert result.exit_code == 1 and "not a Watt League store" in result.output
    assert not (tmp_path / "new.db").exists()


def test_backup_needs_a_sqlite_store(tmp_path):
    result = run("backup", "--store", "influxdb://127.0.0.1:8086/db", "--out", str(tmp_path / "b"))
    assert result.exit_code == 2 and "SQLite" in result.output


def test_pruning_raw_readings_keeps_the_leaderboard(tmp_path):
    store = SQLiteStore(tmp_path / "store.db")
    seed(store)
    before_rows, before = store.count_readings(), leaderboard(store)
    result = prune_readings(
        tmp_path / "store.db", cutoff_ms=NOW_MS - 86_400_000, now_ms=NOW_MS, max_age_days=1
    )
    after_store = SQLiteStore(tmp_path / "store.db")
    assert result.readings > 0.9 * before_rows
    assert after_store.count_readings() == before_rows - result.readings
    assert result.messages == 3  # the seed stores each meter in one message "received" at 0
    assert leaderboard(after_store) == before
    after_store.close()
    store.close()


def test_pruning_refuses_to_drop_readings_ingest_still_accepts(tmp_path):
    store = SQLiteStore(tmp_path / "store.db")
    seed(store)
    with pytest.raises(MaintenanceError, match="max-age-days"):
        prune_readings(
            tmp_path / "store.db", cutoff_ms=NOW_MS - 86_400_000, now_ms=NOW_MS, max_age_days=400
        )
    result = run("prune", "--store", f"sqlite:///{tmp_path}/store.db", "--retention-days", "30")
    assert result.exit_code == 1 and "--max-age-days" in result.output
    assert store.count_readings() > 0
    store.close()


def test_backup_into_a_folder_that_does_not_exist_yet(tmp_path):
    store = SQLiteStore(tmp_path / "live.db")
    seed(store)
    out = tmp_path / "backups" / "nightly" / "wl.db"
    result = run("backup", "--store", f"sqlite:///{tmp_path}/live.db", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert leaderboard(SQLiteStore(out)) == leaderboard(store)


def test_quarantine_pruned_with_raw_retention_off(tmp_path):
    store = SQLiteStore(tmp_path / "live.db")
    seed(store)
    store.write([Message("x/y", 0, rejected=[Rejected("unknown_topic", "t", "x/y", b"{}", 0)])])
    readings = store.count_readings()
    result = run("prune", "--store", f"sqlite:///{tmp_path}/live.db", "--quarantine-days", "30")
    assert result.exit_code == 0, result.output
    assert "1 quarantine entries" in result.output
    assert store.list_quarantine() == []
    assert store.quarantine_counts() == {"unknown_topic": 1}  # the count stays
    assert store.count_readings() == readings  # --retention-days 0: raw readings stay


DAY_MS = 86_400_000


def _quarantine_at(*received_ms: int, reason: str = "undecodable") -> Message:
    """One message whose entries were received at ``received_ms`` (each its own entry)."""
    return Message(
        "x/y",
        received_ms[0],
        rejected=[Rejected(reason, f"#{i}", "x/y", b"{", t) for i, t in enumerate(received_ms)],
    )


def test_pruning_the_quarantine_in_steps_keeps_the_counts_exact(tmp_path):
    store = SQLiteStore(tmp_path / "live.db")
    old = NOW_MS - 100 * DAY_MS
    n_old = 2 * QUARANTINE_PRUNE_STEP + 7  # three steps
    store.write([_quarantine_at(*[old + i for i in range(n_old)])])
    store.write([_quarantine_at(NOW_MS - DAY_MS, NOW_MS, reason="unknown_meter")])
    before = store.quarantine_counts()
    assert before == {"undecodable": n_old, "unknown_meter": 2}
    result = prune_readings(
        tmp_path / "live.db",
        cutoff_ms=None,
        now_ms=NOW_MS,
        max_age_days=400,
        quarantine_cutoff_ms=NOW_MS - 90 * DAY_MS,
    )
    assert result.quarantine == n_old
    assert sorted(e["received_ms"] for e in store.list_quarantine()) == [NOW_MS - DAY_MS, NOW_MS]
    assert store.quarantine_counts() == before  # pruned entries stay counted
    # new entries keep counting on; releasing one (reprocessed) takes it off
    store.write([_quarantine_at(NOW_MS + 1, reason="unknown_meter")])
    newest = store.list_quarantine(limit=1)[0]["id"]
    store.write([], release_ids=[newest])
    assert store.quarantine_counts() == before
    store.close()


def test_pruning_an_old_file_counts_its_entries_before_dropping_any(tmp_path):
    path = tmp_path / "old.db"
    old_store_file(
        path,
        [
            (NOW_MS - 200 * DAY_MS, "mqtt", "a/b", "undecodable", "not JSON", b"{"),
            (NOW_MS - 100 * DAY_MS, "mqtt", "a/b", "unknown_topic", "no meter", b"{}"),
            (NOW_MS - DAY_MS, "mqtt", "a/b", "undecodable", "not JSON", b"{"),
        ],
    )
    result = prune_readings(
        path, None, now_ms=NOW_MS, max_age_days=400, quarantine_cutoff_ms=NOW_MS - 90 * DAY_MS
    )
    assert result.quarantine == 2
    store = SQLiteStore(path)
    assert store.quarantine_counts() == {"undecodable": 2, "unknown_topic": 1}
    assert [e["received_ms"] for e in store.list_quarantine()] == [NOW_MS - DAY_MS]
    store.close()


def test_prune_drops_quarantine_entries_after_90_days_by_default(tmp_path):
    # what the maintenance unit runs: `wattleague deploy prune` with the environment file
    url = f"sqlite:///{tmp_path}/live.db"
    store = SQLiteStore(tmp_path / "live.db")
    now_ms = int(time.time() * 1000)
    store.write([_quarantine_at(now_ms - 100 * DAY_MS, now_ms - 10 * DAY_MS, now_ms)])

    def prune(quarantine_days: str | None):
        env = {"WATTLEAGUE_RETENTION_DAYS": None, "WATTLEAGUE_QUARANTINE_DAYS": quarantine_days}
        result = CliRunner().invoke(main, ["deploy", "prune", "--store", url], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "1 quarantine entries older than 90 days" in prune(None)
    assert len(store.list_quarantine()) == 2
    assert "no quarantine entries pruned" in prune("0")
    assert len(store.list_quarantine()) == 2
    assert "1 quarantine entries older than 5 days" in prune("5")
    assert len(store.list_quarantine()) == 1
    assert store.quarantine_counts() == {"undecodable": 3}
    refused = run("prune", "--store", url, "--quarantine-days", "-1")
    assert refused.exit_code == 2 and "--quarantine-days" in refused.output
    store.close()


# -- a backup while ingest writes ------------------------------------------------------------

LOAD_COMPETITION = """
[competition]
id = "load"
name = "Backup under load"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-03-14
baseline = { method = "previous-year" }

[[site]]
id = "site"
municipality = "Test"
name = "Test"
area_m2 = 1000
  [[site.meter]]
  id = "live"
"""
LOAD_TOPIC = "wattleague/load/site/live"
PER_MESSAGE = 10  # readings per message: a message stored in part would show as a gap
STEP_S = 60  # between readings
BACKUP_CMD = [sys.executable, "-m", "wattleague", "deploy", "backup"]


def _load_payload(first_ts: int, i: int) -> bytes:
    """Message ``i``: readings PER_MESSAGE * i ... of one register, STEP_S apart."""
    rows = [
        {"ts": first_ts + j * STEP_S, "energy_kwh": 1000.0 + j * 0.5}
        for j in range(i * PER_MESSAGE, (i + 1) * PER_MESSAGE)
    ]
    return orjson.dumps(rows)


class _ContinuousPublisher(threading.Thread):
    """Publishes message 0, 1, 2, … (QoS 1, 200 in flight) until ``stop`` is set."""

    def __init__(self, port: int, first_ts: int) -> None:
        super().__init__(daemon=True)
        self.port, self.first_ts = port, first_ts
        self.stop = threading.Event()
        self.published = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="backup-load-publisher")
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        try:
            while not self.stop.is_set():
                infos = [
                    client.publish(LOAD_TOPIC, _load_payload(self.first_ts, self.published + k), 1)
                    for k in range(200)
                ]
                for info in infos:
                    info.wait_for_publish(timeout=30)
                self.published += len(infos)
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            client.disconnect()
            client.loop_stop()


def _fill(store: SQLiteStore, mb: int) -> None:
    """Quarantine entries of 32 KiB until the store holds about ``mb`` MB: pages to copy."""
    junk = bytes(range(256)) * 128
    for _ in range(mb):
        store.write(
            [
                Message("filler", 0, rejected=[Rejected("undecodable", "filler", "f", junk, 0)])
                for _ in range(32)
            ]
        )


def test_a_backup_taken_while_ingest_writes_is_complete_and_consistent(tmp_path, mosquitto):
    live = tmp_path / "live.db"
    store = SQLiteStore(live)
    # 128 MB: SQLite's online backup in steps (used before) starts over at every commit
    # between two steps; with this many pages to copy, this test never saw it finish
    _fill(store, 128)
    first_ts = int(time.time()) - 200 * 86400
    worker = IngestWorker(
        parse_mqtt_url(mosquitto.url),
        store,
        Routing.from_competitions([parse_competition(LOAD_COMPETITION, "load.toml")]),
        client_id="backup-load-worker",
        batch_max=2,  # a commit every few milliseconds
    )
    worker.start()
    assert worker.subscribed.wait(20)
    publisher = _ContinuousPublisher(mosquitto.port, first_ts)
    publisher.start()
    out = tmp_path / "backups" / "wl.db"
    try:
        wait_until(lambda: worker.stats["messages"] >= 500, timeout_s=60)
        acked_before = worker.stats["messages"]  # counted after the PUBACKs went out
        # as the maintenance unit runs it: its own process, beside the running worker; the
        # timeout is no timing goal, only the bound that tells "never finishes" from "done"
        try:
            result = subprocess.run(
                [*BACKUP_CMD, "--store", f"sqlite:///{live}", "--out", str(out)],
                capture_output=True,
                text=True,
                timeout=120,
            )
        except subprocess.TimeoutExpired:
            pytest.fail("the backup did not finish while ingest kept writing")
        still_publishing = publisher.is_alive() and publisher.error is None
    finally:
        publisher.stop.set()
        publisher.join(timeout=60)
        worker.stop()
    assert result.returncode == 0, result.stderr
    assert "integrity ok" in result.stdout
    assert still_publishing, publisher.error  # the writes went on until the backup was done

    conn = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        ts = [
            r[0]
            for r in conn.execute(
                "SELECT ts_ms FROM readings WHERE meter_id = 'live' ORDER BY ts_ms"
            )
        ]
        n_messages = conn.execute(
            "SELECT count(*) FROM messages WHERE topic = ?", (LOAD_TOPIC,)
        ).fetchone()[0]
        state = conn.execute(
            "SELECT last_ts_ms, reg_kwh FROM meter_state WHERE meter_id = 'live'"
        ).fetchone()
        hourly_kwh = conn.execute(
            "SELECT sum(reg_kwh) FROM hourly WHERE meter_id = 'live'"
        ).fetchone()[0]
    finally:
        conn.close()
    # every message acknowledged before the backup started is in it, whole, and in order
    assert n_messages >= acked_before
    assert ts == [(first_ts + j * STEP_S) * 1000 for j in range(n_messages * PER_MESSAGE)]
    # the readings, the messages, the meter's chain tail and its hourly energy are of one
    # transaction: none of them is ahead of or behind the others
    last_j = n_messages * PER_MESSAGE - 1
    assert state == (ts[-1], pytest.approx(1000.0 + last_j * 0.5))
    assert hourly_kwh == pytest.approx(last_j * 0.5)
    assert not Path(f"{out}-wal").exists()
    store.close()

"""Operations benchmarks: what an operator's processes cost to start, and their backups.

Usage (from the repository root):

    python -m bench.operations [--only serve_start,backup] [--repeat 5] [--against DIR]
                               [--backup-mb 120] [--backup-candidates]

``serve_start``: ``wattleague serve`` with the example competition
(``deploy/examples/kommunhus-2011.toml``, baseline ``previous-year``) and the same competition
with ``method = "regression"`` (plus a weather station, which it needs), each on an empty
SQLite store in a temporary folder. The clock runs from just before the process is started
to the first 200 answer of ``GET /healthz`` (polled every 10 ms); the resident memory is the
process's ``VmRSS`` right after that answer, with its CPU time so far (user + system, which
other work on the machine hardly moves, unlike the start time). Whether numba was loaded is
read off the process's memory map (llvmlite's library). Prints the median of ``--repeat``
starts and the regression competition's figures as ratios to the other's. ``--against DIR``
also times the serve of another checkout (``git archive COMMIT | tar -x -C DIR``; it runs
with this checkout's virtual environment and competition files), start by start interleaved
with this one's, and prints this checkout's figures as ratios to that one's.

``backup``: ``deploy backup`` (``ingest.store.sqlite_maintenance.backup``, in this process) of
a ``--backup-mb`` MB SQLite store built through the store (register readings of 200 meters),
idle and while a real ``IngestWorker`` stores 50 single-reading messages a second published
to a private Mosquitto (needs /usr/sbin/mosquitto), the two interleaved ``--repeat`` times.
Prints the median backup time of each and the ratio loaded/idle (goal <= 2x), the backup
file's size, and the ingest's write latency (each ``store.write``, one transaction: p99 and
worst) during the backups against the writes between them. ``--backup-candidates`` adds the
online backup API in one step and in 1,024-page steps (the code before; given up after 30 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from ingest.store.sqlite import SQLiteStore
from tests.services import free_port

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "examples" / "kommunhus-2011.toml"
WEATHER = '\n[[weather]]\nid = "smhi"\n'


def _competition_files(folder: Path) -> dict[str, Path]:
    """The example competition as shipped (previous-year) and with a regression baseline."""
    text = EXAMPLE.read_text(encoding="utf-8")
    shipped = 'baseline = { method = "previous-year" }'
    if shipped not in text:
        raise SystemExit(f"{EXAMPLE} no longer has {shipped!r}: update bench/operations.py")
    regression = text.replace(shipped, 'baseline = { method = "regression" }') + WEATHER
    files = {"previous-year": EXAMPLE, "regression": folder / "regression.toml"}
    files["regression"].write_text(regression, encoding="utf-8")
    return files


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


def _cpu_s(pid: int) -> float:
    """User plus system CPU time of the process so far [s]: unlike the wall clock, hardly
    moved by other work on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _loaded_numba(pid: int) -> bool:
    return "libllvmlite" in Path(f"/proc/{pid}/maps").read_text()


def _healthz_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def _start_once(
    config: Path, folder: Path, checkout: Path = ROOT, timeout_s: float = 120.0
) -> tuple[float, float, float, bool]:
    """(seconds to the first /healthz answer, CPU seconds and RSS [MiB] then, numba loaded)
    of one serve of the code in ``checkout``."""
    port = free_port()
    store = folder / f"store-{port}.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTLEAGUE_")}
    env["WATTLEAGUE_LOG_FORMAT"] = "text"
    cmd = [sys.executable, "-m", "wattleague", "serve", "--config", str(config)]
    cmd += ["--store", f"sqlite:///{store}", "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while not _healthz_answers(port):
            if proc.poll() is not None:
                raise SystemExit(f"serve exited {proc.returncode}: {proc.stderr.read().decode()}")
            if time.perf_counter() - t0 > timeout_s:
                raise SystemExit(f"serve did not answer /healthz within {timeout_s:.0f} s")
            time.sleep(0.01)
        seconds = time.perf_counter() - t0
        return seconds, _cpu_s(proc.pid), _rss_mib(proc.pid), _loaded_numba(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def _summary(runs: list[tuple[float, float, float, bool]]) -> tuple[float, float, float, str]:
    """Medians of start seconds, CPU seconds and RSS; whether numba was loaded."""
    numba = {r[3] for r in runs}
    loaded = "yes" if numba == {True} else "no" if numba == {False} else "sometimes"
    medians = [statistics.median(r[i] for r in runs) for i in range(3)]
    return medians[0], medians[1], medians[2], loaded


def serve_start(repeat: int, against: Path | None = None) -> None:
    """Start time and memory of ``serve``, without and with a regression competition (and of
    another checkout's, interleaved, with ``against``)."""
    print(f"serve start: process start to first /healthz answer, median of {repeat}")
    if against is not None:
        print(f"against {against} (started in turn with this checkout)")
    cols = f"{'start s':>8} {'CPU s':>6} {'RSS MiB':>8}  numba"
    print(f"{'competition':<15} {cols}" + (f"  | against: {cols}" if against else ""))
    figures, ratios = {}, {}
    with tempfile.TemporaryDirectory(prefix="wattleague-bench-") as tmp:
        folder = Path(tmp)
        for kind, config in _competition_files(folder).items():
            runs, other = [], []
            for _ in range(repeat):
                runs.append(_start_once(config, folder))
                if against is not None:
                    other.append(_start_once(config, folder, against))
            this = figures[kind] = _summary(runs)
            line = f"{kind:<15} {this[0]:8.2f} {this[1]:6.2f} {this[2]:8.1f}  {this[3]:<5}"
            if against is not None:
                that = _summary(other)
                ratios[kind] = [a / b for a, b in zip(this[:3], that[:3], strict=True)]
                line += f"  |          {that[0]:8.2f} {that[1]:6.2f} {that[2]:8.1f}  {that[3]}"
            print(line)
    plain, regr = figures["previous-year"], figures["regression"]
    print(
        f"regression / previous-year: start {regr[0] / plain[0]:.2f}x, "
        f"CPU {regr[1] / plain[1]:.2f}x, RSS {regr[2] / plain[2]:.2f}x"
    )
    for kind, (start, cpu, rss) in ratios.items():
        print(f"{kind}: this / against: start {start:.2f}x, CPU {cpu:.2f}x, RSS {rss:.2f}x")


# -- backup: `wattleague deploy backup` while ingest writes --------------------------------

BACKUP_STORE_MB = 120
BACKUP_RATE_MSG_S = 50.0  # what the ingest stored when backups did not finish
BACKUP_METERS = 24  # meters publishing, one reading a message, in turn
STEPS_DEADLINE_S = 30.0  # the stepwise candidate is given up after this


class _TimedStore(SQLiteStore):
    """The real SQLite store, with the start and duration of each ``write`` recorded."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[tuple[float, float]] = []  # (start, seconds), perf_counter

    def write(self, messages, release_ids=()):
        t0 = time.perf_counter()
        try:
            return super().write(messages, release_ids)
        finally:
            self.writes.append((t0, time.perf_counter() - t0))


def _build_store(path: Path, store_mb: float) -> tuple[int, float]:
    """Fill ``path`` through the store with register readings of 200 meters (10 s apart)
    until the file holds ``store_mb`` MB; returns (readings, seconds)."""
    from ingest.store.base import Message, StoredReading

    store = SQLiteStore(path)
    t0 = time.perf_counter()
    first_s = int(time.time()) - 300 * 86400
    i = readings = 0
    while _file_mb(path) < store_mb:
        messages = []
        for m in range(200):
            rows = [
                StoredReading(
                    f"bulk-{m}", (first_s + (i + k) * 10) * 1000, 1e3 + (i + k) / 360, None
                )
                for k in range(50)
            ]
            messages.append(Message(f"bulk/{m}", first_s * 1000, readings=rows))
            readings += len(rows)
        store.write(messages)
        i += 50
    store._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return readings, time.perf_counter() - t0


def _file_mb(path: Path) -> float:
    wal = Path(f"{path}-wal")
    return (path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)) / 1e6


class _PacedPublisher(threading.Thread):
    """Publishes ``rate`` single-reading messages a second (QoS 1) while ``on`` is set."""

    def __init__(self, port: int, rate: float) -> None:
        super().__init__(daemon=True)
        import paho.mqtt.client as mqtt

        from bench.scale_out import topic_of

        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-backup-pub")
        self.client.connect("127.0.0.1", port)
        self.topics = [topic_of(BACKUP_METERS, m) for m in range(BACKUP_METERS)]
        self.gap_s = 1.0 / rate
        self.first_s = int(time.time()) - 100 * 86400
        self.on, self.done = threading.Event(), threading.Event()
        self.published = 0

    def run(self) -> None:
        import orjson

        self.client.loop_start()
        next_s = time.monotonic()
        while not self.done.is_set():
            if not self.on.wait(0.1):
                next_s = time.monotonic()
                continue
            n = self.published
            payload = {"ts": self.first_s + n, "energy_kwh": 1e3 + n / 3600, "power_w": 450.0}
            self.client.publish(self.topics[n % BACKUP_METERS], orjson.dumps(payload), qos=1)
            self.published += 1
            next_s += self.gap_s
            time.sleep(max(0.0, next_s - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()


def _backup_steps(store: Path, out: Path) -> str | None:
    """The code before: SQLite's online backup in steps of 1,024 pages, given up after
    STEPS_DEADLINE_S; returns why it did not finish, or None."""
    import sqlite3

    from ingest.store.sqlite_maintenance import check_store_file

    tmp = out.with_name(f".{out.name}.partial")
    tmp.unlink(missing_ok=True)
    src, dst = sqlite3.connect(store), sqlite3.connect(tmp)
    t0, last, restarts = time.monotonic(), [None], [0]

    def progress(status, remaining, total) -> None:
        if last[0] is not None and remaining > last[0]:
            restarts[0] += 1
        last[0] = remaining
        if time.monotonic() - t0 > STEPS_DEADLINE_S:
            raise TimeoutError(f"unfinished after {STEPS_DEADLINE_S:.0f} s, {restarts[0]} restarts")

    try:
        src.backup(dst, pages=1024, progress=progress)
        dst.execute("PRAGMA journal_mode=DELETE")
    except TimeoutError as exc:
        return str(exc)
    finally:
        dst.close()
        src.close()
    check_store_file(tmp)
    os.replace(tmp, out)
    return None


def _backup_one_step(store: Path, out: Path) -> None:
    """The online backup API in one step (one read transaction), checked and renamed."""
    import sqlite3

    from ingest.store.sqlite_maintenance import check_store_file

    tmp = out.with_name(f".{out.name}.partial")
    tmp.unlink(missing_ok=True)
    src, dst = sqlite3.connect(store), sqlite3.connect(tmp)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()
    check_store_file(tmp)
    os.replace(tmp, out)


def _backup_chosen(store: Path, out: Path) -> None:
    from ingest.store.sqlite_maintenance import backup

    backup(store, out, force=True)


BACKUP_CANDIDATES = {
    "VACUUM INTO (deploy backup)": _backup_chosen,
    "backup API, one step": _backup_one_step,
    "backup API, 1024-page steps (before)": _backup_steps,
}


def _latencies_ms(writes: list[tuple[float, float]], windows: list[tuple[float, float]]):
    """Durations [ms] of the writes overlapping any window, and of the others."""
    inside, outside = [], []
    for start, seconds in writes:
        hit = any(start < hi and start + seconds > lo for lo, hi in windows)
        (inside if hit else outside).append(seconds * 1000)
    return inside, outside


def _worst(ms: list[float]) -> str:
    if not ms:
        return "no writes"
    p99 = sorted(ms)[max(0, int(len(ms) * 0.99) - 1)]
    return f"{len(ms):5d} writes, p99 {p99:6.1f} ms, worst {max(ms):6.1f} ms"


def backup_under_load(repeat: int, store_mb: float, candidates: bool) -> None:
    """``deploy backup`` of a ``store_mb`` MB store idle and while ingest stores 50 msg/s."""
    from bench.scale_out import competition_toml
    from ingest.mqtt_url import parse_mqtt_url
    from ingest.mqtt_worker import IngestWorker
    from ingest.routing import Routing
    from scoring.competition_file import parse_competition
    from tests.services import Mosquitto

    methods = BACKUP_CANDIDATES if candidates else dict(list(BACKUP_CANDIDATES.items())[:1])
    with tempfile.TemporaryDirectory(prefix="wattleague-bench-backup-") as tmp:
        folder = Path(tmp)
        live, out = folder / "live.db", folder / "backup.db"
        readings, build_s = _build_store(live, store_mb)
        live_mb = _file_mb(live)
        print(
            f"backup: a {live_mb:.0f} MB store ({readings:,} readings, built in "
            f"{build_s:.0f} s); idle, then while a real IngestWorker stores "
            f"{BACKUP_RATE_MSG_S:g} msg/s from Mosquitto; median of {repeat}, runs interleaved"
        )
        broker = Mosquitto(folder / "mosquitto")
        broker.start()
        store = _TimedStore(live)
        routing = Routing.from_competitions(
            [parse_competition(competition_toml(BACKUP_METERS), "bench.toml")]
        )
        worker = IngestWorker(parse_mqtt_url(broker.url), store, routing, client_id="bench-backup")
        publisher = _PacedPublisher(broker.port, BACKUP_RATE_MSG_S)
        seconds: dict[tuple[str, str], list[float]] = {}
        windows: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
        unfinished: dict[str, str] = {}
        sizes_mb: dict[str, float] = {}
        try:
            worker.start()
            if not worker.subscribed.wait(20):
                raise SystemExit("bench backup: the worker got no SUBACK")
            publisher.start()
            for _ in range(repeat):
                for name, run in methods.items():
                    for load in ("idle", "load"):
                        if load == "load":
                            publisher.on.set()
                            time.sleep(2.0)  # ingest in its stride before the clock starts
                        else:
                            publisher.on.clear()
                            _wait_stored(worker, publisher)
                        t0 = time.perf_counter()
                        why = run(live, out)
                        elapsed = time.perf_counter() - t0
                        if load == "load":
                            windows[name].append((t0, t0 + elapsed))
                        if why:
                            unfinished[f"{name}, {load}"] = why
                        else:
                            seconds.setdefault((name, load), []).append(elapsed)
                            sizes_mb[name] = out.stat().st_size / 1e6
                        if load == "load":
                            time.sleep(1.0)  # and after it: writes outside any backup
            publisher.on.clear()
            _wait_stored(worker, publisher)
        finally:
            publisher.done.set()
            publisher.join(timeout=10)
            worker.stop()
            broker.stop()
        writes = list(store.writes)
        store.close()

    print(f"stored {publisher.published:,} messages in {len(writes):,} transactions")
    print(f"{'method':<37} {'idle s':>6} {'load s':>6} {'load/idle':>9} {'file MB':>7}")
    for name in methods:
        idle, loaded = seconds.get((name, "idle")), seconds.get((name, "load"))
        cells = [f"{statistics.median(x):6.2f}" if x else f"{'—':>6}" for x in (idle, loaded)]
        ratio = (
            f"{statistics.median(loaded) / statistics.median(idle):8.2f}x"
            if idle and loaded
            else f"{'—':>9}"
        )
        size = f"{sizes_mb[name]:7.0f}" if name in sizes_mb else f"{'—':>7}"
        goal = "  [goal <= 2x]" if name == next(iter(methods)) else ""
        print(f"{name:<37} {cells[0]} {cells[1]} {ratio} {size}{goal}")
    for what, why in unfinished.items():
        print(f"  {what}: did not finish ({why})")
    print("ingest write latency (each store.write, one transaction):")
    outside = _latencies_ms(writes, [w for ws in windows.values() for w in ws])[1]
    print(f"  {'no backup running':<44} {_worst(outside)}")
    for name, ws in windows.items():
        print(f"  {'during ' + name:<44} {_worst(_latencies_ms(writes, ws)[0])}")


def _wait_stored(worker, publisher: _PacedPublisher, timeout_s: float = 60.0) -> None:
    """Until the worker has stored every message published so far."""
    deadline = time.monotonic() + timeout_s
    while worker.stats["messages"] < publisher.published:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"bench backup: {publisher.published - worker.stats['messages']} messages not "
                f"stored within {timeout_s:.0f} s"
            )
        time.sleep(0.01)


PARTS = {
    "serve_start": lambda args: serve_start(args.repeat, args.against),
    "backup": lambda args: backup_under_load(args.repeat, args.backup_mb, args.backup_candidates),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"of {', '.join(PARTS)}")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    parser.add_argument(
        "--against",
        type=Path,
        help="serve_start: another checkout (e.g. an older commit) to time in turn with this one",
    )
    parser.add_argument(
        "--backup-mb", type=float, default=BACKUP_STORE_MB, help="backup: store size [MB]"
    )
    parser.add_argument(
        "--backup-candidates",
        action="store_true",
        help="backup: also time the online backup API in one step and in steps",
    )
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        parser.error(f"--only: unknown {', '.join(unknown) or '(none)'}; known: {', '.join(PARTS)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.against is not None and not (args.against / "wattleague" / "cli.py").is_file():
        parser.error(f"--against: {args.against} is not a Watt League checkout")
    for part in parts:
        PARTS[part](args)


if __name__ == "__main__":
    main()

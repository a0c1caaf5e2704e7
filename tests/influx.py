"""A private InfluxDB 1.x (Debian's ``influxd``) for tests and benchmarks.

``Influxd(workdir)`` writes its own configuration (loopback ports picked free, data under
``workdir``, reporting, query log and the ``_internal`` monitor store off) and ``start()``s
``influxd -config …``; ``stop()`` is SIGTERM and ``start()`` brings it back on the same ports
and directories, so a test can cut the store off and let it return with its data.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.services import free_port

INFLUXD = "/usr/bin/influxd"


def influxd_binary() -> str:
    path = shutil.which("influxd") or (INFLUXD if os.path.exists(INFLUXD) else None)
    if path is None:
        raise RuntimeError(
            "influxd (InfluxDB 1.x) is not installed; run the README's test command "
            "(bash scripts/test.sh), which installs Debian's influxdb package"
        )
    return path


def database_name(text: str) -> str:
    """A database name made from any text (a test node id): letters, digits and ``_``."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"t_{name[-100:]}_{digest}"


class Influxd:
    """A private ``influxd`` on free loopback ports, with its data in ``workdir``."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.rpc_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "influxd.log"
        self.conf = self.workdir / "influxdb.conf"
        self.conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            "[meta]\n"
            f'  dir = "{self.workdir}/meta"\n'
            "  logging-enabled = false\n"
            "[data]\n"
            f'  dir = "{self.workdir}/data"\n'
            f'  wal-dir = "{self.workdir}/wal"\n'
            "  query-log-enabled = false\n"
            "  trace-logging-enabled = false\n"
            '  cache-max-memory-size = "4g"\n'
            "[monitor]\n"
            "  store-enabled = false\n"
            "[http]\n"
            "  enabled = true\n"
            f'  bind-address = "127.0.0.1:{self.port}"\n'
            "  log-enabled = false\n"
            "  max-body-size = 0\n"
            "[continuous_queries]\n"
            "  enabled = false\n"
            "[logging]\n"
            '  level = "warn"\n'
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, db: str, owner: str = "", **params: str) -> str:
        """The store URL of database ``db``, with its own spool file in ``workdir`` (one per
        ``owner``: a spool belongs to one process, or store object)."""
        spool = f"{self.workdir}/spool-{db}{'-' + owner if owner else ''}.db"
        query = "&".join([f"spool={spool}", *(f"{k}={v}" for k, v in params.items())])
        return f"influxdb://127.0.0.1:{self.port}/{db}?{query}"

    def start(self, timeout_s: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [influxd_binary(), "-config", str(self.conf)], stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"influxd exited ({self.proc.returncode}):\n{self.log()}")
            if self.answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"influxd did not answer on port {self.port}:\n{self.log()}")

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/ping", timeout=1.0).status_code == 204
        except httpx.HTTPError:
            return False

    def version(self) -> str:
        return httpx.get(f"{self.base_url}/ping", timeout=5).headers.get("X-Influxdb-Version", "?")

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- direct access, for checks that must not go through the store under test --------

    def query(self, db: str, q: str, epoch: str = "ms") -> list[dict]:
        response = httpx.post(
            f"{self.base_url}/query", params={"db": db, "epoch": epoch}, data={"q": q}, timeout=30
        )
        response.raise_for_status()
        return response.json()["results"]

    def write_lines(self, db: str, text: str, precision: str = "ms") -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/write",
            params={"db": db, "precision": precision},
            content=text.encode(),
            timeout=30,
        )

    def create_database(self, db: str) -> None:
        self.query(db, f'CREATE DATABASE "{db}"')

    def drop_database(self, db: str) -> None:
        self.query(db, f'DROP DATABASE "{db}"')

    def databases(self) -> list[str]:
        (result,) = self.query("", "SHOW DATABASES")
        return [v[0] for s in result.get("series", []) for v in s["values"]]

    def count_points(self, db: str, measurement: str) -> int:
        """Points of ``measurement`` (every field counted, the most of any field)."""
        (result,) = self.query(db, f'SELECT count(*) FROM "{measurement}"')
        counts = [v for s in result.get("series", []) for row in s["values"] for v in row[1:] if v]
        return max(counts, default=0)

    def measurements(self, db: str) -> list[str]:
        (result,) = self.query(db, "SHOW MEASUREMENTS")
        return [v[0] for s in result.get("series", []) for v in s["values"]]

    def series(self, db: str) -> list[str]:
        (result,) = self.query(db, "SHOW SERIES")
        return [v[0] for s in result.get("series", []) for v in s["values"]]

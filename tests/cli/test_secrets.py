"""Secrets never leave: every failure path of the commands, driven with a password or token in
the URL, and all they print (stdout, stderr in text and JSON logs, /healthz) searched for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.services import free_port, wait_until

SECRET = "S3cr3t-pa55"
EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "kommunhus-2011.toml"


def _wattleague(*args: str, env: dict | None = None, timeout_s: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "wattleague", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **(env or {})},
    )
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def _running(args: list[str], seconds: float, env: dict | None = None) -> str:
    """Output of a long-running command stopped with SIGINT after ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattleague", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return f"{out}\n{err}"


def _closed_port() -> int:
    return free_port()  # nothing listens there


@pytest.mark.parametrize(
    "args",
    [
        ["ingest", "--mqtt", f"mqtt://meter:{SECRET}@host:99999"],
        ["ingest", "--store", f"influxdb://admin:{SECRET}@127.0.0.1:99999/db"],
        ["ingest", "--store", f"influxdb2://{SECRET}@127.0.0.1:8086/bucket"],
        ["ingest", "--store", f"postgres://admin:{SECRET}@127.0.0.1/db"],
        ["serve", "--store", f"influxdb://admin:{SECRET}@127.0.0.1:99999/db"],
        ["serve", "--health-mqtt", f"mqtts://probe:{SECRET}@:1883"],
        ["simulate", "--mqtt", f"mqtt://meter:{SECRET}@host:99999"],
    ],
    ids=lambda a: " ".join(a)[:40],
)
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_url_errors_mask_the_secret(args, log_format):
    output = _wattleague("--log-format", log_format, *args, "--config", str(EXAMPLE))
    assert output.startswith("exit ") and not output.startswith("exit 0"), output
    assert SECRET not in output
    assert "***" in output, output


@pytest.mark.parametrize(
    "args",
    [
        ["deploy", "backup", "--store", f"influxdb://admin:{SECRET}@127.0.0.1:8086/db"],
        ["deploy", "prune", "--store", f"influxdb2://{SECRET}@127.0.0.1:8086/b?org=o"],
        ["display", "--url", f"ftp://u:{SECRET}@127.0.0.1/", "--display", "x", "--once"],
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_other_commands_mask_the_secret(args, tmp_path):
    if args[:2] == ["deploy", "backup"]:
        args = [*args, "--out", str(tmp_path / "b.db")]
    output = _wattleague(*args)
    assert not output.startswith("exit 0"), output
    assert SECRET not in output


def test_an_unreachable_broker_and_store_log_no_secret(tmp_path):
    """ingest retrying a broker and an InfluxDB that do not answer, in JSON logs."""
    output = _running(
        [
            "--log-format",
            "json",
            "--verbose",
            "ingest",
            "--config",
            str(EXAMPLE),
            "--mqtt",
            f"mqtt://meter:{SECRET}@127.0.0.1:{_closed_port()}",
            "--store",
            f"influxdb://admin:{SECRET}@127.0.0.1:{_closed_port()}/db?spool={tmp_path}/s.db",
        ],
        seconds=6,
    )
    assert "127.0.0.1" in output  # it did say what it could not reach
    assert SECRET not in output


def test_serve_that_cannot_reach_its_store_says_so_without_the_secret(tmp_path):
    output = _wattleague(
        "serve",
        "--config",
        str(EXAMPLE),
        "--port",
        str(free_port()),
        "--store",
        f"influxdb://admin:{SECRET}@127.0.0.1:{_closed_port()}/db?spool={tmp_path}/s.db",
    )
    assert not output.startswith("exit 0") and "cannot reach InfluxDB" in output
    assert SECRET not in output


def test_healthz_and_logs_of_serve_say_no_secret(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wattleague",
            "--verbose",
            "serve",
            "--config",
            str(EXAMPLE),
            "--port",
            str(port),
            "--store",
            f"sqlite:///{tmp_path}/store.db",
            "--health-mqtt",
            f"mqtt://probe:{SECRET}@127.0.0.1:{_closed_port()}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def answered():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
            except httpx.HTTPError:
                return None

        health = wait_until(answered, timeout_s=120, interval_s=0.5)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    body = health.json()
    assert body["status"] == "degraded" and body["broker"]["connected"] is False
    for text in (health.text, metrics, out, err):
        assert SECRET not in text

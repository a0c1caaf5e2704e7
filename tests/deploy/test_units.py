"""The shipped systemd units start, proved: each unit's ExecStart runs under its restrictions
(``tests.deploy.sandbox``: namespaces, read-only file system, the unit user, no new
privileges, MemoryDenyWriteExecute, the system call, address family and namespace filters)
with a test folder standing in for the installed paths, against a real Mosquitto and SQLite
store; and ``systemd-analyze verify`` accepts every unit.

Needs root (the sandbox builds namespaces and drops to uid 65534 as systemd drops to the
unit's user) and Linux 6.3+ (PR_SET_MDWE); it fails, never skips, without them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import paho.mqtt.client as mqtt
import pytest

from ingest.store.base import Message, StoredReading, StoredTemperature
from ingest.store.sqlite import SQLiteStore
from tests.deploy.units import (
    ENV_EXAMPLE,
    NOBODY_UID,
    NOGROUP_GID,
    NOT_APPLIED,
    UNITS,
    VENV,
    Host,
    Sandboxed,
    exec_argv,
    read_unit,
    run_to_end,
    sandbox_spec,
    seconds,
    service_environment,
)
from tests.services import free_port, wait_until

EXAMPLE = UNITS.parents[1] / "deploy" / "examples" / "kommunhus-2011.toml"
PREVIOUS_YEAR = 'baseline = { method = "previous-year" }'
REGRESSION = 'baseline = { method = "regression" }'
REGRESSION_TOML = (
    EXAMPLE.read_text(encoding="utf-8").replace(PREVIOUS_YEAR, REGRESSION)
    + '\n[[weather]]\nid = "smhi"\n'
)
SERVE, INGEST, MAINTENANCE = (
    "wattleague-serve.service",
    "wattleague-ingest@.service",
    "wattleague-maintenance.service",
)
CLEAN_EXITS = (0, -15)  # systemd counts SIGTERM as a clean stop of a service


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.fail("tests/deploy/test_units.py builds namespaces and changes user: run as root")


def test_the_units_are_all_tested():
    shipped = sorted(p.name for p in UNITS.iterdir())
    assert shipped == [
        INGEST,
        MAINTENANCE,
        "wattleague-maintenance.timer",
        SERVE,
    ], "a new unit needs its test here"


def test_systemd_analyze_verify_accepts_every_unit(tmp_path):
    """On copies whose ExecStart binary exists (this checkout's .venv for /opt/wattleague/.venv):
    verify reports a missing binary. Warnings (an unknown key, a bad value) keep its exit code
    0, so any output fails the test too."""
    assert shutil.which("systemd-analyze"), "install Debian's systemd (scripts/test.sh does)"
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8").replace("/opt/wattleague/.venv", str(VENV))
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )


# -- a test host: the installed paths in a folder, as the README's install steps leave them --


def _make_host(root: Path, competition_toml: str, env: dict[str, str]) -> Host:
    host = Host(root)
    etc = host.path("/etc/wattleague")
    etc.mkdir(parents=True)
    os.chown(etc, 0, NOGROUP_GID)  # install -d -m 0750 -o root -g wattleague
    etc.chmod(0o750)
    text = host.substitute(ENV_EXAMPLE.read_text(encoding="utf-8"))
    for key, value in env.items():  # as the operator edits the example
        text, n = _assign(text, key, value)
        assert n == 1, f"{key} is not set in {ENV_EXAMPLE.name}"
    env_file = etc / "wattleague.env"
    env_file.write_text(text)
    os.chown(env_file, 0, NOGROUP_GID)
    env_file.chmod(0o640)
    (etc / "competition.toml").write_text(competition_toml, encoding="utf-8")
    # StateDirectory= and CacheDirectory= (systemd makes them, owned by the unit's user);
    # /var/backups/wattleague by the README's install -d -o wattleague
    for path in ("/var/lib/wattleague", "/var/cache/wattleague", "/var/backups/wattleague"):
        folder = host.path(path)
        folder.mkdir(parents=True)
        os.chown(folder, NOBODY_UID, NOGROUP_GID)
        folder.chmod(0o750)
    return host


def _assign(text: str, key: str, value: str) -> tuple[str, int]:
    return re.subn(rf"^{key}=.*$", f"{key}={value}", text, flags=re.MULTILINE)


def _give_to_unit_user(host: Host) -> None:
    """Files the test wrote as root into the state folder belong to the unit's user (systemd
    chowns StateDirectory= on start)."""
    state = host.path("/var/lib/wattleague")
    for path in [state, *state.rglob("*")]:
        os.chown(path, NOBODY_UID, NOGROUP_GID)


def _start(
    host: Host,
    unit_name: str,
    log: Path,
    instance: str | None = None,
    env_changes: dict[str, str | None] | None = None,
    **override,
):
    """The unit's ExecStart in the sandbox; ``env_changes`` set (or with None drop) variables
    of the service's environment, ``override`` restrictions (a drop-in)."""
    unit = read_unit(UNITS / unit_name, host, instance)
    env = service_environment(unit, host)
    for key, value in (env_changes or {}).items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    (line,) = unit.all("ExecStart")
    spec = sandbox_spec(unit, host, exec_argv(line, env), env, **override)
    stop_s = seconds(unit.get("TimeoutStopSec"), 90.0)
    return Sandboxed(spec, log, unit.get("KillSignal", "SIGTERM")), stop_s


def _get(url: str, timeout_s: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# a serve that scores a regression compiles its numba code first: about 75 s on an idle 2-core
# machine with an empty cache, several times that when the machine is busy (a wait, not a goal)
def _wait_for_healthz(job: Sandboxed, url: str, timeout_s: float = 280.0) -> dict:
    answer = {}

    def healthy() -> bool:
        assert job.alive(), f"the service exited ({job.proc.returncode}):\n{job.log()}"
        try:
            status, body = _get(url, timeout_s=2.0)
        except OSError:
            return False
        answer.update(orjson.loads(body))
        return status == 200

    wait_until(healthy, timeout_s=timeout_s, interval_s=0.1)
    return answer


def _loads_numba(job: Sandboxed) -> bool:
    return "libllvmlite" in Path(f"/proc/{job.proc.pid}/maps").read_text()


def _serve_env(mosquitto) -> tuple[dict[str, str], int]:
    port = free_port()
    env = {
        "WATTLEAGUE_PORT": str(port),
        "WATTLEAGUE_MQTT": mosquitto.url,
        "WATTLEAGUE_HEALTH_MQTT": mosquitto.url,
    }
    return env, port


def _seed_a_baseline_year(host: Host) -> None:
    """One site's hourly register readings and its station's temperatures for the baseline
    year and the first two weeks, so that serve fits a regression on a request."""
    store = SQLiteStore(host.path("/var/lib/wattleague/wattleague.db"))
    first = datetime(2010, 3, 1, tzinfo=UTC).timestamp()
    hours = np.arange(0, (365 + 14) * 24)
    ts_ms = ((first + hours * 3600.0) * 1000).astype(np.int64)
    temp_c = 5.0 - 12.0 * np.cos(2 * np.pi * (hours / 24.0 + 45) / 365.0)
    kwh = (100.0 + 4.0 * np.maximum(15.0 - temp_c, 0.0)) / 24.0
    register = 1000.0 + np.cumsum(kwh)
    readings = [
        StoredReading("soderhamn-main", int(t), float(r), None)
        for t, r in zip(ts_ms.tolist(), register.tolist(), strict=True)
    ]
    temps = [
        StoredTemperature("smhi", int(t), float(c))
        for t, c in zip(ts_ms.tolist(), temp_c.tolist(), strict=True)
    ]
    store.write([Message("seed", 0, "test", readings, temperatures=temps)])
    store.close()
    _give_to_unit_user(host)


# -- the sandbox itself: every restriction it claims is in force -----------------------------

_PROBE = textwrap.dedent(
    """
    import ctypes, errno, json, mmap, os, signal, socket, subprocess, sys, threading
    state, etc = sys.argv[1], sys.argv[2]
    libc = ctypes.CDLL(None, use_errno=True)

    def attempt(fn):
        try:
            fn()
            return "ok"
        except OSError as exc:
            return errno.errorcode[exc.errno]

    def call(result):
        return "ok" if result == 0 else errno.errorcode[ctypes.get_errno()]

    status = dict(
        line.split(":", 1) for line in open("/proc/self/status").read().splitlines()
    )
    out = {k: status[k].strip() for k in ("NoNewPrivs", "Seccomp", "CapBnd", "CapEff")}
    out["ids"] = [os.getuid(), os.getgid(), os.getgroups()]
    out["umask"] = oct(os.umask(0o027))
    out["read_only"] = {
        p: bool(os.statvfs(p).f_flag & os.ST_RDONLY)
        for p in ["/", "/usr", "/etc", sys.prefix, etc, state, "/tmp", "/proc/sys", "/sys"]
    }
    out["write_state"] = attempt(lambda: open(os.path.join(state, "probe"), "w").close())
    out["list_home"] = attempt(lambda: os.listdir("/home"))
    out["list_root"] = attempt(lambda: os.listdir("/root"))
    out["tmp"] = sorted(os.listdir("/tmp"))
    out["dev"] = sorted(os.listdir("/dev"))
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    out["proc_owners"] = sorted({os.stat("/proc/" + p).st_uid for p in pids})
    out["interfaces"] = sorted(
        line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]
    )
    prot = mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
    out["mmap_write_exec"] = attempt(lambda: mmap.mmap(-1, 4096, prot=prot))
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + [ctypes.c_int] * 3 + [ctypes.c_long]
    page = libc.mmap(None, 4096, 3, 0x22, -1, 0)  # read+write, private anonymous
    out["mprotect_exec"] = call(libc.mprotect(ctypes.c_void_p(page), 4096, 5))
    out["mdwe"] = libc.prctl(66, 0, 0, 0, 0)  # PR_GET_MDWE
    for name in ("AF_INET", "AF_UNIX", "AF_NETLINK", "AF_PACKET"):
        family = getattr(socket, name)
        out[name] = attempt(lambda: socket.socket(family, socket.SOCK_DGRAM).close())
    out["unshare_user"] = call(libc.unshare(0x10000000))
    out["unshare_net"] = call(libc.unshare(0x40000000))
    done = []
    thread = threading.Thread(target=lambda: done.append(1))
    thread.start()
    thread.join()
    out["thread"] = "ok" if done else "failed"
    # ptrace is outside @system-service: the filter kills the process that calls it
    child = [sys.executable, "-c", "import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)"]
    out["ptrace_child"] = subprocess.run(child).returncode
    print(json.dumps(out))
    """
)


def _probe(host: Host, unit_name: str, log: Path, **override) -> dict:
    unit = read_unit(UNITS / unit_name, host, instance="1")
    env = service_environment(unit, host)
    argv = [str(VENV / "bin" / "python"), "-c", _PROBE]
    argv += [str(host.path("/var/lib/wattleague")), str(host.path("/etc/wattleague"))]
    code, output = run_to_end(sandbox_spec(unit, host, argv, env, **override), log, 120.0)
    assert code == 0, output
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.parametrize("unit_name", [SERVE, INGEST, MAINTENANCE])
def test_the_sandbox_applies_what_it_says(tmp_path, unit_name):
    """The restrictions the sandbox claims to apply are in force inside it: a unit test of the
    harness, so that a service starting in it proves something."""
    host = _make_host(tmp_path / "host", EXAMPLE.read_text(), {})
    unit = read_unit(UNITS / unit_name, host, instance="1")
    # MemoryDenyWriteExecute forced on (a drop-in) to test that part of the sandbox in each
    seen = _probe(host, unit_name, tmp_path / "probe.log", memory_deny_write_execute=True)
    state, etc = str(host.path("/var/lib/wattleague")), str(host.path("/etc/wattleague"))
    assert seen["ids"] == [NOBODY_UID, NOGROUP_GID, []]
    assert seen["NoNewPrivs"] == "1" and seen["Seccomp"] == "2"
    assert seen["CapBnd"] == seen["CapEff"] == "0000000000000000"
    assert seen["umask"] == oct(int(unit.get("UMask"), 8))
    read_only = {p: True for p in ["/", "/usr", "/etc", str(VENV), etc, "/proc/sys", "/sys"]}
    assert seen["read_only"] == {**read_only, state: False, "/tmp": False}
    assert seen["write_state"] == "ok"
    assert seen["list_home"] == seen["list_root"] == "EACCES"
    # only the test's folder (and the checkout, when it was cloned under /tmp: units.py)
    kept = [Path(state), Path(__file__).resolve().parents[2]]
    assert seen["tmp"] == sorted(
        {p.relative_to("/tmp").parts[0] for p in kept if p.is_relative_to("/tmp")}
    )
    nodes = ["null", "zero", "full", "random", "urandom", "tty", "shm", "pts", "ptmx"]
    assert seen["dev"] == sorted([*nodes, "stdin", "stdout", "stderr", "fd"])
    assert seen["proc_owners"] == [NOBODY_UID]  # ProtectProc=invisible
    assert seen["mmap_write_exec"] in ("EPERM", "EACCES")
    assert seen["mprotect_exec"] in ("EPERM", "EACCES")
    assert seen["mdwe"] == 1  # the kernel's own, under the seccomp variant that answered first
    allowed = unit.words("RestrictAddressFamilies")
    for family in ("AF_INET", "AF_UNIX", "AF_NETLINK", "AF_PACKET"):
        assert seen[family] == ("ok" if family in allowed else "EAFNOSUPPORT"), family
    assert seen["unshare_user"] == seen["unshare_net"] == "EPERM"
    assert seen["thread"] == "ok"  # clone3 refused with ENOSYS, the C library falls back
    assert seen["ptrace_child"] == -31  # SIGSYS
    if unit.yes("PrivateNetwork"):
        assert seen["interfaces"] == ["lo"]


def test_every_directive_not_applied_says_why():
    for unit_path in UNITS.glob("*.service"):
        unit = read_unit(unit_path, instance="1")
        for key, _ in unit.sections["Service"]:
            if key in NOT_APPLIED:
                assert len(NOT_APPLIED[key]) > 10


# -- the services -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["previous-year", "regression"])
def test_serve_unit_starts_with_each_kind_of_competition(tmp_path, mosquitto, kind):
    """The shipped unit as it is. With a regression baseline the leaderboard fits it: numba
    compiles (into NUMBA_CACHE_DIR, the unit's CacheDirectory) and runs under the unit."""
    env, port = _serve_env(mosquitto)
    toml = REGRESSION_TOML if kind == "regression" else EXAMPLE.read_text()
    host = _make_host(tmp_path / "host", toml, env)
    if kind == "regression":
        _seed_a_baseline_year(host)
    job, stop_s = _start(host, SERVE, tmp_path / "serve.log")
    try:
        health = _wait_for_healthz(job, f"http://127.0.0.1:{port}/healthz")
        assert health["status"] == "ok" and health["broker"], health
        assert _loads_numba(job) == (kind == "regression")
        url = f"http://127.0.0.1:{port}/api/competitions/kommunhus-2011/leaderboard"
        status, body = _get(url, timeout_s=900.0)  # a first fit compiles (1-2 min)
        assert status == 200, body
        if kind == "regression":
            entry = next(e for e in orjson.loads(body)["entries"] if e["site"] == "soderhamn")
            assert entry["baseline_kwh"] > 0, entry
            assert list(host.path("/var/cache/wattleague/numba").rglob("*.nbi"))
    finally:
        code = job.stop(stop_s + 5.0)
    assert code in CLEAN_EXITS, job.log()


def test_serve_with_the_drop_in_starts_without_regression_and_says_why_not_with(
    tmp_path, mosquitto
):
    """The unit's comment: a deployment without a regression competition adds
    MemoryDenyWriteExecute=yes back. That one starts; a regression competition then stops
    at start with the reason, as systemd would log it."""
    env, port = _serve_env(mosquitto)
    host = _make_host(tmp_path / "plain", EXAMPLE.read_text(), env)
    job, stop_s = _start(host, SERVE, tmp_path / "plain.log", memory_deny_write_execute=True)
    try:
        _wait_for_healthz(job, f"http://127.0.0.1:{port}/healthz")
        url = f"http://127.0.0.1:{port}/api/competitions/kommunhus-2011/leaderboard"
        assert _get(url)[0] == 200
    finally:
        code = job.stop(stop_s + 5.0)
    assert code in CLEAN_EXITS, job.log()

    host = _make_host(tmp_path / "regression", REGRESSION_TOML, env)
    job, _ = _start(host, SERVE, tmp_path / "regression.log", memory_deny_write_execute=True)
    assert job.wait(timeout_s=120.0) == 1, job.log()
    assert "competition 'kommunhus-2011': baseline method 'regression'" in job.log()
    assert "MemoryDenyWriteExecute=yes" in job.log() and "Traceback" not in job.log()


def test_serve_without_the_units_numba_cache_says_what_to_set(tmp_path, mosquitto):
    """Why the unit sets NUMBA_CACHE_DIR: the code under /opt is read-only, and a user made
    with useradd's default home (/home/wattleague) has none under ProtectHome=yes; numba then
    has nowhere to keep its compiled code and refuses to load."""
    env, _ = _serve_env(mosquitto)
    host = _make_host(tmp_path / "host", REGRESSION_TOML, env)
    changes = {"NUMBA_CACHE_DIR": None, "HOME": "/home/wattleague"}
    job, _ = _start(host, SERVE, tmp_path / "serve.log", env_changes=changes)
    assert job.wait(timeout_s=120.0) == 1, job.log()
    assert "baseline method 'regression'" in job.log()
    assert "Set NUMBA_CACHE_DIR" in job.log() and "Traceback" not in job.log()


def _free_instance() -> str:
    """An ingest instance N whose metrics port 91N0 (the unit's --metrics-port) is free."""
    import socket

    for n in range(1, 10):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", int(f"91{n}0")))
            except OSError:
                continue
            return str(n)
    pytest.fail("ports 9110..9190 are all taken: no ingest instance can start")


def test_ingest_unit_stores_what_meters_publish(tmp_path, mosquitto):
    host = _make_host(tmp_path / "host", EXAMPLE.read_text(), {"WATTLEAGUE_MQTT": mosquitto.url})
    instance = _free_instance()
    job, stop_s = _start(host, INGEST, tmp_path / "ingest.log", instance)
    store_path = host.path("/var/lib/wattleague/wattleague.db")
    try:
        _wait_for_healthz(job, f"http://127.0.0.1:91{instance}0/healthz")
        assert not _loads_numba(job)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", mosquitto.port)
        client.loop_start()
        now_s = time.time()
        reading = orjson.dumps({"ts": int(now_s), "energy_kwh": 1234.5, "power_w": 900})

        def stored() -> bool:  # published again until the worker's subscription has it
            client.publish("wattleague/kommunhus-2011/soderhamn/soderhamn-main", reading, qos=1)
            if not store_path.exists():
                return False
            with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as db:
                return db.execute("select count(*) from readings").fetchone()[0] > 0

        try:
            wait_until(stored, timeout_s=60.0, interval_s=0.5)
        finally:
            client.loop_stop()
            client.disconnect()
    finally:
        code = job.stop(stop_s + 5.0)
    assert code == 0, job.log()
    assert "stopped:" in job.log()


def test_maintenance_unit_backs_up_and_prunes(tmp_path):
    host = _make_host(tmp_path / "host", EXAMPLE.read_text(), {})
    store = SQLiteStore(host.path("/var/lib/wattleague/wattleague.db"))
    start_ms = int((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)
    readings = [
        StoredReading("soderhamn-main", start_ms + i * 60_000, 100.0 + i, None) for i in range(60)
    ]
    store.write([Message("seed", 0, "test", readings)])
    store.close()
    _give_to_unit_user(host)
    unit = read_unit(UNITS / MAINTENANCE, host)
    env = service_environment(unit, host)
    lines = unit.all("ExecStart")
    assert len(lines) == 2  # backup, then prune (Type=oneshot runs them in order)
    for i, line in enumerate(lines):
        spec = sandbox_spec(unit, host, exec_argv(line, env), env)
        code, output = run_to_end(spec, tmp_path / f"maintenance-{i}.log")
        assert code == 0, output
    backup = host.path("/var/backups/wattleague/wattleague.db")
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("select count(*) from readings").fetchone() == (60,)
    assert backup.stat().st_mode & 0o007 == 0  # UMask=0027: nothing for others
    assert backup.stat().st_uid == NOBODY_UID

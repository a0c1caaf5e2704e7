"""The shipped systemd units read as systemd reads them, and run in ``tests.deploy.sandbox``.

``Host`` is a test folder standing in for an installed machine: the paths the units and
``deploy/wattleague.env.example`` name (``/etc/wattleague``, ``/var/lib/wattleague`` …) map to
folders under it, and ``/opt/wattleague/.venv`` to this checkout's virtual environment.
``read_unit`` reads a unit with those paths substituted (continuation lines joined, ``%i``
expanded), ``service_environment`` gives what systemd passes (``EnvironmentFile``,
``Environment``, ``User``'s home …), ``exec_argv`` expands an ``ExecStart`` line the way
systemd does, and ``sandbox_spec`` turns the ``[Service]`` restrictions into the spec
``tests.deploy.sandbox`` applies. A directive this file does not know fails the test: each
one is either applied by the sandbox or listed in ``NOT_APPLIED`` with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
ENV_EXAMPLE = ROOT / "deploy" / "wattleague.env.example"
VENV = Path(sys.prefix)  # the checkout's .venv, standing in for /opt/wattleague/.venv
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"
NOBODY_UID = NOGROUP_GID = 65534  # the unit's user "wattleague" in the tests

# [Service] directives the sandbox applies (tests.deploy.sandbox) or the test harness honours
APPLIED = {
    "User",
    "Group",
    "EnvironmentFile",
    "Environment",
    "ExecStart",
    "WorkingDirectory",
    "StateDirectory",
    "StateDirectoryMode",
    "CacheDirectory",
    "CacheDirectoryMode",
    "ReadWritePaths",
    "UMask",
    "NoNewPrivileges",
    "ProtectSystem",
    "ProtectHome",
    "PrivateTmp",
    "PrivateDevices",
    "PrivateNetwork",
    "ProtectKernelTunables",
    "ProtectControlGroups",
    "ProtectHostname",
    "ProtectProc",
    "RestrictAddressFamilies",
    "RestrictNamespaces",
    "MemoryDenyWriteExecute",
    "SystemCallArchitectures",
    "SystemCallFilter",
    "CapabilityBoundingSet",
    "KillSignal",
    "TimeoutStopSec",
}
# directives the sandbox does not apply, and why that leaves the proof intact
NOT_APPLIED = {
    "Type": "how systemd tracks the process, not a restriction",
    "Restart": "process management",
    "RestartSec": "process management",
    "ProtectKernelModules": (
        "init_module and friends are outside @system-service (SystemCallFilter, applied) and "
        "the capability bounding set is empty (applied)"
    ),
    "ProtectKernelLogs": (
        "/dev/kmsg is absent under PrivateDevices (applied); syslog(2) is outside "
        "@system-service (applied)"
    ),
    "ProtectClock": "the clock-setting calls are outside @system-service (applied)",
    "RestrictRealtime": "a seccomp rule for scheduling policies our processes never set",
    "RestrictSUIDSGID": "a seccomp rule for set-uid/set-gid modes our processes never set",
    "LockPersonality": "a seccomp rule for personality(2), which our processes never call",
}


@dataclass
class Host:
    """A folder standing in for the machine the units are installed on."""

    root: Path
    installed: dict[str, Path] = field(init=False)

    def __post_init__(self) -> None:
        self.installed = {
            "/opt/wattleague/.venv": VENV,
            "/etc/wattleague": self.root / "etc" / "wattleague",
            "/var/lib/wattleague": self.root / "var" / "lib" / "wattleague",
            "/var/cache/wattleague": self.root / "var" / "cache" / "wattleague",
            "/var/backups/wattleague": self.root / "var" / "backups" / "wattleague",
        }

    def path(self, installed: str) -> Path:
        for prefix, here in self.installed.items():
            if installed == prefix or installed.startswith(prefix + "/"):
                return Path(str(here) + installed[len(prefix) :])
        raise AssertionError(f"{installed} is not a path the test host maps")

    def substitute(self, text: str) -> str:
        for prefix, here in self.installed.items():
            text = re.sub(re.escape(prefix) + r"(?=[/\s]|$)", str(here), text)
        return text


@dataclass
class Unit:
    name: str
    sections: dict[str, list[tuple[str, str]]]

    def all(self, key: str, section: str = "Service") -> list[str]:
        return [v for k, v in self.sections.get(section, []) if k == key]

    def get(self, key: str, default: str | None = None, section: str = "Service") -> str | None:
        values = self.all(key, section)
        return values[-1] if values else default

    def yes(self, key: str) -> bool:
        return (self.get(key) or "no").lower() in ("yes", "true", "1", "on")

    def words(self, key: str) -> list[str]:
        """A list setting: every assignment's words; an empty assignment resets the list."""
        out: list[str] = []
        for value in self.all(key):
            out = [] if not value.strip() else out + value.split()
        return out


def read_unit(path: Path, host: Host | None = None, instance: str | None = None) -> Unit:
    """``path`` parsed as systemd does (comments, continuation lines, ``%i`` and ``%%``),
    with the installed paths mapped to ``host``."""
    text = path.read_text(encoding="utf-8")
    if host is not None:
        text = host.substitute(text)
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        line, logical = logical + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise AssertionError(f"{path.name}: cannot read {line!r}")
        current.append((key.strip(), _specifiers(value.strip(), instance, path.name)))
    return Unit(path.name, sections)


def _specifiers(value: str, instance: str | None, name: str) -> str:
    def one(match: re.Match) -> str:
        if match.group(1) == "%":
            return "%"
        if match.group(1) == "i" and instance is not None:
            return instance
        raise AssertionError(f"{name}: specifier %{match.group(1)} not known to the test")

    return re.sub(r"%(.)", one, value)


def environment_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as systemd's EnvironmentFile= reads them (comments with # or ;,
    surrounding quotes removed); later lines win."""
    env = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise AssertionError(f"{path}:{number}: not an assignment: {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def service_environment(unit: Unit, host: Host) -> dict[str, str]:
    """The environment systemd gives the service: its own variables, the user's, the
    directories', then EnvironmentFile= and Environment= (later ones win)."""
    home = host.path("/var/lib/wattleague")  # README: useradd --home /var/lib/wattleague
    user = unit.get("User", "root")
    env = {"PATH": SYSTEMD_PATH, "HOME": str(home), "USER": user, "LOGNAME": user}
    env["SHELL"] = "/usr/sbin/nologin"
    for key, base in (("StateDirectory", "/var/lib"), ("CacheDirectory", "/var/cache")):
        if unit.words(key):
            dirs = [str(host.path(f"{base}/{d}")) for d in unit.words(key)]
            env[key.replace("Directory", "_DIRECTORY").upper()] = ":".join(dirs)
    for path in unit.all("EnvironmentFile"):
        env.update(environment_file(Path(path)))
    for value in unit.all("Environment"):
        for assignment in shlex.split(value):
            key, _, val = assignment.partition("=")
            env[key] = val
    return env


def exec_argv(line: str, env: dict[str, str]) -> list[str]:
    """An ExecStart= line as systemd runs it: words split with quotes, ``${VAR}`` replaced
    within a word, a lone ``$VAR`` split into words at white space."""
    if line[:1] in "-@:+!":
        raise AssertionError(f"ExecStart prefix {line[0]!r} not known to the test")
    argv = []
    for word in shlex.split(line):
        lone = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if lone:
            argv += env.get(lone.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word))
    return argv


def syscall_groups() -> dict[str, list[str]]:
    """``systemd-analyze syscall-filter``: every @group's entries (names or other groups)."""
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True
    ).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith("    ") and current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
        elif not line.strip():
            current = None
    return groups


def syscall_allow_list(unit: Unit) -> list[str] | None:
    """The system calls SystemCallFilter= allows (allow lists only), groups expanded."""
    values = unit.all("SystemCallFilter")
    if not values:
        return None
    if any(v.strip().startswith("~") for v in values):
        raise AssertionError(f"{unit.name}: deny lists (~) are not known to the test")
    groups = syscall_groups()

    def expand(entry: str) -> list[str]:
        if entry.startswith("@"):
            return [name for e in groups[entry] for name in expand(e)]
        return [entry]

    return sorted({name for v in values for entry in v.split() for name in expand(entry)})


def address_families(unit: Unit) -> list[int] | None:
    import socket

    words = unit.words("RestrictAddressFamilies")
    if not words:
        return None
    if words[0].startswith("~") or words == ["none"]:
        raise AssertionError(f"{unit.name}: RestrictAddressFamilies={words} not known to the test")
    return sorted(int(getattr(socket, w)) for w in words)


def sandbox_spec(
    unit: Unit,
    host: Host,
    argv: list[str],
    env: dict[str, str],
    memory_deny_write_execute: bool | None = None,
) -> dict:
    """The spec ``tests.deploy.sandbox`` applies for ``unit``'s [Service] section;
    ``memory_deny_write_execute`` overrides the unit's (a drop-in)."""
    keys = {k for k, _ in unit.sections.get("Service", [])}
    unknown = keys - APPLIED - set(NOT_APPLIED)
    if unknown:
        raise AssertionError(
            f"{unit.name}: {sorted(unknown)} not known to tests/deploy/units.py: apply it in "
            "tests/deploy/sandbox.py or say in NOT_APPLIED why the proof holds without it"
        )
    if unit.get("ProtectSystem") not in (None, "strict"):
        raise AssertionError(f"{unit.name}: ProtectSystem={unit.get('ProtectSystem')} unknown")
    if unit.get("ProtectHome") not in (None, "yes") or unit.get("ProtectProc") not in (
        None,
        "invisible",
    ):
        raise AssertionError(f"{unit.name}: ProtectHome/ProtectProc value unknown to the test")
    if unit.get("SystemCallArchitectures") not in (None, "native"):
        raise AssertionError(f"{unit.name}: only SystemCallArchitectures=native is known")
    if unit.get("CapabilityBoundingSet") not in (None, ""):
        raise AssertionError(f"{unit.name}: only an empty CapabilityBoundingSet= is known")
    writable = unit.words("ReadWritePaths")  # read_unit mapped them to the host already
    writable += [str(host.path(f"/var/lib/{d}")) for d in unit.words("StateDirectory")]
    writable += [str(host.path(f"/var/cache/{d}")) for d in unit.words("CacheDirectory")]
    read_only = [str(host.path("/etc/wattleague"))]
    interpreter = str(Path(os.path.realpath(sys.base_prefix)))
    if interpreter.startswith(("/root/", "/home/", "/tmp/", "/var/tmp/")):
        # this machine's Python lives where ProtectHome/PrivateTmp hide it (a Debian
        # install's is in /usr): keep that one folder, read-only
        read_only.append(interpreter)
    checkout = str(Path(__file__).resolve().parents[2])
    if checkout.startswith(("/root/", "/home/", "/tmp/", "/var/tmp/")):
        # a checkout (its .venv and sources) under a folder the unit hides, as a clone in
        # /tmp is: keep it, read-only, as an installed package in /usr or /opt would be
        read_only.append(checkout)
    mdwe = unit.yes("MemoryDenyWriteExecute")
    if memory_deny_write_execute is not None:
        mdwe = memory_deny_write_execute
    return {
        "argv": argv,
        "env": env,
        "cwd": unit.get("WorkingDirectory", "/"),
        "uid": NOBODY_UID,
        "gid": NOGROUP_GID,
        "umask": int(unit.get("UMask", "0022"), 8),
        "no_new_privileges": unit.yes("NoNewPrivileges"),
        "protect_system_strict": unit.get("ProtectSystem") == "strict",
        "keep_writable": writable,
        "keep_read_only": read_only,
        "private_tmp": unit.yes("PrivateTmp"),
        "protect_home": unit.get("ProtectHome") == "yes",
        "private_devices": unit.yes("PrivateDevices"),
        "private_network": unit.yes("PrivateNetwork"),
        "protect_kernel_tunables": unit.yes("ProtectKernelTunables")
        or unit.yes("ProtectControlGroups"),
        "protect_hostname": unit.yes("ProtectHostname"),
        "protect_proc": unit.get("ProtectProc") == "invisible",
        "capability_bounding_set_empty": unit.get("CapabilityBoundingSet") == "",
        "memory_deny_write_execute": mdwe,
        "address_families": address_families(unit),
        "restrict_namespaces": unit.yes("RestrictNamespaces"),
        "syscall_allow": syscall_allow_list(unit),
    }


class Sandboxed:
    """One command of a unit running in ``tests.deploy.sandbox``; its output in ``log_path``."""

    def __init__(self, spec: dict, log_path: Path, kill_signal: str = "SIGTERM") -> None:
        self.spec_path = log_path.with_suffix(".json")
        self.spec_path.write_text(json.dumps(spec))
        self.log_path = log_path
        self.kill_signal = getattr(signal, kill_signal)
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.deploy.sandbox", str(self.spec_path)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def stop(self, timeout_s: float) -> int:
        """The unit's KillSignal, then the exit code (SIGKILL after ``timeout_s``, as
        systemd does after TimeoutStopSec; the caller sees -9 then)."""
        if self.alive():
            self.proc.send_signal(self.kill_signal)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def run_to_end(spec: dict, log_path: Path, timeout_s: float = 600.0) -> tuple[int, str]:
    """Run a oneshot command in the sandbox; (exit code, output)."""
    job = Sandboxed(spec, log_path)
    deadline = time.monotonic() + timeout_s
    while job.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    code = job.stop(10.0) if job.alive() else job.proc.returncode
    return code, job.log()


def seconds(value: str | None, default_s: float) -> float:
    """A systemd time span such as ``30``, ``30s`` or ``1min 30s`` in seconds."""
    if value is None:
        return default_s
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total

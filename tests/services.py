"""Real services for tests: a Mosquitto broker and the Watt League API on free ports."""

from __future__ import annotations

import ast
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name: str) -> str:
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if path is None:
        raise RuntimeError(
            f"{name} is not installed; run the README's test command "
            "(scripts/test.sh), which installs it"
        )
    return path


class Mosquitto:
    """A private Mosquitto on a free loopback port, with persistence in ``workdir``."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 1000000\n"
            "log_dest stderr\n"
            "log_type error\n"
        )
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Started as root, Mosquitto 2 drops to the ``mosquitto`` user, which cannot write
            # the root-owned workdir: persistence then silently saves nothing.
            with open(self.conf, "a") as conf:
                conf.write("user root\n")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [_binary("mosquitto"), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode()}")
            if _answers_mqtt(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class PersistentMosquitto(Mosquitto):
    """A Mosquitto whose persistence file can be inspected (``stop()`` is SIGTERM, on which
    Mosquitto writes ``persistence_file``)."""

    @property
    def persistence_file(self) -> Path:
        return self.workdir / "mosquitto.db"


def _answers_mqtt(port: int) -> bool:
    connected = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda *a: connected.set()
    try:
        client.connect("127.0.0.1", port, keepalive=5)
    except OSError:
        return False
    client.loop_start()
    ok = connected.wait(2)
    client.disconnect()
    client.loop_stop()
    return ok


def publish_all(
    port: int, messages: list[tuple[str, bytes]], qos: int = 1, window: int = 1000
) -> None:
    """Publish and wait for the broker to acknowledge each message, ``window`` at a time
    (paho loses QoS-1 messages past 65,535 pending: performance-notes.md)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.max_queued_messages_set(window * 2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for lo in range(0, len(messages), window):
        infos = [
            client.publish(topic, payload, qos=qos) for topic, payload in messages[lo : lo + window]
        ]
        for info in infos:
            info.wait_for_publish(timeout=10)
    client.disconnect()
    client.loop_stop()


def wait_until(predicate, timeout_s: float = 20.0, interval_s: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


class RunningApp:
    """An ASGI app served by a real uvicorn on a free port, in a thread; ``options`` are more
    ``uvicorn.Config`` arguments (e.g. ``api.proxies.server_options``)."""

    def __init__(self, app, **options) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(
            # SSE streams never end by themselves: bound the graceful shutdown
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                timeout_graceful_shutdown=1,
                **options,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningApp:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout_s=20)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ReliablePublisher:
    """A QoS-1 publisher that survives broker restarts.

    MQTT 5 with a persistent session (``clean_start=False`` and a session expiry), at most
    ``window`` unacknowledged messages (paho loses QoS-1 messages past 65,535 pending, see
    shared/reference/performance-notes.md), and an explicit resend: when the connection is
    lost it reconnects with the same client id and publishes every message whose PUBACK has
    not arrived again. That is at-least-once: a message whose PUBACK was lost in the outage
    reaches the broker twice. The network loop runs in the caller's thread (no paho thread),
    so there is no race between publishing, acknowledging and reconnecting.
    """

    def __init__(
        self,
        port: int,
        client_id: str,
        window: int = 1000,
        session_expiry_s: int = 3600,
        host: str = "127.0.0.1",
    ) -> None:
        if not 0 < window < 65_535:
            raise ValueError("window must be between 1 and 65,534")
        self.host, self.port, self.client_id = host, port, client_id
        self.window, self.session_expiry_s = window, session_expiry_s
        self.connections = 0  # successful CONNACKs, so reconnects = connections - 1
        self.resent = 0  # messages published again after a lost connection
        self.acked = 0

    def publish_all(self, messages: list[tuple[str, bytes]], timeout_s: float = 120.0) -> None:
        """Publish every message until the broker acknowledged it; raise after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        todo = collections.deque(range(len(messages)))  # not sent on the current connection
        inflight: dict[int, int] = {}  # paho mid → index into messages
        state = {"lost": False}

        def on_publish(client, userdata, mid, reason_code, properties) -> None:
            if reason_code.is_failure:
                raise RuntimeError(f"broker refused message {mid}: {reason_code}")
            if inflight.pop(mid, None) is not None:
                self.acked += 1

        def on_disconnect(client, userdata, flags, reason_code, properties) -> None:
            state["lost"] = True

        client = None
        while todo or inflight:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(todo) + len(inflight)} of {len(messages)} messages not acknowledged "
                    f"within {timeout_s} s"
                )
            if client is None or state["lost"]:
                if client is not None:
                    _close(client)
                    unacked = sorted(inflight.values())
                    self.resent += len(unacked)
                    todo.extendleft(reversed(unacked))
                    inflight.clear()
                state["lost"] = False
                client = self._connect(deadline, on_publish, on_disconnect)
                continue
            while todo and len(inflight) < self.window:
                i = todo.popleft()
                info = client.publish(*messages[i], qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    todo.appendleft(i)
                    state["lost"] = True
                    break
                inflight[info.mid] = i
            if not state["lost"] and client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                state["lost"] = True
        if client is not None:
            _close(client)

    def _connect(self, deadline: float, on_publish, on_disconnect) -> mqtt.Client:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        while True:
            client = mqtt.Client(
                mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
            )
            client.max_inflight_messages_set(0)  # the window bounds it; paho scans per ack else
            client.on_publish, client.on_disconnect = on_publish, on_disconnect
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.session_expiry_s
            try:
                client.connect(
                    self.host, self.port, keepalive=10, clean_start=False, properties=props
                )
                while not client.is_connected():
                    if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                        raise OSError("connection lost before CONNACK")
                    if time.monotonic() > deadline:
                        raise OSError("no CONNACK")
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"broker on port {self.port} did not come back") from None
                time.sleep(0.1)  # retry back-off while the broker is down, not synchronisation
                continue
            self.connections += 1
            return client


def _close(client: mqtt.Client) -> None:
    """Disconnect a client driven by ``client.loop()`` (no paho thread) and close its socket."""
    if client.is_connected():
        client.disconnect()
        client.loop(timeout=0.1)
    client.on_disconnect = None
    sock = client.socket()
    if sock is not None:
        sock.close()


class IngestProcess:
    """``wattleague ingest`` as a real subprocess, so that tests can kill -9 it.

    Logs (``-v``) go to ``log_path``; ``stop()`` sends SIGTERM and returns the worker's final
    ``stats`` line, ``kill()`` sends SIGKILL.
    """

    def __init__(
        self,
        config: Path,
        store_url: str,
        mqtt_url: str,
        client_id: str,
        log_path: Path,
        shared_group: str | None = None,
    ) -> None:
        self.args = [
            sys.executable,
            "-m",
            "wattleague",
            "-v",
            "ingest",
            "--config",
            str(config),
            "--store",
            store_url,
            "--mqtt",
            mqtt_url,
            "--mqtt-client-id",
            client_id,
        ]
        if shared_group:
            self.args += ["--shared-group", shared_group]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> IngestProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_subscribed(self, timeout_s: float = 30.0) -> None:
        """Wait for the worker's SUBACK (its log says "subscribed to"): from then on the
        broker keeps every matching message for this client id, online or not."""

        def subscribed() -> bool:
            assert self.alive(), f"ingest worker exited:\n{self.log()}"
            return "subscribed to" in self.log()

        wait_until(subscribed, timeout_s=timeout_s)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last acknowledgement, no last commit."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 20.0) -> dict[str, int]:
        """SIGTERM, wait for a clean exit (code 0) and return the worker's stats."""
        assert self.alive(), f"ingest worker is not running:\n{self.log()}"
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout_s)
        assert code == 0, f"ingest worker exited with {code}:\n{self.log()}"
        match = re.search(r"^stopped: (\{.*\})$", self.log(), re.MULTILINE)
        assert match, f"no stats line in the worker's log:\n{self.log()}"
        return ast.literal_eval(match.group(1))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

"""Mosquitto started with deploy/mosquitto/mosquitto.conf and the generated ACL and passwords.

It is installed as the README says: into ``conf.d/`` beside a copy of Debian's stock
``/etc/mosquitto/mosquitto.conf`` (pid file, persistence folder, log file, ``include_dir``).
The production file is used as is, except for what must differ on a test machine: free
loopback ports instead of 1883/8883, temporary folders instead of /etc and /var/lib, stderr
instead of syslog. Each substitution must match, so a changed deploy file fails the tests
instead of silently testing something else.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from tests.services import _binary, free_port, wait_until

DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"


def make_test_ca(folder: Path) -> Path:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (openssl)."""
    folder.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
        "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")  # fmt: skip
    return folder


class DeployedMosquitto:
    def __init__(self, workdir: Path, broker_dir: Path, cert_dir: Path) -> None:
        self.workdir = workdir
        self.port, self.tls_port = free_port(), free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        text = DEPLOY_CONF.read_text()
        for old, new in [
            ("listener 8883\n", f"listener {self.tls_port} 127.0.0.1\n"),
            ("listener 1883 127.0.0.1\n", f"listener {self.port} 127.0.0.1\n"),
            ("/etc/mosquitto/wattleague/", f"{broker_dir}/"),
            ("/etc/mosquitto/certs/", f"{cert_dir}/"),
            ("log_dest syslog", "log_dest stderr"),
        ]:
            assert old in text, f"{DEPLOY_CONF} no longer has {old!r}"
            text = text.replace(old, new)
        (workdir / "conf.d").mkdir(exist_ok=True)
        (workdir / "conf.d" / "wattleague.conf").write_text(text)
        # Debian's stock main file (package mosquitto), with this test's folders
        main = (
            f"pid_file {workdir}/mosquitto.pid\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            f"log_dest file {workdir}/mosquitto.log\n"
            f"include_dir {workdir}/conf.d\n"
        )
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            main += "user root\n"  # see tests.services.Mosquitto
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(main)
        self.proc: subprocess.Popen | None = None

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
            if connack(self.port, None, None) is not None:
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def connack(port: int, username: str | None, password: str | None, **tls) -> str | None:
    """The broker's CONNACK reason for these credentials ("Success", "Not authorized", …), or
    None when nothing answered."""
    got: list[str] = []
    answered = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set(**tls)

    def on_connect(c, userdata, flags, reason_code, properties) -> None:
        got.append(str(reason_code))
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port, keepalive=5)
    except OSError:
        return None
    client.loop_start()
    answered.wait(3)
    client.disconnect()
    client.loop_stop()
    return got[0] if got else None


class Client:
    """A connected MQTT 5 client that records what it receives and the broker's answers."""

    def __init__(self, port: int, user: str, password: str, **tls) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.suback: list[list[int]] = []
        self.acked = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{user}", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set(**tls)
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.suback.append(
            [rc.value for rc in codes]
        )
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        assert connected.wait(5), f"{user} could not connect"

    def subscribe(self, *filters: str) -> list[int]:
        before = len(self.suback)
        self.client.subscribe([(f, 1) for f in filters])
        wait_until(lambda: len(self.suback) > before, timeout_s=5)
        return self.suback[-1]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

"""The display client (`wattleague display`) against the real app served by uvicorn, a real
Mosquitto for AWTRIX, and a small real HTTP server standing in for a WLED controller."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from PIL import Image

from api.app import create_app
from api.auth import TokenSet, hash_token
from display.client import ClientError, DisplayClient
from display.panel_devices import WledPanel
from display.panel_png import STALE_RGB, PngPanel
from display.panel_terminal import TerminalPanel
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests import fixtures
from tests.services import RunningApp, wait_until
from wattleague.cli import main

EXTRA_DISPLAYS = """
[[display]]
id = "gamma-matrix"
site = "gamma"
kind = "matrix"
width_px = 64
height_px = 32

[[display]]
id = "alfa-clock"
site = "alfa"
kind = "awtrix"
awtrix_prefix = "awtrix_alfa"

[[display]]
id = "beta-wled"
site = "beta"
kind = "text"
"""


TOKEN = "display-token"


class Server:
    """The app on one port, stopped and started again (a new app each time) on one store."""

    def __init__(self, store: SQLiteStore) -> None:
        self.comp = parse_competition(fixtures.COMPETITION_TOML + EXTRA_DISPLAYS, "liten.toml")
        self.store = store
        self.port: int | None = None
        self.running: RunningApp | None = None

    def start(self) -> None:
        app = create_app(
            [self.comp],
            self.store,
            clock=fixtures.NOW.timestamp,
            tokens=TokenSet({"clock-installer": hash_token(TOKEN)}),
        )
        self.running = RunningApp(app)
        self.port = self.port or self.running.port
        self.running.port = self.running.server.config.port = self.port
        self.running.__enter__()

    def stop(self) -> None:
        if self.running is not None:
            self.running.__exit__(None, None, None)
            assert not self.running.thread.is_alive()
            self.running = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def server(tmp_path):
    store = SQLiteStore(tmp_path / "client.db")
    fixtures.seed(store)
    s = Server(store)
    s.start()
    yield s
    s.stop()
    store.close()


def _cli(*args: str):
    return CliRunner().invoke(main, ["display", *args], catch_exceptions=False)


def test_terminal_once_shows_the_text_frame(server):
    frame = httpx.get(server.url + "/api/displays/alfa-lobby/frame?format=txt&page=0")
    result = _cli("--url", server.url, "--display", "alfa-lobby", "--once")
    assert result.exit_code == 0, result.output
    box = result.output.splitlines()
    assert box[0] == "┌" + "─" * 32 + "┐" and box[-1] == "└" + "─" * 32 + "┘"
    assert len(box) == 4 + 2
    inner = [line[1:-1] for line in box[1:-1]]
    assert all(len(line) == 32 for line in inner)
    # the page shown rotates by time; every line is one of the display's pages' lines
    pages = int(frame.headers["X-Frame-Pages"])
    all_lines = set()
    for p in range(pages):
        txt = httpx.get(server.url + f"/api/displays/alfa-lobby/frame?format=txt&page={p}").text
        all_lines |= set(txt.rstrip("\n").split("\n"))
    assert set(inner) <= all_lines


def test_terminal_marks_stale_data_and_recovers(server):
    out = io.StringIO()
    client = DisplayClient(server.url, "beta-small", TerminalPanel(out, lang="en", clear=False))
    assert client.step() is True
    fresh = out.getvalue()
    assert "no connection" not in fresh

    server.stop()
    out.seek(0), out.truncate()
    assert client.step() is False and client.step() is False
    shown = out.getvalue().splitlines()
    assert shown[-1].startswith("! no connection since ")
    assert shown[-1][-5:-3].isdigit() and shown[-1][-3] == ":"
    assert fresh.splitlines()[1] in shown  # the last frame stays up
    assert client.failures == 2

    server.start()
    out.seek(0), out.truncate()
    assert client.step() is True
    assert "no connection" not in out.getvalue() and client.failures == 0
    client.close()


def test_png_frames_and_stale_mark(server, tmp_path):
    folder = tmp_path / "frames"
    result = _cli(
        "--url",
        server.url,
        "--display",
        "gamma-matrix",
        "--panel",
        "png",
        "--out",
        str(folder),
        "--once",
    )
    assert result.exit_code == 0, result.output
    image = Image.open(folder / "gamma-matrix.png")
    assert image.size == (64, 32)
    assert json.loads((folder / "gamma-matrix.json").read_text())["stale"] is False

    panel = PngPanel(folder, "gamma-matrix")
    client = DisplayClient(server.url, "gamma-matrix", panel)
    assert client.step()
    fresh = Image.open(folder / "gamma-matrix.png").convert("RGB")
    assert fresh.getpixel((63, 0)) != STALE_RGB
    server.stop()
    assert not client.step()
    marked = Image.open(folder / "gamma-matrix.png").convert("RGB")
    assert marked.size == (64, 32)
    assert marked.getpixel((63, 0)) == STALE_RGB and marked.getpixel((0, 31)) == STALE_RGB
    assert marked.getpixel((10, 10)) == fresh.getpixel((10, 10))  # the frame itself stays
    assert json.loads((folder / "gamma-matrix.json").read_text())["stale"] is True
    server.start()
    assert client.step()
    assert Image.open(folder / "gamma-matrix.png").convert("RGB").getpixel((63, 0)) != STALE_RGB
    client.close()


def test_awtrix_payload_arrives_on_a_real_broker(server, mosquitto):
    got: list[tuple[str, dict]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscribed = threading.Event()
    sub.on_message = lambda c, u, m: got.append((m.topic, orjson.loads(m.payload)))
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", mosquitto.port)
    sub.loop_start()
    sub.subscribe("awtrix_alfa/custom/#", qos=1)
    assert subscribed.wait(10)
    try:
        result = _cli(
            "--url",
            server.url,
            "--display",
            "alfa-clock",
            "--panel",
            "awtrix",
            "--mqtt",
            mosquitto.url,
            "--token",
            TOKEN,  # the prefix is the organisers' to know
            "--once",
        )
        assert result.exit_code == 0, result.output
        wait_until(lambda: got, timeout_s=10)
    finally:
        sub.disconnect()
        sub.loop_stop()
    topic, payload = got[0]
    assert topic == "awtrix_alfa/custom/wattleague"  # prefix from the display's settings
    expected = httpx.get(server.url + "/api/displays/alfa-clock/frame?format=awtrix").json()
    assert payload == expected
    assert len(payload) == 3 and payload[0]["text"]
    assert all(app["lifetimeMode"] == 1 and app["lifetime"] >= 1 for app in payload)


def test_where_a_display_lives_is_not_public(server, mosquitto):
    public = httpx.get(server.url + "/api/competitions/liten").json()["displays"]
    clock = next(d for d in public if d["id"] == "alfa-clock")
    assert "awtrix_prefix" not in clock and "wled_url" not in clock
    auth = {"Authorization": f"Bearer {TOKEN}"}
    private = httpx.get(server.url + "/api/competitions/liten", headers=auth).json()["displays"]
    assert next(d for d in private if d["id"] == "alfa-clock")["awtrix_prefix"] == "awtrix_alfa"
    args = ["--url", server.url, "--display", "alfa-clock", "--panel", "awtrix"]
    result = CliRunner().invoke(main, ["display", *args, "--mqtt", mosquitto.url, "--once"])
    assert result.exit_code == 2 and "--mqtt needs --prefix" in result.output


class _Wled(BaseHTTPRequestHandler):
    posts: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append((self.path, json.loads(body)))
        answer = b'{"success": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def wled():
    _Wled.posts = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Wled)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Wled.posts
    httpd.shutdown()
    httpd.server_close()


def test_wled_state_is_posted_and_marked_stale(server, wled):
    device, posts = wled
    result = _cli(
        "--url",
        server.url,
        "--display",
        "beta-wled",
        "--panel",
        "wled",
        "--device-url",
        device + "/json/state",
        "--once",
    )
    assert result.exit_code == 0, result.output
    path, state = posts[-1]
    assert path == "/json/state"
    assert state["on"] is True and state["seg"][0]["n"]
    assert not state["seg"][0]["n"].startswith("! ")

    client = DisplayClient(server.url, "beta-wled", WledPanel(device))
    assert client.step()
    server.stop()
    assert not client.step()
    _, stale = posts[-1]
    assert stale["seg"][0]["n"].startswith("! ") and stale["seg"][0]["col"][0] == [255, 0, 0]
    client.close()


def test_duration_stops_by_itself_and_unknown_display_is_an_error(server):
    result = _cli("--url", server.url, "--display", "beta-small", "--duration", "0.5")
    assert result.exit_code == 0, result.output
    assert "┌" in result.output

    bad = CliRunner().invoke(main, ["display", "--url", server.url, "--display", "nowhere"])
    assert bad.exit_code != 0 and "no display 'nowhere'" in bad.output
    assert "beta-small" in bad.output
    nofolder = CliRunner().invoke(
        main, ["display", "--url", server.url, "--display", "gamma-matrix", "--panel", "png"]
    )
    assert nofolder.exit_code != 0 and "--out" in nofolder.output
    with pytest.raises(ClientError, match="png"):
        DisplayClient(server.url, "beta-small", PngPanel(server.store.path + ".d", "x")).step()


def test_once_against_no_server_exits_non_zero(tmp_path):
    from tests.services import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["display", "--url", url, "--display", "x", "--once"])
    assert result.exit_code == 1
    assert "no connection" in result.output or "ingen anslutning" in result.output

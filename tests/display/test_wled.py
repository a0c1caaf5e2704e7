"""WLED JSON state for scrolling text, POSTed to a small local HTTP server."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import orjson
import pytest

from display.content import DisplayState
from display.publish import PublishError, post_wled
from display.wled import MAX_TEXT_BYTES, wled_pages, wled_state
from tests.display.test_matrix_frame import BEHIND, SAVING
from tests.display.test_text_frame import LONG


class _WLED(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, dict]]] = []
    status: ClassVar[int] = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], orjson.loads(body)))
        answer = b'{"success":true}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def wled_server():
    _WLED.received, _WLED.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WLED)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _WLED
    server.shutdown()
    server.server_close()


def test_state_shape():
    state = wled_state(SAVING, "sv", 0, brightness=90, speed=100)
    assert state == {
        "on": True,
        "bri": 90,
        "seg": [
            {
                "id": 0,
                "fx": 122,
                "n": "Alvdalens #1 av 3",
                "col": [[0, 255, 64], [0, 0, 0], [0, 0, 0]],
                "sx": 100,
            }
        ],
    }
    assert wled_state(BEHIND, "en", 1)["seg"][0]["col"][0] == [255, 160, 0]


def test_pages_are_short_ascii_texts():
    pages = wled_pages(DisplayState(LONG + " 日本", 12.5, True, 3.0, 4.0, 10.0, 0.4, 7, 24), "sv")
    assert pages[1] == "Nu 12,5 kW! Idag 3,0%"
    for text in pages:
        assert text.isascii() and 0 < len(text.encode()) <= MAX_TEXT_BYTES
    assert (
        wled_state(SAVING, "sv", len(wled_pages(SAVING, "sv")))["seg"][0]["n"]
        == (wled_pages(SAVING, "sv")[0])
    )


def test_post_to_wled(wled_server):
    url, handler = wled_server
    state = wled_state(SAVING, "en", 2)
    assert post_wled(url + "/", state) == {"success": True}
    ((path, content_type, body),) = handler.received
    assert (path, content_type) == ("/json/state", "application/json")
    assert body == state and body["seg"][0]["fx"] == 122 and body["seg"][0]["n"]


def test_wled_errors_name_the_device(wled_server):
    url, handler = wled_server
    handler.status = 400
    with pytest.raises(PublishError, match="HTTP 400"):
        post_wled(url, {"on": True})
    with pytest.raises(PublishError, match="cannot reach WLED"):
        post_wled("http://127.0.0.1:1", {"on": True}, timeout_s=1)

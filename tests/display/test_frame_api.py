"""The frame endpoint in every format, on a seeded store with a fixed clock."""

from __future__ import annotations

import io

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.app import create_app
from display.content import page_index
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import COMPETITION_TOML, NOW, seed

DISPLAYS = """
[[display]]
id = "alfa-hub75"
site = "alfa"
kind = "matrix"
width_px = 128
height_px = 32

[[display]]
id = "gamma-matrix"
site = "gamma"
kind = "matrix"
page_s = 5
lang = "en"

[[display]]
id = "beta-awtrix"
site = "beta"
kind = "awtrix"
awtrix_prefix = "awtrix_lobby"
awtrix_icon = "2345"
stale_after_s = 600

[[display]]
id = "gamma-wled"
site = "gamma"
kind = "wled"
brightness = 200
"""


@pytest.fixture
def clock():
    now = [NOW.timestamp()]
    return now


@pytest.fixture
def client(tmp_path, clock):
    store = SQLiteStore(tmp_path / "frames.db")
    seed(store)
    comp = parse_competition(COMPETITION_TOML + DISPLAYS, "frames.toml")
    app = create_app([comp], store, clock=lambda: clock[0], stream_interval_s=0.1)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    store.close()


def _png(response) -> np.ndarray:
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize(
    ("did", "size"),
    [("alfa-hub75", (128, 32)), ("gamma-matrix", (64, 32)), ("beta-awtrix", (32, 8))],
)
def test_png_and_rgb565_have_the_display_size(client, did, size):
    width, height = size
    pixels = _png(client.get(f"/api/displays/{did}/frame?format=png&page=0"))
    assert pixels.shape == (height, width, 3)
    raw = client.get(f"/api/displays/{did}/frame?format=rgb565&page=0")
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/octet-stream"
    assert len(raw.content) == width * height * 2
    p = pixels.astype(np.uint16)
    expected = (p[..., 0] >> 3) << 11 | (p[..., 1] >> 2) << 5 | p[..., 2] >> 3
    assert np.array_equal(np.frombuffer(raw.content, ">u2").reshape(height, width), expected)


def test_matrix_colours_follow_the_target(client):
    alfa = _png(client.get("/api/displays/alfa-hub75/frame?format=png&page=0"))
    assert tuple(alfa[0, 1]) == (0, 255, 64)  # the mark of "Ä": 20 % saved, target 10 %
    assert all(tuple(p) == (0, 255, 64) for p in alfa[-1])  # a full progress bar
    gamma = _png(client.get("/api/displays/gamma-matrix/frame?format=png&page=0"))
    lit = {tuple(p) for p in gamma[:28].reshape(-1, 3)} - {(0, 0, 0)}
    assert lit == {(0, 255, 64)}  # 5 % saved against a target of 0 %


def test_awtrix_payload(client):
    response = client.get("/api/displays/beta-awtrix/frame?format=awtrix")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    figures, top, chart = response.json()  # three apps: the clock names them <app>0..2
    assert figures["text"] == "4,5 kW  Idag –  Sparat 10,0%  #2 av 3"  # midnight: no hour today
    assert (figures["icon"], figures["color"], figures["progress"]) == ("2345", "#00FF40", 100)
    assert top["text"].startswith("Topp 3: 1.")
    for app in (figures, top, chart):
        assert (app["lifetime"], app["lifetimeMode"], app["duration"]) == (600, 1, 10)
    assert chart["bar"] == [45] * 11  # 4.5 kW each complete hour, 11 bars beside an icon
    assert "text" not in chart  # a chart is drawn over the whole panel: text would be hidden


def test_wled_state(client):
    response = client.get("/api/displays/gamma-wled/frame?format=wled&page=0")
    assert response.status_code == 200
    body = response.json()
    assert body["on"] is True and body["bri"] == 200
    (seg,) = body["seg"]
    assert (seg["id"], seg["fx"], seg["n"]) == (0, 122, "Mora #3 av 3")
    assert seg["col"][0] == [0, 255, 64] and isinstance(seg["sx"], int)


def test_text_pages_rotate_by_time(client, clock):
    pages = int(client.get("/api/displays/beta-small/frame").headers["x-frame-pages"])
    assert pages == 4
    seen = []
    for step in range(pages):
        clock[0] = NOW.timestamp() + 10 * step
        body = client.get("/api/displays/beta-small/frame").json()
        assert body["page"] == page_index(clock[0], 10, pages) and body["pages"] == pages
        assert [len(line) for line in body["lines"]] == [16, 16]
        seen.append(body["lines"])
    assert len({tuple(lines) for lines in seen}) == pages
    forced = client.get("/api/displays/beta-small/frame?format=txt&page=2")
    assert forced.headers["content-type"].startswith("text/plain")
    assert forced.text.split("\n")[:2] == seen[(2 - page_index(NOW.timestamp(), 10, 4)) % 4]


def test_four_row_text_sign_pages(client):
    lines = [
        client.get(f"/api/displays/alfa-lobby/frame?format=json&page={p}").json()["lines"]
        for p in range(3)
    ]
    assert all(page[0].endswith("#1 av 3") and len(page) == 4 for page in lines)
    assert lines[1][1:] == [
        "1.Älvdalens                20,0%",
        "2.Piteå                    10,0%",
        "3.Mora                      5,0%",
    ]
    assert lines[2][2] == "[#########################] 200%"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/api/displays/alfa-lobby/frame?format=bmp", "'bmp'"),
        ("/api/displays/alfa-lobby/frame?format=png", "width_px and height_px"),
        ("/api/displays/beta-small/frame?format=rgb565", "kind = 'matrix'"),
        ("/api/displays/alfa-lobby/frame?page=3", "page must be 0..2"),
        ("/api/displays/alfa-lobby/frame?page=-1", "page"),
        ("/api/displays/alfa-lobby/frame?page=x", "'x'"),
        ("/api/displays/beta-awtrix/frame?format=awtrix&page=1", "page must be 0..0"),
    ],
)
def test_bad_requests_are_400_json(client, path, says):
    response = client.get(path)
    assert response.status_code == 400, response.text
    error = orjson.loads(response.content)["error"]
    assert error["code"] == "bad_request" and says in error["message"]


def test_display_config_is_validated():
    with pytest.raises(ValueError, match="height_px: Input should be greater than or equal to 8"):
        parse_competition(COMPETITION_TOML + DISPLAYS.replace("height_px = 32", "height_px = 4"))
    awtrix = '[[display]]\nid = "x"\nsite = "alfa"\nkind = "awtrix"\nwidth_px = 64\n'
    with pytest.raises(ValueError, match="32x8"):
        parse_competition(COMPETITION_TOML + awtrix)
    # a page every millisecond would have every display client poll the server 1000 times a s
    fast = '[[display]]\nid = "x"\nsite = "alfa"\nkind = "text"\npage_s = 0.01\n'
    with pytest.raises(ValueError, match="page_s: Input should be greater than or equal to 1"):
        parse_competition(COMPETITION_TOML + fast)
    # half a pixel size on a text sign would silently leave it without pixel frames
    half = '[[display]]\nid = "x"\nsite = "alfa"\nkind = "wled"\nwidth_px = 32\n'
    with pytest.raises(ValueError, match="both width_px and height_px"):
        parse_competition(COMPETITION_TOML + half)

"""The embeddable standing page ``GET /embed/{cid}/{sid}``: figures, languages, escaping, caching,
its Content-Security-Policy, a closed competition's frozen figures, and in Chromium: framed by
an allowed origin, refused by any other."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from api import embed
from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.api.test_kiosk_page import make_server  # noqa: F401 (fixture)
from tests.fixtures import COMPETITION_TOML, NOW, TZ, seed
from tests.services import free_port

TOKEN = "embed-organiser-token"
ORIGIN = "https://www.alvdalen.se"
HOSTILE = 'Piteå <script>alert("x")</script> & <b>co</b>'


def _competition(extra: str = f'\n[embed]\nframe_ancestors = ["{ORIGIN}"]\n'):
    toml = COMPETITION_TOML.replace('name = "Piteå kommunhus"', f"name = '{HOSTILE}'")
    return parse_competition(toml + extra, "liten.toml")


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "embed.db")
    seed(store)
    app = create_app([_competition()], store, clock=NOW.timestamp)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    store.close()


def _text(html: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert m, element_id
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def test_the_page_shows_rank_reduction_and_a_sparkline_in_swedish(client):
    r = client.get("/embed/liten/alfa")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="sv">' in page
    assert _text(page, "name") == "Älvdalens kommunhus"
    assert _text(page, "muni") == "Älvdalens kommun"
    assert re.sub(r"\s+", " ", _text(page, "rank")) == "1 av 3"
    assert _text(page, "reduction") == "20,0 %"
    # one line point per elapsed day (7 days), the baseline too; figures in the desc
    days = client.get("/api/competitions/liten/sites/alfa/series?resolution=day").json()["series"]
    (actual,) = re.findall(r'<path class="actual" d="([^"]*)"', page)
    assert len(re.findall(r"[ML]", actual)) == len(days) == 7
    desc = _text(page, "spark-desc")
    assert desc.startswith("Hittills 1\u2009344 kWh mot 1\u2009680 kWh i baslinjen.")
    assert "2011-03-01: 192 av 240 kWh" in desc
    assert 'aria-labelledby="spark-title spark-desc"' in page
    assert 'href="/sites/liten/alfa"' in page
    # self-contained: no script, no external resource
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_english_figures(client):
    page = client.get("/embed/liten/beta?lang=en").text
    assert '<html lang="en">' in page
    assert _text(page, "reduction") == "10.0 %"
    assert re.sub(r"\s+", " ", _text(page, "rank")) == "2 of 3"
    assert "So far 756 kWh against 840 kWh baseline." in _text(page, "spark-desc")
    assert 'href="/sites/liten/beta?lang=en"' in page
    assert client.get("/embed/liten/beta?lang=de").status_code == 400


def test_a_site_out_of_the_ranking_says_so():
    board = {
        "competition": "c",
        "name": "C",
        "as_of": "2024-02-08T00:00:00+01:00",
        "entries": [
            {"site": "a", "name": "A", "municipality": "M", "rank": 1, "reduction_pct": 5.0},
            {"site": "b", "name": "B", "municipality": "M", "rank": 0, "reduction_pct": None},
        ],
    }
    template = (Path(embed.__file__).parent / "pages" / "embed.html").read_text("utf-8")
    page = embed.render_embed(template, board, "b", [], "sv")
    assert re.sub(r"\s+", " ", _text(page, "rank")) == "– ej rankad"
    assert _text(page, "reduction") == "–"
    assert _text(page, "spark-desc") == "Inga data än."


def test_every_value_is_escaped(client):
    page = client.get("/embed/liten/beta").text
    assert "<script" not in page and "<b>" not in page
    escaped = "Piteå &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;co&lt;/b&gt;"
    assert f'<h1 id="name">{escaped}</h1>' in page
    assert f"<title>{escaped} – Liten tävling för kommunhus</title>" in page


def test_cache_and_content_security_policy(client):
    r = client.get("/embed/liten/alfa")
    assert r.headers["cache-control"] == "public, max-age=60"
    csp = dict([*d.split(" ", 1), ""][:2] for d in r.headers["content-security-policy"].split("; "))
    assert csp["frame-ancestors"] == f"'self' {ORIGIN}"
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'none'"
    assert csp["connect-src"] == "'none'"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", csp["style-src"])
    assert "x-frame-options" not in r.headers  # framing is the point; the CSP says by whom
    assert r.headers["x-content-type-options"] == "nosniff"


def test_without_embed_key_only_this_server_may_frame_it(tmp_path):
    store = SQLiteStore(tmp_path / "plain.db")
    seed(store)
    app = create_app([_competition(extra="")], store, clock=NOW.timestamp)
    with TestClient(app) as c:
        csp = c.get("/embed/liten/alfa").headers["content-security-policy"]
    store.close()
    assert "frame-ancestors 'self'" in csp and ORIGIN not in csp


def test_unknown_competition_or_site_is_a_json_404(client):
    for path in ("/embed/nope/alfa", "/embed/liten/nowhere"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json"
        assert r.json()["error"]["code"] == "not_found"
    assert "alfa" in client.get("/embed/liten/nowhere").json()["error"]["message"]


def test_a_closed_competition_shows_its_frozen_figures(tmp_path):
    store = SQLiteStore(tmp_path / "closed.db")
    seed(store, until=datetime(2011, 4, 1, 1, tzinfo=TZ))
    after_end = datetime(2011, 4, 2, 9, tzinfo=TZ).timestamp()
    tokens = TokenSet({"anna": hash_token(TOKEN)})
    app = create_app([_competition()], store, clock=lambda: after_end, tokens=tokens)
    with TestClient(app) as c:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert c.post("/api/competitions/liten/close", json={"confirm": "liten"}, headers=auth)
        board = c.get("/api/competitions/liten/leaderboard").json()
        assert board["closed"]
        page = c.get("/embed/liten/alfa").text
        en = c.get("/embed/liten/alfa?lang=en").text
    store.close()
    alfa = next(e for e in board["entries"] if e["site"] == "alfa")
    assert _text(page, "reduction") == f"{alfa['reduction_pct']:.1f} %".replace(".", ",")
    assert "Slutresultat: tävlingen är avslutad." in page
    assert "Final results: the competition is closed." in en


# -- in Chromium: framed from another origin ------------------------------------------------


class _Parent:
    """A web page on its own loopback port (so another origin) that frames ``src``."""

    def __init__(self, port: int, src: str) -> None:
        body = (
            f'<!DOCTYPE html><html lang="sv"><title>Kommunen</title>'
            f'<iframe id="standing" title="Ställningen" src="{src}" width="400" height="300">'
            "</iframe></html>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{port}/"

    def __enter__(self) -> _Parent:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_framed_by_an_allowed_origin_and_refused_by_others(make_server, page: Page):  # noqa: F811
    allowed, other = free_port(), free_port()
    listed = f"http://127.0.0.1:{allowed}"
    server = make_server(extra=f'\n[embed]\nframe_ancestors = ["{listed}"]\n')
    src = server.url + "/embed/spar/are"
    refusals: list[str] = []
    page.on("console", lambda m: refusals.append(m.text) if "frame-ancestors" in m.text else None)

    with _Parent(allowed, src) as parent:
        page.goto(parent.url)
        frame = page.frame_locator("#standing")
        expect(frame.locator("#name")).to_have_text("Åre kommunhus")
        expect(frame.locator("#rank")).to_have_text("1 av 3")
        expect(frame.locator("#reduction")).to_have_text("20,0 %")
        expect(frame.locator("#sparkline")).to_be_visible()
    assert refusals == []

    with _Parent(other, src) as parent:
        with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refusal:
            page.goto(parent.url)
        assert f"frame-ancestors 'self' {listed}" in refusal.value.text
        expect(page.frame_locator("#standing").locator("#name")).to_have_count(0)

    # the site page is framed by no one (X-Frame-Options: DENY, frame-ancestors 'none')
    with _Parent(allowed, server.url + "/sites/spar/are") as parent:
        with page.expect_console_message(lambda m: "frame" in m.text.lower()) as refusal:
            page.goto(parent.url)
        expect(page.frame_locator("#standing").locator("#name")).to_have_count(0)
    assert "frame-ancestors 'none'" in refusal.value.text or "X-Frame-Options" in refusal.value.text

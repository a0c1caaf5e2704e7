"""Summary downloads are drawn once per scores snapshot: the same bytes until the scores (or
the annotated actions, or a site's settings) change, new ones after; a crowd asking at once
gets one drawing; the cache stays within its bytes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from api.reports.figures import collect
from api.reports.render import render_summary
from api.scoreboard import Scoreboard
from api.summary_cache import SummaryCache
from ingest.store.base import Message
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition, hourly_readings, seed
from tests.reports.conftest import pdf_text

BASE = "/api/competitions/liten"
TOKEN = "cache-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DOWNLOADS = [f"{BASE}/summary.{f}" for f in ("csv", "xlsx", "pdf")] + [
    f"{BASE}/sites/beta/summary.pdf?lang=en",
    f"{BASE}/sites/beta/summary.csv",
]


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "cache.db")
    seed(s)
    yield s
    s.close()


def _app(store, now: dict):
    tokens = TokenSet({"anna": hash_token(TOKEN)})
    return create_app([competition()], store, clock=lambda: now["t"], tokens=tokens)


def _downloads(client) -> dict[str, bytes]:
    out = {}
    for path in DOWNLOADS:
        r = client.get(path)
        assert r.status_code == 200, r.text
        out[path] = r.content
    return out


def test_the_same_bytes_until_the_scores_change_then_new_ones(store):
    now = {"t": NOW.timestamp()}
    app = _app(store, now)
    cache = app.state.ctx.extras["summary_cache"]
    with TestClient(app) as client:
        first = _downloads(client)
        assert cache.drawn == len(DOWNLOADS)
        # a PDF carries its creation time: identical bytes are the cached drawing
        assert _downloads(client) == first
        assert cache.drawn == len(DOWNLOADS) and cache.hits == len(DOWNLOADS)

        # new readings and a new hour: gamma's meter two hours at 1 kW
        store.write(
            [
                Message(
                    "t",
                    0,
                    "test",
                    hourly_readings(
                        "gamma-main",
                        NOW + timedelta(hours=1),
                        NOW + timedelta(hours=2),
                        1.0,
                        50_000 + 168 * 19 + 19,
                    ),
                )
            ]
        )
        now["t"] = (NOW + timedelta(hours=2)).timestamp()
        after = _downloads(client)
        assert all(after[p] != first[p] for p in DOWNLOADS)
        assert cache.drawn == 2 * len(DOWNLOADS)
        # the old snapshot's entries went with it
        assert len(cache._entries) == len(DOWNLOADS)
        assert _downloads(client) == after

    # what the cache gave is what drawing now gives: a new app, nothing cached, same store
    with TestClient(_app(store, now)) as fresh:
        for path in DOWNLOADS:
            if path.endswith(".csv"):
                assert fresh.get(path).content == after[path]


def test_an_annotated_action_or_a_site_edit_gives_new_bytes(store, tmp_path):
    now = {"t": NOW.timestamp()}
    app = _app(store, now)
    with TestClient(app) as client:
        pdf = client.get(f"{BASE}/sites/beta/summary.pdf").content
        csv_before = client.get(f"{BASE}/summary.csv").content
        assert client.get(f"{BASE}/sites/beta/summary.pdf").content == pdf
        # the scores stay, the PDF lists the action
        text = "Sänkte ventilationen nattetid"
        body = {"ts": "2011-03-04T18:00:00+01:00", "text": text}
        r = client.post(f"{BASE}/sites/beta/annotations", json=body, headers=AUTH)
        assert r.status_code == 201, r.text
        again = client.get(f"{BASE}/sites/beta/summary.pdf").content
        assert again != pdf and text in " ".join(pdf_text(again, tmp_path).split())
        # a new floor area replaces the board: new kWh/m² in the summary
        r = client.patch(f"{BASE}/sites/beta", json={"area_m2": 3000}, headers=AUTH)
        assert r.status_code == 200, r.text
        csv_after = client.get(f"{BASE}/summary.csv").content
        assert csv_after != csv_before
        assert client.get(f"{BASE}/summary.csv").content == csv_after


def test_a_crowd_asking_at_once_gets_one_drawing(store):
    board = Scoreboard(competition(), store, clock=NOW.timestamp)
    cache = SummaryCache()
    draws = []

    def draw():
        draws.append(threading.current_thread().name)
        return render_summary(collect(board), "pdf", "sv")

    start = threading.Barrier(8)
    results = []

    def ask():
        start.wait()
        results.append(cache.get(board, (None, "pdf", "sv"), draw))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(draws) == 1 and len(results) == 8
    assert all(r is results[0] for r in results)
    assert cache.hits == 7


def test_the_cache_stays_within_its_bytes(store):
    board = Scoreboard(competition(), store, clock=NOW.timestamp)
    asked = [(sid, "csv", lang) for lang in ("sv", "en") for sid in ("alfa", "beta", "gamma")]

    def draw(sid: str, lang: str):
        return render_summary(collect(board, [board.site_index(sid)]), "csv", lang)

    sizes = [len(draw(sid, lang).body) for sid, _, lang in asked]
    cache = SummaryCache(max_bytes=4 * max(sizes))  # four to five of the six fit
    assert sum(sizes) > cache.max_bytes
    for sid, fmt, lang in asked:
        cache.get(board, (sid, fmt, lang), lambda sid=sid, lang=lang: draw(sid, lang))
        assert cache.bytes <= cache.max_bytes
        assert cache.bytes == sum(len(e.out.body) for e in cache._entries.values())
    kept = [k[1] for k in cache._entries]
    assert asked[0] not in kept and kept[-1] == asked[-1]  # the least recently used went
    # a file over a quarter of the cache is served, never kept
    pdf = cache.get(board, (None, "pdf", "sv"), lambda: render_summary(collect(board), "pdf", "sv"))
    assert pdf.body.startswith(b"%PDF")
    assert ("liten", (None, "pdf", "sv")) not in cache._entries
    assert cache.bytes <= cache.max_bytes

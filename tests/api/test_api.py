"""The HTTP API on a seeded store: figures, frames, the SSE stream and the error shape."""

from __future__ import annotations

from datetime import timedelta

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.store.base import Message
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition, hourly_readings, seed
from tests.services import RunningApp


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "api.db")
    seed(s)
    yield s
    s.close()


@pytest.fixture
def client(store):
    app = create_app([competition()], store, clock=NOW.timestamp, stream_interval_s=0.1)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_competitions(client):
    (c,) = client.get("/api/competitions").json()["competitions"]
    assert (c["id"], c["sites"], c["timezone"]) == ("liten", 3, "Europe/Stockholm")
    detail = client.get("/api/competitions/liten").json()
    assert [s["id"] for s in detail["sites_detail"]] == ["alfa", "beta", "gamma"]
    assert detail["sites_detail"][0]["municipality"] == "Älvdalens kommun"


def test_leaderboard_reduction_league(client):
    board = client.get("/api/competitions/liten/leaderboard").json()
    assert board["as_of"] == "2011-03-08T00:00:00+01:00"
    assert board["hours_elapsed"] == 168
    rows = [(e["rank"], e["site"], e["reduction_pct"], e["saved_kwh"]) for e in board["entries"]]
    # 168 h: alfa 1680 → 1344 kWh, beta 840 → 756 kWh, gamma 3360 → 3192 kWh
    assert rows == [(1, "alfa", 20.0, 336.0), (2, "beta", 10.0, 84.0), (3, "gamma", 5.0, 168.0)]
    alfa = board["entries"][0]
    assert alfa["kwh_per_m2"] == pytest.approx(1.344)
    assert alfa["target_progress"] == pytest.approx(2.0)
    assert alfa["completeness"] == 1.0 and alfa["eligible"] is True
    expected = {
        "rank",
        "site",
        "municipality",
        "name",
        "reduction_pct",
        "saved_kwh",
        "actual_kwh",
        "baseline_kwh",
        "kwh_per_m2",
        "target_pct",
        "completeness",
        "eligible",
    }
    assert expected <= set(alfa)


def test_leaderboard_intensity_league(client):
    board = client.get("/api/competitions/liten/leaderboard?metric=kwh_per_m2").json()
    # kWh/m²: gamma 3192/2000 = 1.596, alfa 1344/1000 = 1.344, beta 756/500 = 1.512
    assert [(e["rank"], e["site"]) for e in board["entries"]] == [
        (1, "alfa"),
        (2, "beta"),
        (3, "gamma"),
    ]
    assert board["metric"] == "kwh_per_m2"


def test_site_detail_and_series(client):
    site = client.get("/api/competitions/liten/sites/beta").json()
    assert site["period"]["reduction_pct"] == 10.0 and site["period"]["rank"] == 2
    assert site["live_power_kw"] == 4.5 and site["meters"] == ["beta-main"]
    hours = client.get("/api/competitions/liten/sites/beta/series").json()["series"]
    assert len(hours) == 168
    assert hours[0] == {
        "start": "2011-03-01T00:00:00+01:00",
        "actual_kwh": 4.5,
        "baseline_kwh": 5.0,
    }
    days = client.get("/api/competitions/liten/sites/beta/series?resolution=day").json()["series"]
    assert len(days) == 7 and days[0]["actual_kwh"] == pytest.approx(108.0)
    assert days[0]["baseline_kwh"] == pytest.approx(120.0)


def test_text_frames_fit_their_sign_exactly(client):
    big = client.get("/api/displays/alfa-lobby/frame?format=txt&page=0")
    assert big.headers["content-type"].startswith("text/plain")
    lines = big.text.rstrip("\n").split("\n")
    assert [len(line) for line in lines] == [32] * 4
    assert lines[0].startswith("Älvdalens") and lines[0].endswith("#1 av 3")
    assert "20,0%" in lines[2]
    small = client.get("/api/displays/beta-small/frame?format=json&page=0").json()
    assert small["lines"] == [line.ljust(16)[:16] for line in small["lines"]]
    assert len(small["lines"]) == 2 and small["lines"][0].endswith("#2 of 3")


@pytest.mark.parametrize(
    ("path", "status", "code", "says"),
    [
        ("/api/competitions/nope", 404, "not_found", "'nope'"),
        ("/api/competitions/liten/sites/zz", 404, "not_found", "'zz'"),
        ("/api/competitions/liten/sites/zz/series", 404, "not_found", "'zz'"),
        ("/api/displays/zz/frame", 404, "not_found", "'zz'"),
        ("/api/competitions/liten/leaderboard?metric=watts", 400, "bad_request", "'watts'"),
        ("/api/competitions/liten/sites/alfa/series?resolution=week", 400, "bad_request", "'week'"),
        ("/api/displays/alfa-lobby/frame?format=gif", 400, "bad_request", "'gif'"),
        ("/no/such/path", 404, "not_found", "/no/such/path"),
    ],
)
def test_errors_have_one_json_shape(client, path, status, code, says):
    response = client.get(path)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and says in error["message"]


def test_method_not_allowed_uses_the_error_shape(client):
    response = client.post("/api/competitions")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_healthz(client):
    assert client.get("/healthz").json()["status"] == "ok"


def test_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "EventSource" in page.text


def test_stream_sends_the_leaderboard_then_updates(store, tmp_path):
    now = {"t": NOW.timestamp()}
    app = create_app([competition()], store, clock=lambda: now["t"], stream_interval_s=0.1)
    with (
        RunningApp(app) as running,
        httpx.stream("GET", f"{running.url}/api/competitions/liten/stream", timeout=20) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response.iter_lines())
        first = next(events)
        assert first["entries"][0]["site"] == "alfa"
        # gamma's meter goes quiet-ish: two hours at 1 kW instead of 19 kW
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
        update = next(events)
        assert update["hours_elapsed"] == 170
        gamma = next(e for e in update["entries"] if e["site"] == "gamma")
        assert gamma["actual_kwh"] == pytest.approx(3192 + 19 + 1)


def _events(lines):
    data = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield orjson.loads("\n".join(data))
            data = []


def test_rank_history_gives_the_standings_at_the_end_of_each_day(client):
    history = client.get("/api/competitions/liten/rank-history").json()
    # 2011-03-01 .. 2011-03-07 have ended at the clock's 2011-03-08 00:00
    assert history["days"] == [f"2011-03-0{d}" for d in range(1, 8)]
    assert history["sites"]["alfa"]["rank"] == [1] * 7
    assert history["sites"]["gamma"]["reduction_pct"] == [5.0] * 7
    site = client.get("/api/competitions/liten/sites/beta").json()
    assert site["rank_history"][-1] == {"date": "2011-03-07", "rank": 2, "reduction_pct": 10.0}


def test_money_co2_uncertainty_and_energy_traps(client):
    alfa = client.get("/api/competitions/liten/leaderboard").json()["entries"][0]
    # 336 kWh saved x 1.2 SEK/kWh = 403.2 SEK; x 45 g/kWh = 15.12 kg CO2
    assert alfa["saved_money"] == pytest.approx(403.2)
    assert alfa["saved_co2_kg"] == pytest.approx(15.12)
    assert alfa["uncertainty_kwh"] is not None and "significant" in alfa
    traps = client.get("/api/competitions/liten/sites/alfa").json()["energy_traps"]
    # a flat 8 kW load against a flat 10 kW baseline: every base load 20 % lower, the share of
    # energy outside office hours unchanged
    assert traps["competition"]["night_base_kw"] == pytest.approx(8.0)
    assert traps["baseline"]["night_base_kw"] == pytest.approx(10.0)
    assert traps["night_base_change_pct"] == pytest.approx(-20.0)
    assert traps["weekend_base_change_pct"] == pytest.approx(-20.0)
    assert traps["after_hours_share_change_pct_points"] == pytest.approx(0.0)


def test_a_day_without_readings_is_unknown_not_zero(tmp_path):
    """A meter installed on day 3: days 1-2 of the day series are null, as their hours are."""
    from datetime import datetime

    from tests.fixtures import TZ

    store = SQLiteStore(tmp_path / "late.db")
    try:
        readings = hourly_readings(
            "beta-main", datetime(2011, 3, 3, tzinfo=TZ), NOW, 4.5, register_kwh=50_000.0
        )
        store.write([Message("seed", 0, "test", readings)])
        app = create_app([competition()], store, clock=NOW.timestamp)
        with TestClient(app, raise_server_exceptions=False) as client:
            url = "/api/competitions/liten/sites/beta/series"
            days = client.get(url + "?resolution=day").json()["series"]
            hours = client.get(url).json()["series"]
            missing = client.get("/api/competitions/liten/sites/nope")
        assert [d["actual_kwh"] for d in days[:2]] == [None, None]
        assert all(h["actual_kwh"] is None for h in hours[:48])
        assert days[3]["actual_kwh"] == pytest.approx(108.0)
        assert missing.status_code == 404 and "known: alfa, beta, gamma" in missing.text
    finally:
        store.close()

"""Security headers on every response: pages (their own CSP, inline code allowed by hash), JSON,
errors (4xx and the catch-all 500), the API docs (no CSP) and the embed page (its framing)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security_headers import DEFAULT_CSP, PERMISSIONS_POLICY
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import COMPETITION_TOML, NOW, seed

ORIGINS = ["https://www.alvdalen.se", "https://intranat.mora.se:8443"]
EMBED = f"\n[embed]\nframe_ancestors = {ORIGINS!r}\n".replace("'", '"')


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "headers.db")
    seed(store)
    app = create_app(
        [parse_competition(COMPETITION_TOML + EMBED, "liten.toml")], store, clock=NOW.timestamp
    )

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test-boom", boom)  # a route that fails: the catch-all 500
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    store.close()


def _policy(headers) -> dict[str, str]:
    return {
        d.split(" ", 1)[0]: (d.split(" ", 1) + [""])[1]  # noqa: RUF005
        for d in headers["content-security-policy"].split("; ")
    }


def _common(headers) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["permissions-policy"] == PERMISSIONS_POLICY
    assert "camera=()" in PERMISSIONS_POLICY and "geolocation=()" in PERMISSIONS_POLICY


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.mark.parametrize(
    "path", ["/", "/kiosk/alfa-lobby", "/kiosk", "/sites/liten/alfa", "/organiser"]
)
def test_pages_allow_their_own_inline_code_by_hash_and_nothing_else(client, path):
    r = client.get(path)
    assert r.status_code == 200
    _common(r.headers)
    assert r.headers["x-frame-options"] == "DENY"
    csp = _policy(r.headers)
    assert csp["default-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["connect-src"] == "'self'"
    assert csp["base-uri"] == "'none'"
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert "unsafe-eval" not in r.headers["content-security-policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", r.text, re.S)
    assert csp["script-src"] == _sha256(script)
    assert csp["style-src"] == _sha256(style)
    assert ' style="' not in r.text  # style attributes would be refused


def test_the_configuration_is_a_data_block_outside_the_hashed_script(client):
    r = client.get("/kiosk/alfa-lobby")
    (block,) = re.findall(r'<script type="application/json" id="config">(.*?)</script>', r.text)
    assert '"competition":"liten"' in block and '"display":"alfa-lobby"' in block
    # the same script, so the same hash, whatever the configuration
    assert _policy(r.headers)["script-src"] == _policy(client.get("/kiosk").headers)["script-src"]


def test_json_routes_get_the_strict_default(client):
    r = client.get("/api/competitions")
    assert r.status_code == 200
    _common(r.headers)
    assert r.headers["content-security-policy"] == DEFAULT_CSP
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/competitions/nope", 404),
        ("/no/such/path", 404),
        ("/api/competitions/liten/leaderboard?metric=nope", 400),
        ("/embed/liten/nowhere", 404),
        ("/test-boom", 500),
    ],
)
def test_errors_carry_the_headers(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    assert "error" in r.json()
    _common(r.headers)
    assert r.headers["content-security-policy"] == DEFAULT_CSP
    assert r.headers["x-frame-options"] == "DENY"


def test_downloads_and_metrics_get_them_too(client):
    for path in ("/api/competitions/liten/summary.csv", "/metrics", "/healthz"):
        r = client.get(path)
        assert r.status_code == 200, path
        _common(r.headers)
        assert r.headers["content-security-policy"] == DEFAULT_CSP, path


def test_the_api_docs_keep_working(client):
    """Swagger UI and ReDoc load their code from a CDN with an inline script: no CSP there
    (one would break them), the other headers still."""
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 200, path
        _common(r.headers)
        assert "content-security-policy" not in r.headers, path
        assert r.headers["x-frame-options"] == "DENY"
    assert client.get("/openapi.json").headers["content-security-policy"] == DEFAULT_CSP


def test_the_embed_page_is_framed_by_the_competitions_origins(client):
    r = client.get("/embed/liten/alfa")
    assert r.status_code == 200
    _common(r.headers)
    csp = _policy(r.headers)
    assert csp["frame-ancestors"] == "'self' " + " ".join(ORIGINS)
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'none'"
    assert "x-frame-options" not in r.headers
    assert r.headers["cache-control"] == "public, max-age=60"

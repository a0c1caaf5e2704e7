"""The one error shape: a store that is down or full answers 503 with Retry-After (worth a
retry, nothing lost), any other unexpected error 500 without its text; never a traceback."""

from __future__ import annotations

import errno
import sqlite3

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import install_error_handlers
from ingest.store.influx_http import InfluxUnavailable


def _app(exc: BaseException) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


def test_a_locked_or_full_store_is_503_with_retry_after():
    for exc, problem in [
        (sqlite3.OperationalError("database is locked"), "locked"),
        (OSError(errno.ENOSPC, "No space left on device"), "disk_full"),
        (InfluxUnavailable("connection refused by http://admin:S3cret@influx:8086"), "unreachable"),
    ]:
        r = _app(exc).get("/boom")
        assert r.status_code == 503, exc
        assert r.headers["retry-after"] == "5"
        body = r.json()["error"]
        assert body["code"] == "store_unavailable" and problem in body["message"]
        assert "S3cret" not in r.text


def test_any_other_error_is_500_without_its_text():
    r = _app(ValueError("secret detail /etc/wattleague/tokens")).get("/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal"
    assert "secret detail" not in r.text and "Traceback" not in r.text

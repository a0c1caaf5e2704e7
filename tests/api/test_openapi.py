"""The OpenAPI document describes every route: each one's answer (a JSON schema, or the media
types of a file), the one error shape on every error status it declares, and the organiser
token as an HTTP bearer security scheme on the routes that need it. Real answers conform:
an open competition's, a closed one's and held data's, checked by schemathesis against the
document (status, content type, body, headers)."""

from __future__ import annotations

import re
from datetime import datetime

import orjson
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.auth import SCHEME, TokenSet, hash_token
from ingest.store.sqlite import SQLiteStore
from tests.api.test_held import AUTH as HELD_AUTH
from tests.api.test_held import _scenario
from tests.fixtures import NOW, TZ, competition, seed

TOKEN = "openapi-organiser-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ERROR_REF = "#/components/schemas/ErrorBody"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
AFTER_END_S = datetime(2011, 4, 2, 9, tzinfo=TZ).timestamp()
# a real id for each path parameter (the seeded competition of tests.fixtures)
IDS = {"cid": "liten", "sid": "alfa", "did": "alfa-lobby", "fmt": "csv"}
# errors whose body is not the error shape, by design
OTHER_ERROR_BODIES = {
    # nothing stored: the error shape plus why, per reading
    ("POST", "/api/readings", "422"): "#/components/schemas/ReadingsRejected",
    # the store does not answer: the health report says so (a probe reads it)
    ("GET", "/healthz", "503"): "#/components/schemas/Health",
}
IDS_404 = {"annotation_id": "999", "held_id": "999"}


def _app(store, now_s: float = NOW.timestamp()):
    return create_app(
        [competition()],
        store,
        clock=lambda: now_s,
        tokens=TokenSet({"anna": hash_token(TOKEN)}),
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    store = SQLiteStore(tmp_path_factory.mktemp("openapi") / "api.db")
    seed(store, until=datetime(2011, 4, 1, 1, tzinfo=TZ))
    yield store
    store.close()


@pytest.fixture(scope="module")
def document(seeded):
    return _app(seeded).openapi()


def _operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def _path(template: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: {**IDS, **IDS_404}[m.group(1)], template)


def test_every_route_declares_its_answer(document):
    for method, path, op in _operations(document):
        ok = [s for s in ("200", "201") if s in op["responses"]]
        assert ok, f"{method} {path} declares no 200 or 201"
        content = op["responses"][ok[0]].get("content", {})
        assert content, f"{method} {path}: its {ok[0]} has no media type"
        for media_type, body in content.items():
            schema = body.get("schema")
            assert schema, f"{method} {path}: {media_type} has no schema"
            if media_type == "application/json":
                # a model (or a union of models), never FastAPI's empty "any" schema
                assert "$ref" in schema or "anyOf" in schema, (method, path, schema)
            elif not media_type.startswith("text/"):
                assert schema == {"type": "string", "format": "binary"}, (method, path)


def test_every_error_status_has_the_error_shape(document):
    for method, path, op in _operations(document):
        errors = {s: r for s, r in op["responses"].items() if s == "default" or s >= "400"}
        assert "default" in errors and "429" in errors, (method, path)
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            expected = OTHER_ERROR_BODIES.get((method, path, status), ERROR_REF)
            assert schema == {"$ref": expected}, (method, path, status)
    # validation problems answer 400 in the error shape: FastAPI's 422 model is nowhere
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_token_is_a_bearer_scheme_and_routes_that_need_it_say_so(seeded, document):
    assert document["components"]["securitySchemes"][SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"][SCHEME]["description"],
    }
    needs = {(m, p) for m, p, op in _operations(document) if op.get("security") == [{SCHEME: []}]}
    optional = {(m, p) for m, p, op in _operations(document) if {} in op.get("security", [])}
    assert ("POST", "/api/readings") in needs and ("GET", "/api/quarantine") in needs
    assert optional == {("GET", "/api/competitions/{cid}")}
    # what the document says is what the server does: without a token, exactly the routes
    # that need one answer 401
    with TestClient(_app(seeded), raise_server_exceptions=False) as client:
        for method, path, _ in _operations(document):
            if path.endswith("/stream"):
                continue  # an endless answer; it needs no token
            response = client.request(method, _path(path))
            assert (response.status_code == 401) == ((method, path) in needs), (
                method,
                path,
                response.status_code,
                response.text[:300],
            )
            if response.status_code == 401:
                assert response.json()["error"]["code"] == "unauthorized"


def test_the_models_only_document_no_answer_is_validated_again(seeded, monkeypatch):
    """The polled routes return orjson bytes; FastAPI must pass them through without
    serialising them against the declared model (that would cost the hot path its speed)."""
    import fastapi.routing

    def _never(**_):
        raise AssertionError("a response was serialised against its model")

    monkeypatch.setattr(fastapi.routing, "serialize_response", _never)
    with TestClient(_app(seeded), raise_server_exceptions=False) as client:
        for path in (
            "/api/competitions",
            "/api/competitions/liten/leaderboard",
            "/api/competitions/liten/leaderboard?metric=kwh_per_m2",
            "/api/displays/alfa-lobby/frame?format=json",
            "/api/competitions/liten/sites/alfa",
        ):
            assert client.get(path).status_code == 200, path


def _conforms(schema, client, method, template, path_parameters=None, **kwargs):
    """Send the request (path parameters: ``IDS`` unless given) and check the answer against
    the document; returns it."""
    names = re.findall(r"{(\w+)}", template)
    path_parameters = path_parameters or {n: {**IDS, **IDS_404}[n] for n in names}
    headers = {**AUTH, **kwargs.pop("headers", {})}
    response = client.request(method, template.format(**path_parameters), headers=headers, **kwargs)
    case = schema[template][method].Case(
        path_parameters=path_parameters, query=dict(kwargs.get("params") or {}), headers=headers
    )
    case.validate_response(response, checks=CHECKS, headers=headers)
    return response


def test_real_answers_conform_open_then_closed(tmp_path):
    """The competition's whole life through the API: writes, reads, frames in every format,
    downloads, then closed (every view then carries ``closed``)."""
    store = SQLiteStore(tmp_path / "life.db")
    seed(store, until=datetime(2011, 4, 1, 1, tzinfo=TZ))
    app = _app(store, AFTER_END_S)
    schema = schemathesis.openapi.from_dict(app.openapi())
    site = "/api/competitions/{cid}/sites/{sid}"
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            reading = {"meter": "alfa-main", "ts": "2011-03-31T23:00:00+02:00", "power_w": 5}
            ok = _conforms(schema, client, "POST", "/api/readings", content=orjson.dumps([reading]))
            assert ok.status_code == 200
            bad = _conforms(
                schema, client, "POST", "/api/readings", content=b'[{"meter": "nobody"}]'
            )
            assert bad.status_code == 422
            note = {"ts": "2011-03-10T08:00:00+01:00", "text": "Nattvandring"}
            added = _conforms(
                schema,
                client,
                "POST",
                f"{site}/annotations",
                json=note,
            )
            assert added.status_code == 201
            edit = {"area_m2": 1100, "reason": "measured again"}
            assert _conforms(schema, client, "PATCH", site, json=edit).status_code == 200
            for template in (
                "/api/competitions",
                "/api/competitions/{cid}",
                "/api/competitions/{cid}/leaderboard",
                "/api/competitions/{cid}/rank-history",
                site,
                f"{site}/series",
                "/api/competitions/{cid}/annotations",
                "/api/quarantine",
                "/api/competitions/{cid}/site-edits",
                "/api/competitions/{cid}/quality",
                "/api/competitions/{cid}/held",
                "/api/competitions/{cid}/audit",
                "/api/competitions/{cid}/audit.csv",
                "/api/competitions/{cid}/closing",
                "/healthz",
            ):
                assert _conforms(schema, client, "GET", template).status_code == 200, template
            body = b"timestamp,kwh\n2010-03-01T00:00:00+01:00,1\n2010-03-01T01:00:00+01:00,2\n"
            imported = _conforms(
                schema,
                client,
                "POST",
                "/api/competitions/{cid}/imports/consumption",
                params={"meter": "alfa-main", "dry_run": "true"},
                content=body,
            )
            assert imported.status_code == 200
            reprocess = _conforms(
                schema,
                client,
                "POST",
                "/api/quarantine/reprocess",
                json={"reason": "unknown_meter"},
            )
            assert reprocess.status_code == 200
            closed = _conforms(
                schema, client, "POST", "/api/competitions/{cid}/close", json={"confirm": "liten"}
            )
            assert closed.status_code == 201, closed.text
            views = (
                "/api/competitions/{cid}/leaderboard",
                site,
                f"{site}/series",
                "/api/competitions/{cid}/closing",
            )
            for template in views:
                response = _conforms(schema, client, "GET", template)
                assert response.json()["closed"], template
            for fmt in ("csv", "xlsx", "pdf"):
                response = _conforms(
                    schema,
                    client,
                    "GET",
                    "/api/competitions/{cid}/summary.{fmt}",
                    {"cid": "liten", "fmt": fmt},
                )
                assert response.status_code == 200 and "x-results-closed" in response.headers
            for fmt in ("html", "txt"):
                response = _conforms(
                    schema, client, "GET", f"{site}/status-email", params={"format": fmt}
                )
                assert response.status_code == 200
            zipped = _conforms(schema, client, "GET", "/api/competitions/{cid}/closing/bundle.zip")
            assert zipped.headers["content-type"] == "application/zip"
            frame = "/api/displays/{did}/frame"
            for fmt in ("json", "txt", "awtrix", "wled"):
                response = _conforms(schema, client, "GET", frame, params={"format": fmt})
                assert response.status_code == 200, (fmt, response.text)
            refused = _conforms(schema, client, "GET", frame, params={"format": "png"})
            assert refused.status_code == 400  # a text display has no pixel size
            deleted = _conforms(
                schema, client, "DELETE", "/api/competitions/{cid}/annotations/{annotation_id}"
            )
            assert deleted.status_code == 409  # closed: annotations stay
    finally:
        store.close()


def test_held_data_answers_conform(tmp_path):
    store = SQLiteStore(tmp_path / "held.db")
    try:
        with _scenario(store) as (_, client, _clock):
            schema = schemathesis.openapi.from_dict(client.app.openapi())
            listed = client.get("/api/competitions/lock/held", headers=HELD_AUTH)
            items = listed.json()["items"]
            assert items and items[0]["what_if"]
            ids = {"cid": "lock", "held_id": str(items[0]["id"])}
            cases = [
                ("GET", "/api/competitions/{cid}/held", None),
                ("GET", "/api/competitions/{cid}/held/{held_id}", None),
                ("POST", "/api/competitions/{cid}/held/{held_id}/accept", {"reason": "ok"}),
                ("GET", "/api/competitions/{cid}/held", None),  # now decided
            ]
            for method, template, body in cases:
                path_parameters = {k: v for k, v in ids.items() if f"{{{k}}}" in template}
                path = template.format(**path_parameters)
                response = client.request(method, path, headers=HELD_AUTH, json=body)
                assert response.status_code == 200, response.text
                case = schema[template][method].Case(
                    path_parameters=path_parameters, headers=HELD_AUTH
                )
                case.validate_response(response, checks=CHECKS, headers=HELD_AUTH)
    finally:
        store.close()

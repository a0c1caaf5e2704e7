"""The app's routes, pinned: each one's method, path, OpenAPI operation id and the router module
that serves it. Clients generated from ``/openapi.json`` and the docs depend on the first three;
a route that moves, appears or disappears shows up here first."""

from __future__ import annotations

import pytest

from api.app import ROUTERS, create_app
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition

# router module → {(method, path): operation id, or None for a route hidden from the schema}
ROUTES: dict[str, dict[tuple[str, str], str | None]] = {
    "api.frames": {
        ("GET", "/api/displays/{did}/frame"): "frame_api_displays__did__frame_get",
    },
    "api.leaderboard": {
        ("GET", "/api/competitions/{cid}/leaderboard"): (
            "leaderboard_api_competitions__cid__leaderboard_get"
        ),
        ("GET", "/api/competitions/{cid}/rank-history"): (
            "rank_history_api_competitions__cid__rank_history_get"
        ),
        ("GET", "/api/competitions/{cid}/stream"): "stream_api_competitions__cid__stream_get",
    },
    "api.competitions": {
        ("GET", "/api/competitions"): "list_competitions_api_competitions_get",
        ("GET", "/api/competitions/{cid}"): "get_competition_api_competitions__cid__get",
    },
    "api.sites": {
        ("GET", "/api/competitions/{cid}/sites/{sid}"): (
            "site_api_competitions__cid__sites__sid__get"
        ),
        ("GET", "/api/competitions/{cid}/sites/{sid}/series"): (
            "series_api_competitions__cid__sites__sid__series_get"
        ),
    },
    "api.organiser": {
        ("POST", "/api/readings"): "post_readings_api_readings_post",
        ("POST", "/api/competitions/{cid}/sites/{sid}/annotations"): (
            "add_annotation_api_competitions__cid__sites__sid__annotations_post"
        ),
        ("GET", "/api/competitions/{cid}/annotations"): (
            "list_annotations_api_competitions__cid__annotations_get"
        ),
        ("DELETE", "/api/competitions/{cid}/annotations/{annotation_id}"): (
            "delete_annotation_api_competitions__cid__annotations__annotation_id__delete"
        ),
        ("GET", "/api/quarantine"): "list_quarantine_api_quarantine_get",
        ("POST", "/api/quarantine/reprocess"): "reprocess_api_quarantine_reprocess_post",
        ("PATCH", "/api/competitions/{cid}/sites/{sid}"): (
            "edit_site_api_competitions__cid__sites__sid__patch"
        ),
        ("GET", "/api/competitions/{cid}/site-edits"): (
            "list_site_edits_api_competitions__cid__site_edits_get"
        ),
        ("GET", "/api/competitions/{cid}/quality"): "quality_api_competitions__cid__quality_get",
    },
    "api.operations": {
        ("GET", "/healthz"): "healthz_healthz_get",
        ("GET", "/metrics"): None,
    },
    "api.pages": {
        ("GET", "/"): None,
        ("GET", "/kiosk"): None,
        ("GET", "/kiosk/{did}"): None,
        ("GET", "/sites/{cid}/{sid}"): None,
        ("GET", "/organiser"): None,
    },
    "api.downloads": {
        ("GET", "/api/competitions/{cid}/summary.{fmt}"): (
            "competition_summary_api_competitions__cid__summary__fmt__get"
        ),
        ("GET", "/api/competitions/{cid}/sites/{sid}/summary.{fmt}"): (
            "site_summary_api_competitions__cid__sites__sid__summary__fmt__get"
        ),
        ("GET", "/api/competitions/{cid}/sites/{sid}/status-email"): (
            "site_status_email_api_competitions__cid__sites__sid__status_email_get"
        ),
    },
    "api.uploads": {
        ("POST", "/api/competitions/{cid}/imports/consumption"): (
            "upload_consumption_api_competitions__cid__imports_consumption_post"
        ),
        ("POST", "/api/competitions/{cid}/imports/weather"): (
            "upload_weather_api_competitions__cid__imports_weather_post"
        ),
    },
    "api.held": {
        ("GET", "/api/competitions/{cid}/held"): "list_held_api_competitions__cid__held_get",
        ("GET", "/api/competitions/{cid}/held/{held_id}"): (
            "get_held_api_competitions__cid__held__held_id__get"
        ),
        ("POST", "/api/competitions/{cid}/held/{held_id}/accept"): (
            "accept_api_competitions__cid__held__held_id__accept_post"
        ),
        ("POST", "/api/competitions/{cid}/held/{held_id}/reject"): (
            "reject_api_competitions__cid__held__held_id__reject_post"
        ),
    },
    "api.audit": {
        ("GET", "/api/competitions/{cid}/audit"): "audit_api_competitions__cid__audit_get",
        ("GET", "/api/competitions/{cid}/audit.csv"): (
            "audit_download_api_competitions__cid__audit_csv_get"
        ),
    },
    "api.embed": {
        ("GET", "/embed/{cid}/{sid}"): None,
    },
    "api.closing": {
        ("POST", "/api/competitions/{cid}/close"): "close_api_competitions__cid__close_post",
        ("GET", "/api/competitions/{cid}/closing"): "closing_api_competitions__cid__closing_get",
        ("GET", "/api/competitions/{cid}/closing/bundle.zip"): (
            "bundle_zip_api_competitions__cid__closing_bundle_zip_get"
        ),
    },
}


@pytest.fixture
def app(tmp_path):
    store = SQLiteStore(tmp_path / "routes.db")
    yield create_app([competition()], store, clock=NOW.timestamp)
    store.close()


def test_the_openapi_document_lists_these_operations(app):
    listed = {
        (method.upper(), path): operation["operationId"]
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    }
    pinned = {key: op for routes in ROUTES.values() for key, op in routes.items() if op}
    assert listed == pinned


def test_every_route_is_served_by_the_router_module_named_for_it(app):
    ctx = app.state.ctx
    served: dict[str, set[tuple[str, str]]] = {}
    for make_router in ROUTERS:
        for route in make_router(ctx).routes:
            assert route.endpoint.__module__ == make_router.__module__, route.path
            for method in route.methods:
                served.setdefault(make_router.__module__, set()).add((method, route.path))
    assert served == {module: set(routes) for module, routes in ROUTES.items()}


def test_create_app_defines_no_route_of_its_own(app):
    """Besides the routers' routes the app serves only FastAPI's own (``/openapi.json``,
    ``/docs``, ``/redoc``): a route added inside ``create_app`` would come from ``api.app``."""
    modules = {r.endpoint.__module__ for r in app.routes if hasattr(r, "endpoint")}
    assert modules and "api.app" not in modules

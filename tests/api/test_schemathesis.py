"""Schema-based fuzzing: requests generated from the app's OpenAPI schema never get a 5xx, and
every answer conforms to the schema: its status is declared, its content type is one the
status declares, its body validates against the declared schema (the JSON models of
``api.schemas``, the one error shape) and its declared headers have their declared types.

Schemathesis drives the FastAPI app in process (its ASGI transport, which runs the app's
lifespan and so the leaderboard hub) on the seeded small competition of ``tests.fixtures``
with a fixed clock. Path parameters are sometimes swapped for real ids so that the handlers
behind the 404s are reached too, and every case goes out with no token, a wrong one or a valid
one (a ``TokenSet`` made here), so the write endpoints run past their guard. The SSE
``/stream`` never ends and is left out of the generated calls (tests/api/test_api.py covers it).
Bodies of ``POST /api/readings`` are described only loosely in the schema (the endpoint reads
raw bytes and decodes them as ingest does), so a Hypothesis test of its own sends arbitrary
bytes, JSON and near-valid readings there.

Schemathesis is a dev dependency: without it this module fails, it does not skip.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition, seed

try:
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )
except ImportError as exc:  # pragma: no cover - the failing test below reports it
    schemathesis = None
    MISSING = str(exc)
else:
    CHECKS = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]

TOKEN = "fuzz-organiser-token"
AUTH_HEADERS = {
    "none": {},
    "wrong": {"Authorization": "Bearer not-the-token"},
    "valid": {"Authorization": f"Bearer {TOKEN}"},
}
KNOWN = {
    "cid": ["liten"],
    "sid": ["alfa", "beta", "gamma"],
    "did": ["alfa-lobby", "beta-small"],
}
EXAMPLES = 100  # per operation; the whole module stays well under a minute
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure is reproducible
    suppress_health_check=list(HealthCheck),
    database=None,
    # no explicit phase: the schema's examples are for readers of /docs, and schemathesis
    # cannot combine them with the auth strategy of @schema.given
    phases=[Phase.generate, Phase.shrink],
)


def _seeded_app(tmp_path_factory):
    store = SQLiteStore(tmp_path_factory.mktemp("fuzz") / "api.db")
    seed(store)
    app = create_app(
        [competition()],
        store,
        clock=NOW.timestamp,
        stream_interval_s=0.2,
        tokens=TokenSet({"fuzzer": hash_token(TOKEN)}),
    )
    return app, store


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    app, store = _seeded_app(tmp_path_factory)
    yield app
    store.close()


@pytest.fixture(scope="module")
def readings_client(tmp_path_factory):
    """Its own app and store: the schemathesis transport runs ``fuzz_app``'s lifespan (and
    so its hub) on an event loop of its own."""
    app, store = _seeded_app(tmp_path_factory)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    store.close()


if schemathesis is None:

    def test_schemathesis_is_installed():
        pytest.fail(
            f"schemathesis is not installed ({MISSING}); install the dev extra: "
            "pip install -e '.[dev]'",
            pytrace=False,
        )

else:

    def _openapi_schema():
        """The app's schema, loaded once at collection (schemathesis parametrizes from it);
        the requests go to ``fuzz_app`` (``case.call(app=...)``), built per module run."""
        store = SQLiteStore(":memory:")
        try:
            document = create_app([competition()], store, tokens=TokenSet({})).openapi()
        finally:
            store.close()
        return schemathesis.openapi.from_dict(document).exclude(path_regex=r"/stream$")

    # eager, not schemathesis.pytest.from_fixture: the lazy loader of schemathesis 4.32 reads
    # pytest's private Node._nodeid, which pytest 9.2 no longer has
    schema = _openapi_schema()

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        # keep the generated value or take a real id of that kind (cid, sid, did)
        if not path_parameters:
            return st.just(path_parameters)
        return st.fixed_dictionaries(
            {
                name: st.sampled_from([value, *KNOWN.get(name, [])])
                for name, value in path_parameters.items()
            }
        )

    @schema.parametrize()
    @schema.given(auth=st.sampled_from(sorted(AUTH_HEADERS)))
    @FUZZ
    def test_no_server_errors_and_answers_conform(fuzz_app, case, auth):
        headers = AUTH_HEADERS[auth]
        response = case.call(app=fuzz_app, headers=headers)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} ({auth} token) answered "
            f"{response.status_code}: {response.text[:2000]}\n"
            f"reproduce: {case.as_curl_command(headers=headers)}"
        )
        # status, content type, body and headers as the schema declares them
        case.validate_response(response, checks=CHECKS, headers=headers)
        if response.status_code >= 400:
            # every error has the project's one shape
            body = response.json()
            assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])

    def test_schema_lists_every_operation_but_the_stream():
        operations = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
        assert ("GET", "/api/competitions/{cid}/leaderboard") in operations
        assert ("POST", "/api/readings") in operations
        assert not any(path.endswith("/stream") for _, path in operations)


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["meter", "ts", "energy_kwh", "power_w", "v", "n", "bt", "x"])
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)
READING = st.fixed_dictionaries(
    {
        "meter": st.sampled_from(["alfa-main", "beta-main", "nobody"]) | st.text(max_size=8),
        "ts": st.integers(-(2**40), 2**40)
        | st.floats(allow_nan=True)
        | st.sampled_from(["2011-03-07T12:00:00+01:00", "2011-03-07T12:00:00", "now"]),
    },
    optional={
        "energy_kwh": st.floats() | st.integers() | st.text(max_size=5),
        "power_w": st.floats() | st.integers() | st.none(),
    },
)


@given(
    body=st.binary(max_size=200)
    | JSON.map(lambda v: json.dumps(v).encode())  # NaN and Infinity tokens included
    | st.lists(READING, max_size=5).map(lambda v: json.dumps(v).encode())
)
@settings(FUZZ, max_examples=300)
def test_post_readings_never_5xx(readings_client, body):
    """Arbitrary bytes, JSON and near-valid readings with a valid token: a 2xx or a 4xx."""
    response = readings_client.post("/api/readings", content=body, headers=AUTH_HEADERS["valid"])
    assert response.status_code < 500, (body, response.status_code, response.text)

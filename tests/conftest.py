from __future__ import annotations

import itertools
import os

import pytest

from tests.influx import Influxd, database_name
from tests.services import Mosquitto

# Servers the tests start (in process and as subprocesses) serve one loopback client that sends
# far more than a person would: exempt it from the rate limits, which tests/api/
# test_request_limits.py tests with its own settings.
os.environ.setdefault("WATTLEAGUE_RATE_EXEMPT", "127.0.0.1,::1")


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """A real Mosquitto started for this test session on a free port."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory):
    """A real InfluxDB 1.x (Debian's influxd) started for this test session on free ports.

    Tests must not stop it: outage tests start their own ``tests.influx.Influxd``.
    """
    server = Influxd(tmp_path_factory.mktemp("influxd"))
    problem = None
    try:
        server.start()
    except RuntimeError as exc:
        problem = str(exc)
    if problem:  # outside the except: no chained traceback around the message
        pytest.fail(problem, pytrace=False)
    yield server
    server.stop()


_database_numbers = itertools.count()


@pytest.fixture
def influx_database(influxd, request):
    """Makes fresh database names for this test (each call a new one), dropped afterwards."""
    made: list[str] = []

    def fresh() -> str:
        name = database_name(f"{request.node.nodeid}_{next(_database_numbers)}")
        made.append(name)
        return name

    yield fresh
    for name in made:
        influxd.drop_database(name)


@pytest.fixture(params=["sqlite", "influx"])
def store_url(request, tmp_path):
    """The URL of an empty store: a SQLite file, or a fresh database on the test InfluxDB."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    influxd = request.getfixturevalue("influxd")
    return influxd.url(request.getfixturevalue("influx_database")())


@pytest.fixture
def any_store(store_url):
    """An empty store of each kind, opened through ``open_store``."""
    from ingest.store import open_store

    store = open_store(store_url)
    yield store
    store.close()

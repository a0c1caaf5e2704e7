from __future__ import annotations

import pytest

from tests.services import Mosquitto


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    """A real Mosquitto started for this test session on a free port."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()

from __future__ import annotations

import csv

import pytest

from tests.deploy.broker import DeployedMosquitto, make_test_ca
from tests.fixtures import COMPETITION_TOML

# liten plus what the ACL must also cover: a mapped topic, a weather station, an AWTRIX clock
EXTRA_TOML = """
[[site]]
id = "delta"
municipality = "Sala kommun"
name = "Sala kommunhus"
area_m2 = 800
  [[site.meter]]
  id = "delta-main"
  topic = "gateway/delta/senml"
  format = "senml"

[[weather]]
id = "mora-smhi"

[[display]]
id = "delta-clock"
site = "delta"
kind = "awtrix"
awtrix_prefix = "awtrix_1a2b3c"
"""


@pytest.fixture(scope="session")
def deploy_competition(tmp_path_factory):
    path = tmp_path_factory.mktemp("competition") / "liten.toml"
    path.write_text(COMPETITION_TOML + EXTRA_TOML)
    return path


@pytest.fixture(scope="session")
def broker_files(tmp_path_factory, deploy_competition):
    """(folder, {user: password}) written by `wattleague deploy mosquitto-acl`."""
    from click.testing import CliRunner

    from wattleague.cli import main

    out = tmp_path_factory.mktemp("broker-files")
    result = CliRunner().invoke(
        main, ["deploy", "mosquitto-acl", "--config", str(deploy_competition), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with open(out / "credentials.csv", newline="") as f:
        passwords = {row["username"]: row["password"] for row in csv.DictReader(f)}
    return out, passwords


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def deployed_broker(tmp_path_factory, broker_files, test_ca):
    """A real Mosquitto running deploy/mosquitto/mosquitto.conf with the generated files."""
    broker = DeployedMosquitto(tmp_path_factory.mktemp("mosquitto"), broker_files[0], test_ca)
    broker.start()
    yield broker
    broker.stop()

"""The compose file (not run here: no container runtime) trusts exactly its own network's
gateway for X-Forwarded-For: the address the host's reverse proxy reaches serve from."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml

from api.proxies import parse_trusted_proxies

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "compose.yaml"


def test_serve_trusts_the_gateway_of_its_network():
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    command = compose["services"]["serve"]["command"]
    trusted = parse_trusted_proxies(command[command.index("--trusted-proxies") + 1])
    (network,) = compose["networks"]["default"]["ipam"]["config"]
    assert trusted == [network["gateway"]]
    assert ipaddress.ip_address(network["gateway"]) in ipaddress.ip_network(network["subnet"])
    # serve is reachable only from the host's loopback, i.e. only through the host's proxy
    assert compose["services"]["serve"]["ports"] == ["127.0.0.1:8000:8000"]

"""X-Forwarded-For names the client only when a trusted proxy sends it (``--trusted-proxies``):
then each client behind the proxy has its own rate-limit bucket; from anyone else the header is
ignored, and an address a client writes into it before the proxy's is never taken."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from api.app import create_app
from api.auth import TokenSet
from api.proxies import TrustedProxiesError, parse_trusted_proxies, server_options
from api.request_limits import RequestLimits
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition, seed
from tests.services import RunningApp, free_port, wait_until
from wattleague.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "kommunhus-2011.toml"
READS = RequestLimits(read_per_s=0.001, read_burst=2, exempt=())  # two reads per client


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "proxies.db")
    seed(s)
    yield s
    s.close()


def _serving(store, trusted: str) -> RunningApp:
    app = create_app(
        [competition()], store, clock=NOW.timestamp, tokens=TokenSet({}), request_limits=READS
    )
    return RunningApp(app, **server_options(parse_trusted_proxies(trusted)))


def _get(client: httpx.Client, forwarded_for: str) -> httpx.Response:
    return client.get("/api/competitions", headers={"X-Forwarded-For": forwarded_for})


def _limited(r: httpx.Response) -> str:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "too_many_requests"
    return r.json()["error"]["message"]


def test_a_trusted_proxy_gives_each_client_its_own_bucket(store):
    with _serving(store, "127.0.0.1,::1") as running, httpx.Client(base_url=running.url) as c:
        assert _get(c, "198.51.100.7").status_code == 200
        assert _get(c, "198.51.100.7").status_code == 200
        assert "from 198.51.100.7;" in _limited(_get(c, "198.51.100.7"))
        # another client behind the same proxy: its own bucket
        assert _get(c, "198.51.100.8").status_code == 200
        # a client that writes an address into the header before the proxy appends its own
        # is still itself (the right-most address the proxy did not vouch for)
        assert "from 198.51.100.7;" in _limited(_get(c, "198.51.100.9, 198.51.100.7"))
        # a chain of trusted proxies: the client is the first address before them
        assert "from 198.51.100.7;" in _limited(_get(c, "198.51.100.7, 127.0.0.1"))


@pytest.mark.parametrize("trusted", ["192.0.2.1", "10.0.0.0/8", ""])
def test_the_header_from_an_untrusted_address_is_ignored(store, trusted):
    with _serving(store, trusted) as running, httpx.Client(base_url=running.url) as c:
        assert _get(c, "198.51.100.7").status_code == 200
        assert _get(c, "198.51.100.8").status_code == 200
        # every "client" was the loopback peer, sharing one bucket
        assert "from 127.0.0.1;" in _limited(_get(c, "198.51.100.9"))


def test_trusted_proxies_are_addresses_or_networks():
    assert parse_trusted_proxies(" 127.0.0.1, ::1 ,172.30.0.0/24,") == [
        "127.0.0.1",
        "::1",
        "172.30.0.0/24",
    ]
    assert parse_trusted_proxies("10.1.2.3/8") == ["10.0.0.0/8"]
    assert parse_trusted_proxies("") == []
    assert server_options([]) == {"proxy_headers": False}
    with pytest.raises(TrustedProxiesError) as exc:
        parse_trusted_proxies("127.0.0.1,proxy.local,10.0.0.0/33")
    assert "'proxy.local', '10.0.0.0/33'" in str(exc.value) and "172.30.0.0/24" in str(exc.value)
    with pytest.raises(TrustedProxiesError, match=r"'\*' is not accepted"):
        parse_trusted_proxies("*")


def test_serve_refuses_a_bad_trusted_proxy_before_starting():
    result = CliRunner().invoke(
        main, ["serve", "--config", str(EXAMPLE), "--trusted-proxies", "my-proxy"]
    )
    assert result.exit_code == 2
    assert "--trusted-proxies" in result.output and "'my-proxy'" in result.output


def test_serve_takes_trusted_proxies_from_the_environment(tmp_path):
    """The command as deployed: WATTLEAGUE_TRUSTED_PROXIES reaches uvicorn."""
    port = free_port()
    env = {
        **os.environ,
        "WATTLEAGUE_TRUSTED_PROXIES": "127.0.0.1",
        "WATTLEAGUE_RATE_READ_PER_S": "0.001",
        "WATTLEAGUE_RATE_READ_BURST": "2",
    }
    args = ["serve", "--config", str(EXAMPLE), "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattleague", *args, "--store", f"sqlite:///{tmp_path}/s.db"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def answered():
            try:
                return httpx.get(f"{url}/healthz", headers={"X-Forwarded-For": "192.0.2.99"})
            except httpx.HTTPError:
                return None

        wait_until(answered, timeout_s=120, interval_s=0.5)
        with httpx.Client(base_url=url) as c:
            assert _get(c, "198.51.100.7").status_code == 200
            assert _get(c, "198.51.100.7").status_code == 200
            assert "from 198.51.100.7;" in _limited(_get(c, "198.51.100.7"))
            assert _get(c, "198.51.100.8").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)

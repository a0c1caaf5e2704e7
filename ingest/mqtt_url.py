"""``mqtt://[user:pass@]host[:port]`` and ``mqtts://…`` (TLS) broker URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from ingest.redaction import redact_url, remember_url


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    def configure(self, client) -> None:
        """Give a paho client this broker's credentials and, for mqtts://, TLS."""
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()


def parse_mqtt_url(url: str) -> BrokerAddress:
    """Parse a broker URL; raise ValueError naming what is wrong (with the password masked).

    The password is remembered (``ingest.redaction``), so no log line shows it either.
    """
    remember_url(url)
    shown = redact_url(url)
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "mqtts"):
        raise ValueError(
            f"MQTT URL {shown!r} must start with mqtt:// or mqtts://, e.g. mqtt://127.0.0.1:1883"
        )
    if not parsed.hostname:
        raise ValueError(f"MQTT URL {shown!r} has no host, e.g. mqtt://127.0.0.1:1883")
    try:
        port = parsed.port
    except ValueError:
        raise ValueError(f"MQTT URL {shown!r} has an invalid port") from None
    tls = parsed.scheme == "mqtts"
    return BrokerAddress(
        parsed.hostname,
        port or (8883 if tls else 1883),
        tls,
        unquote(parsed.username) if parsed.username else None,
        unquote(parsed.password) if parsed.password else None,
    )

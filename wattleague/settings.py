"""All settings in one table: name (with unit), default, environment variable and help.

The table generates the CLI options (``settings_options``) and ``--help-settings``; a test
checks that the README documents every setting. Secrets come only from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    env: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting(
            "store",
            "sqlite:///./wattleague.db",
            "store URL: sqlite:///path/to/file.db[?synchronous=normal] (default full: "
            "acknowledged messages survive a power cut), influxdb://[user:pass@]host:port/db or "
            "influxdb2://TOKEN@host:port/bucket?org=ORG",
            "WATTLEAGUE_STORE",
        ),
        Setting(
            "mqtt",
            "mqtt://127.0.0.1:1883",
            "MQTT broker URL: mqtt://[user:pass@]host:port or mqtts://… (serve: Home "
            "Assistant discovery goes there, for competitions with [home_assistant] only)",
            "WATTLEAGUE_MQTT",
        ),
        Setting("host", "127.0.0.1", "address the HTTP server binds to", "WATTLEAGUE_HOST"),
        Setting(
            "cache_dir",
            "",
            "folder where serve keeps its baseline fits between restarts (default: "
            "$CACHE_DIRECTORY, which systemd's CacheDirectory= sets, else "
            "~/.cache/wattleague); 'off' keeps none",
            "WATTLEAGUE_CACHE_DIR",
        ),
        Setting("port", 8000, "HTTP port", "WATTLEAGUE_PORT"),
        Setting(
            "mqtt_client_id",
            "wattleague-ingest",
            "MQTT client id; keep it stable so the broker keeps the session (it also names "
            "the InfluxDB spool file)",
            None,
        ),
        Setting("mqtt_protocol", "5", "MQTT protocol version: 5 or 3.1.1", None),
        Setting(
            "shared_group",
            "",
            "MQTT 5 shared-subscription group; workers with the same group share the load",
            None,
        ),
        Setting(
            "max_future_s",
            300.0,
            "readings this far after their receive time are quarantined [s]",
            None,
        ),
        Setting("max_age_days", 400.0, "readings older than this are quarantined [days]", None),
        Setting(
            "stream_interval_s", 1.0, "how often the leaderboard stream checks for news [s]", None
        ),
        Setting(
            "trusted_proxies",
            "127.0.0.1,::1",
            "serve: comma-separated addresses or networks (CIDR) of the reverse proxies whose "
            "X-Forwarded-For names the client; requests from any other address keep their own "
            "address ('' trusts none)",
            "WATTLEAGUE_TRUSTED_PROXIES",
        ),
        Setting(
            "log_format",
            "text",
            "log lines as text or json (one JSON object a line, for journald/Loki)",
            "WATTLEAGUE_LOG_FORMAT",
        ),
        Setting(
            "metrics_port",
            0,
            "ingest: serve Prometheus /metrics on this port (0: off)",
            "WATTLEAGUE_METRICS_PORT",
        ),
        Setting(
            "metrics_host",
            "127.0.0.1",
            "ingest: address the /metrics server binds to",
            "WATTLEAGUE_METRICS_HOST",
        ),
        Setting(
            "public_url",
            "",
            "serve: the address people reach this server at, e.g. https://watt.example.se "
            "(behind the reverse proxy); Home Assistant devices link to their site page "
            "there (empty: no link)",
            "WATTLEAGUE_PUBLIC_URL",
        ),
        Setting(
            "health_mqtt",
            "",
            "serve: broker URL whose connectivity /healthz and /metrics report (empty: not "
            "checked); use a user without topic rights, e.g. wattleague-monitor",
            "WATTLEAGUE_HEALTH_MQTT",
        ),
        Setting(
            "retention_days",
            0.0,
            "deploy prune: drop raw readings older than this, keeping hourly energy "
            "(0: keep forever) [days]",
            "WATTLEAGUE_RETENTION_DAYS",
        ),
        # 90 days: a season's competition (the example runs three months) and the time to fix
        # the competition file and reprocess what it quarantined, while a meter's flood of bad
        # messages leaves the disk within a quarter
        Setting(
            "quarantine_days",
            90.0,
            "deploy prune: drop quarantine entries received longer ago than this; the counts "
            "per reason stay (0: keep every entry) [days]",
            "WATTLEAGUE_QUARANTINE_DAYS",
        ),
    ]
}


def settings_options(*names: str) -> Callable:
    """Click decorator adding the options for ``names`` from the table."""

    def decorate(func: Callable) -> Callable:
        for name in reversed(names):
            s = SETTINGS[name]
            func = click.option(
                s.flag,
                name,
                default=s.default,
                type=type(s.default),
                envvar=s.env,
                show_default=True,
                show_envvar=s.env is not None,
                help=s.help,
            )(func)
        return func

    return decorate


def settings_table() -> str:
    """The settings as a text table for ``--help-settings``."""
    rows = [(s.flag, repr(s.default), s.env or "", s.help) for s in SETTINGS.values()]
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{a:<{width[0]}}  {b:<{width[1]}}  {c:<{width[2]}}  {d}" for a, b, c, d in rows
    )

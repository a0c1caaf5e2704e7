"""Store backends behind one interface (``base.Store``: readings, and ``.organiser``), by URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from ingest.redaction import redact_url, remember_url
from ingest.store.base import (
    Message,
    MeterSeries,
    MeterState,
    ReadingStore,
    Rejected,
    Store,
    StoredReading,
)
from ingest.store.organiser import OrganiserStore

__all__ = [
    "Message",
    "MeterSeries",
    "MeterState",
    "OrganiserStore",
    "ReadingStore",
    "Rejected",
    "Store",
    "StoredReading",
    "open_store",
]


class StoreURLError(ValueError):
    pass


def open_store(url: str, spool_name: str | None = None) -> Store:
    """Open the store named by ``url``: ``sqlite:///path/to/file.db`` (default ./wattleague.db).

    The store is its readings part (``base.ReadingStore``) and holds its organiser part as
    ``store.organiser`` (``organiser.OrganiserStore``), on the same file or database.

    ``spool_name`` names the InfluxDB store's default spool file after the process that owns it
    (``wattleague ingest``: its MQTT client id), so that two processes never share one; a
    ``?spool=`` in the URL wins. A spool another process holds is refused (``StoreURLError``).

    Errors show the URL with its password or token masked, and the secret is remembered so
    that no log line shows it either (``ingest.redaction``).
    """
    remember_url(url)
    shown = redact_url(url)
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        from ingest.store.sqlite import SQLiteStore

        # sqlite:///abs/path.db and sqlite:////abs/path.db are absolute,
        # sqlite:///./rel.db and sqlite://rel.db are relative to the working directory.
        path = url.split("?", 1)[0][len("sqlite://") :]
        if path.startswith(("/./", "/../", "//")):
            path = path[1:]
        if not path:
            raise StoreURLError(
                f"store URL {shown!r} has no file path; e.g. sqlite:///./wattleague.db"
            )
        return SQLiteStore(path, **_sqlite_options(parsed.query, shown))
    if parsed.scheme in ("influxdb", "influxdb2"):
        from ingest.store.influx import InfluxStore

        try:
            return InfluxStore(url, spool_name=spool_name)
        except ValueError as exc:
            raise StoreURLError(str(exc)) from None
    raise StoreURLError(
        f"unknown store URL {shown!r}; use sqlite:///path/to/file.db, "
        "influxdb://[user:pass@]host:port/database or influxdb2://TOKEN@host:port/bucket?org=ORG"
    )


def _sqlite_options(query: str, shown: str) -> dict[str, str]:
    """``SQLiteStore`` keywords from a sqlite URL's query: ``?synchronous=full|normal``."""
    from ingest.store.sqlite import SYNCHRONOUS

    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"synchronous"})
    if unknown:
        raise StoreURLError(
            f"store URL {shown!r}: unknown option {', '.join(unknown)}; a SQLite store URL "
            f"takes ?synchronous={'|'.join(SYNCHRONOUS)}"
        )
    if "synchronous" not in options:
        return {}
    value = options["synchronous"][-1]
    if value.lower() not in SYNCHRONOUS:
        raise StoreURLError(
            f"store URL {shown!r}: synchronous={value!r} is not one of "
            f"{', '.join(SYNCHRONOUS)}; full (the default) keeps every acknowledged message "
            "through a power cut, normal may lose the last ones (docs/sqlite.md: Durability)"
        )
    return {"synchronous": value.lower()}

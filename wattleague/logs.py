"""Log setup for every ``wattleague`` command: text for people, JSON lines for log shippers.

A JSON line holds ``ts`` (ISO-8601 UTC), ``level``, ``logger``, ``message``, the process id,
an ``exc`` traceback when there is one, and any ``extra={...}`` fields the caller passed, so
journald, Loki or Elasticsearch can filter on them without parsing free text.

Every line, in either format, goes through ``ingest.redaction.redact``: URL passwords and the
secrets the command was given (``remember``) never reach the log, whoever wrote the message.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

from ingest.redaction import redact, redact_url

__all__ = ["JSONFormatter", "announce", "configure_logging", "redact_url"]

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# attributes every LogRecord has; anything else came in through ``extra=``
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JSONFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = redact(value) if isinstance(value, str) else value
        return orjson.dumps(entry, default=str).decode()


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(log_format: str, verbose: bool) -> None:
    """Send log records to stderr as ``log_format`` (text or json); INFO with ``verbose``.

    Replaces only the handler an earlier call installed: handlers others added (a test
    runner's capture) stay, and as with ``logging.basicConfig`` text logging then adds none.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: use one of {', '.join(LOG_FORMATS)}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    if root.handlers and log_format == "text":
        return
    handler = _StderrHandler()
    handler.setFormatter(JSONFormatter() if log_format == "json" else _TextFormatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def announce(message: str) -> None:
    """Tell the operator something a command does (start, stop, where metrics are served).

    Text logging: a plain line on stderr. JSON logging: a JSON line like every other, whatever
    the log level, so a log shipper that parses each line never meets plain text.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None or not isinstance(handler.formatter, JSONFormatter):
        print(redact(message), file=sys.stderr, flush=True)
        return
    record = logging.makeLogRecord(
        {"name": "wattleague", "levelno": logging.INFO, "levelname": "INFO", "msg": redact(message)}
    )
    handler.handle(record)

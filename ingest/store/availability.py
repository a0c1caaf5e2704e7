"""Which store errors mean "the store is unavailable" rather than "this data is refused".

Ingest retries a batch only when the store itself cannot take writes (locked past its timeout,
disk full, I/O error, file not writable, InfluxDB unreachable): waiting helps there, and every
message would fail alike. Any other error may belong to one message (an integrity error, a
value the schema refuses, a bug on one code path), so the batch is split to find it
(``ingest.isolating_write``). An error that is neither known nor isolated to one message ends
up treated as unavailability too: the message's quarantine entry then fails as well.
"""

from __future__ import annotations

import errno
import sqlite3

from ingest.store.influx_http import InfluxUnavailable

# SQLite OperationalError texts that say the store, not the data, is the problem
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "database or disk is full",
    "disk i/o error",
    "unable to open database file",
    "attempt to write a readonly database",
    "database disk image is malformed",
    "disk is full",
)
_OS_UNAVAILABLE = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES}


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the store cannot take writes now (see module docstring).

    An error raised while handling another (a ROLLBACK after SQLite already rolled back on a
    full disk) is judged by the error it interrupted too.
    """
    return _unavailable(exc) or (exc.__context__ is not None and _unavailable(exc.__context__))


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, InfluxUnavailable | MemoryError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OSError):
        return exc.errno in _OS_UNAVAILABLE or exc.errno is None
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(marker in text for marker in _SQLITE_UNAVAILABLE)
    return False


# what an operator should check, by ``problem``; the same for every store and no secret in it
HINTS = {
    "disk_full": "free disk space where the store lives (`df -h`), e.g. with "
    "`wattleague deploy prune`; ingest resumes by itself",
    "locked": "another process holds the store's write lock past the timeout (a long backup "
    "or a tool with an open transaction); ingest resumes once it is released",
    "not_writable": "check that the ingest user can write the store file and its folder",
    "unreachable": "check that InfluxDB answers; ingest resumes by itself",
    "missing": "the store file is gone or was replaced: restore it with `wattleague deploy "
    "restore`, then restart ingest and serve",
    "error": "check the store; the log of this process has the error",
}


def problem(exc: BaseException) -> str:
    """A short code for what is wrong with the store (a key of ``HINTS``): what /healthz says
    instead of the exception's own text, which may quote paths, URLs or data."""
    text = str(exc).lower()
    if isinstance(exc, FileNotFoundError) or "gone" in text or "replaced" in text:
        return "missing"
    if "full" in text or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)):
        return "disk_full"
    if "locked" in text:
        return "locked"
    if (
        "readonly" in text
        or "unable to open" in text
        or (isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES))
    ):
        return "not_writable"
    if isinstance(exc, InfluxUnavailable | ConnectionError | TimeoutError):
        return "unreachable"
    return "error"


def what_to_do(exc: BaseException, where: str) -> str:
    """One sentence for the operator's log: what to check so that ingest can resume."""
    return f"{HINTS[problem(exc)]} (store: {where})"

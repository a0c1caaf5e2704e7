"""Secrets never leave: broker passwords, InfluxDB passwords and tokens, organiser tokens.

``redact_url`` hides the secret of a URL wherever one is echoed (an error about the URL, a
start-up line). Text we do not write ourselves (an exception from paho, httpx or SQLite, a
library's log line) may still quote a secret: ``remember`` the secrets a process was given,
and ``redact`` replaces each in any text; ``wattleague.logs`` applies it to every log line.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import unquote, urlparse

MASK = "***"
_USERINFO = re.compile(r"([a-z][a-z0-9+.-]{0,20}://)([^@/\s]*)@")
_secrets: set[str] = set()
_lock = threading.Lock()
MIN_SECRET_CHARS = 3  # shorter "secrets" would mask ordinary words


def redact_url(url: str) -> str:
    """``url`` without its password or token: ``mqtt://user:***@host``, ``influxdb2://***@…``."""

    def hide(m: re.Match) -> str:
        user, sep, _secret = m.group(2).partition(":")
        return f"{m.group(1)}{user}:{MASK}@" if sep else f"{m.group(1)}{MASK}@"

    return _USERINFO.sub(hide, url)


def remember(*secrets: str | None) -> None:
    """Secrets this process holds, to be masked in every text ``redact`` sees."""
    with _lock:
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_CHARS:
                _secrets.add(secret)


def remember_url(url: str | None) -> None:
    """The password or token in ``url`` (as written and percent-decoded)."""
    if not url:
        return
    try:
        parsed = urlparse(url)
        user, password = parsed.username, parsed.password
    except ValueError:  # an invalid port: the user info is still there to take
        match = _USERINFO.search(url)
        if not match:
            return
        user, _, password = match.group(2).partition(":")
    secret = password if password else (user if url.startswith("influxdb2") else None)
    if secret:
        remember(secret, unquote(secret))


def redact(text: str) -> str:
    """``text`` with URL user info masked and every remembered secret replaced by ``***``."""
    text = redact_url(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text

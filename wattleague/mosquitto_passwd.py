"""Mosquitto 2 password files (``$7$``: PBKDF2-SHA512) and the installers' credentials file.

The password file holds only hashes; the plain passwords live in ``credentials.csv`` (mode
0600), which the operator hands to the installers of each meter. Re-running keeps every
existing password (and its hash line, unchanged) unless asked to rotate it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from wattleague.broker_users import BrokerUser

ITERATIONS = 101  # mosquitto_passwd's default for $7$
SALT_BYTES = 12
PASSWORD_BYTES = 18  # 24 URL-safe characters: fits an mqtt://user:pass@ URL unescaped
CREDENTIALS = "credentials.csv"
PASSWD = "passwd"
ACL = "acl"
CREDENTIAL_FIELDS = ("username", "password", "role", "topics", "serves")


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$`` hash Mosquitto 2 stores for ``password``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """True when ``hashed`` (``$7$…``) is the hash of ``password``."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        iterations, salt = int(parts[2]), base64.b64decode(parts[3])
    except ValueError:
        return False
    return hmac.compare_digest(hash_password(password, salt, iterations), hashed)


def read_passwd(path: Path) -> dict[str, str]:
    """username → hash of an existing password file (absent file: empty)."""
    if not path.exists():
        return {}
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep:
            raise ValueError(f"{path}:{n}: not a username:hash line")
        out[user] = hashed
    return out


def read_credentials(path: Path) -> dict[str, str]:
    """username → password of an existing credentials file (absent file: empty)."""
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"username", "password"} <= set(reader.fieldnames):
            raise ValueError(f"{path}:1: expected a header with username,password")
        return {row["username"]: row["password"] for row in reader if row.get("password")}


@dataclass
class PasswordPlan:
    created: list[str]
    kept: list[str]
    rotated: list[str]
    dropped: list[str]  # in the old files, no longer needed by the competitions
    unknown_plaintext: list[str]  # hash kept, but no password in the credentials file


def write_broker_files(
    users: list[BrokerUser], out_dir: Path, acl: str, rotate: set[str] | bool = False
) -> PasswordPlan:
    """Write ``acl``, ``passwd`` and ``credentials.csv`` into ``out_dir``.

    Existing passwords are kept; ``rotate=True`` renews all, a set renews those users.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    old_hash = read_passwd(out_dir / PASSWD)
    old_plain = read_credentials(out_dir / CREDENTIALS)
    plan = PasswordPlan([], [], [], [], [])
    hashes, plains = {}, {}
    for user in users:
        name = user.name
        renew = rotate is True or (isinstance(rotate, set) and name in rotate)
        plain, hashed = old_plain.get(name), old_hash.get(name)
        if renew or (plain is None and hashed is None):
            (plan.rotated if plain or hashed else plan.created).append(name)
            plain = secrets.token_urlsafe(PASSWORD_BYTES)
            hashed = hash_password(plain)
        elif plain is None:  # only the hash survives: keep it, the device still works
            plan.unknown_plaintext.append(name)
        else:
            plan.kept.append(name)
            if hashed is None or not verify_password(plain, hashed):
                hashed = hash_password(plain)
        hashes[name], plains[name] = hashed, plain or ""
    plan.dropped = sorted((set(old_hash) | set(old_plain)) - set(hashes))

    _write_private(out_dir / PASSWD, "".join(f"{u}:{h}\n" for u, h in hashes.items()))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CREDENTIAL_FIELDS)
    for user in users:
        topics = user.write + user.read + user.readwrite
        writer.writerow(
            [user.name, plains[user.name], user.role, " ".join(topics), " ".join(user.serves)]
        )
    _write_private(out_dir / CREDENTIALS, buf.getvalue())
    _write_atomic(out_dir / ACL, acl, 0o644)
    return plan


def _write_private(path: Path, text: str) -> None:
    _write_atomic(path, text, 0o600)


def _write_atomic(path: Path, text: str, mode: int) -> None:
    """Write beside ``path`` with ``mode`` from the start, then rename: no reader ever sees a
    half-written file, and secrets are never world-readable, not even for a moment.

    A file that exists keeps its owner and group (the operator's ``chown mosquitto:`` of the
    password file): a root re-run must not leave the broker a file it cannot read on reload.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    if old is not None and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.chown(tmp, old.st_uid, old.st_gid)
        except PermissionError:
            tmp.unlink()
            raise ValueError(
                f"{path} belongs to uid {old.st_uid}, gid {old.st_gid}; run this command as "
                "root (or as that user) so the rewritten file keeps its owner"
            ) from None
    os.chmod(tmp, mode)  # O_CREAT's mode is masked by the umask
    os.replace(tmp, path)

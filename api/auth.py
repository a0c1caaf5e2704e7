"""Organiser tokens: kept only as SHA-256 hashes, compared in constant time.

Tokens come from the environment, never from files in the repository:
``WATTLEAGUE_TOKEN_HASHES`` holds ``name:sha256hex`` entries separated by commas (made by
``wattleague token``), and ``WATTLEAGUE_TOKEN`` a plain token for a single-user setup, hashed at
start-up. Requests send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from fastapi import Request

from api.errors import APIError


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenSet:
    """Named token hashes; ``check`` returns the name of the token presented, or raises 401."""

    hashes: dict[str, str]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> TokenSet:
        env = os.environ if environ is None else environ
        hashes: dict[str, str] = {}
        for entry in filter(
            None, (e.strip() for e in env.get("WATTLEAGUE_TOKEN_HASHES", "").split(","))
        ):
            name, _, digest = entry.rpartition(":")
            if len(digest) != 64 or not name:
                raise ValueError(
                    f"WATTLEAGUE_TOKEN_HASHES entry {entry!r} is not name:sha256hex; "
                    "make one with `wattleague token NAME`"
                )
            hashes[name] = digest.lower()
        if env.get("WATTLEAGUE_TOKEN"):
            hashes["default"] = hash_token(env["WATTLEAGUE_TOKEN"])
        return cls(hashes)

    def check(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(
                401,
                "unauthorized",
                "this endpoint needs an organiser token: send 'Authorization: Bearer <token>'",
            )
        digests = [hash_token(t) for t in _spellings(token.strip())]
        name = None
        for candidate, stored in self.hashes.items():  # no early exit: constant time per set
            for digest in digests:
                if hmac.compare_digest(digest, stored):
                    name = candidate
        if name is None:
            raise APIError(401, "unauthorized", "the token is not valid")
        return name


def _spellings(token: str) -> list[str]:
    """The token as the server received it, and as UTF-8 when its bytes are UTF-8.

    HTTP headers arrive as bytes, which the server decodes as Latin-1: a browser sends
    ``lösen`` as Latin-1 (one byte for ``ö``), curl and most scripts send UTF-8 (two bytes).
    Both mean the token the organiser typed.
    """
    try:
        utf8 = token.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return [token]
    return [token] if utf8 == token else [token, utf8]

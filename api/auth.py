"""Organiser tokens: kept only as SHA-256 hashes, compared in constant time.

Tokens come from the environment, never from files in the repository:
``WATTLEAGUE_TOKEN_HASHES`` holds ``name:sha256hex`` entries separated by commas (made by
``wattleague token``), and ``WATTLEAGUE_TOKEN`` a plain token for a single-user setup, hashed at
start-up. Requests send ``Authorization: Bearer <token>``.

The routes read the header through ``BEARER`` (FastAPI's ``HTTPBearer``), so the OpenAPI
document has an HTTP bearer security scheme, ``/docs`` an Authorize button, and each route that
needs a token (``organiser_guard``) lists it under ``security``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import APIError

SCHEME = "organiser_token"
BEARER = HTTPBearer(
    auto_error=False,  # a missing token is our 401 in the one error shape
    scheme_name=SCHEME,
    description="An organiser token (`wattleague token NAME` makes one; the server keeps its "
    "SHA-256 in WATTLEAGUE_TOKEN_HASHES, or WATTLEAGUE_TOKEN holds one). Non-ASCII letters "
    "work sent as UTF-8 or Latin-1.",
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


_CHALLENGE = {"WWW-Authenticate": "Bearer"}  # RFC 6750: what a 401 asks for


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
        """The name of the token in ``request``'s ``Authorization`` header, or a 401."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return self.check_token(None)
        return self.check_token(token.strip() or None)

    def check_token(self, token: str | None) -> str:
        """The name of ``token`` (as the header carried it, decoded as Latin-1), or a 401;
        None (no bearer token sent) is a 401 saying how to send one."""
        if not token:
            raise APIError(
                401,
                "unauthorized",
                "this endpoint needs an organiser token: send 'Authorization: Bearer <token>'",
                _CHALLENGE,
            )
        digests = [hash_token(t) for t in _spellings(token)]
        name = None
        for candidate, stored in self.hashes.items():  # no early exit: constant time per set
            for digest in digests:
                if hmac.compare_digest(digest, stored):
                    name = candidate
        if name is None:
            raise APIError(401, "unauthorized", "the token is not valid", _CHALLENGE)
        return name


def organiser_guard(tokens: Callable[[], TokenSet]) -> Callable[..., str]:
    """A dependency answering the name of the organiser token sent (a 401 without a valid
    one); ``tokens`` gives the current token set. Use as ``who: str = Depends(guard)``."""

    def organiser(credentials: HTTPAuthorizationCredentials | None = Security(BEARER)) -> str:
        return tokens().check_token(None if credentials is None else credentials.credentials)

    return organiser


def optional_organiser(tokens: Callable[[], TokenSet]) -> Callable[..., bool]:
    """A dependency answering whether a valid organiser token was sent; without one (or with
    a wrong one) the request is the public's. The route's ``security`` then lists the token as
    optional (``OPTIONAL_TOKEN``)."""

    def is_organiser(credentials: HTTPAuthorizationCredentials | None = Security(BEARER)) -> bool:
        if credentials is None:
            return False
        try:
            tokens().check_token(credentials.credentials)
        except APIError:
            return False
        return True

    return is_organiser


# ``openapi_extra`` of a route whose token is optional: FastAPI lists the bearer scheme as a
# requirement; the empty requirement added here says "or none"
OPTIONAL_TOKEN = {"security": [{}]}


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

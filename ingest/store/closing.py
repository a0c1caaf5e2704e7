"""Closed competitions (``organiser.Closings``): the frozen results of a finished competition.

Closing a competition stores its results bundle (a JSON object: leaderboards, every site's
figures, fingerprints, the audit log, …) once; a competition is closed at most once. Both
stores keep the bundle as its canonical JSON (``bundle_json``) with that text's SHA-256, and
check it when reading it back: a bundle changed in the store is an error, never served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ingest.store import checks

BUNDLE_MAX_BYTES = 64 << 20  # canonical JSON of one bundle


class AlreadyClosed(ValueError):
    """The competition was closed already."""


class ClosingDamaged(ValueError):
    """A stored bundle is not what was stored: incomplete, or its SHA-256 differs."""


@dataclass(frozen=True, slots=True)
class Closing:
    """A closed competition: when [Unix ms] and by whom, its bundle, and the SHA-256 of the
    bundle directory's ``MANIFEST.sha256``."""

    competition: str
    closed_ms: int
    who: str
    bundle: dict
    manifest_sha256: str


def checked_closing(
    competition: str, closed_ms: int, who: str, bundle: dict, manifest_sha256: str
) -> tuple[Closing, bytes]:
    """The closing to store and its bundle's canonical JSON (``ValueError`` says what is
    wrong)."""
    if not isinstance(bundle, dict):
        raise ValueError(f"a results bundle must be a JSON object, got {type(bundle).__name__}")
    normal = checks.json_value(bundle, "the results bundle", max_chars=None)
    data = checks.canonical_json(normal).encode("ascii")
    if len(data) > BUNDLE_MAX_BYTES:
        raise ValueError(
            f"the results bundle is {len(data):,} bytes of JSON; at most {BUNDLE_MAX_BYTES:,} "
            "are stored"
        )
    closing = Closing(
        checks.text(competition, "the closed competition", 200),
        checks.unix_ms(closed_ms, "closed_ms"),
        checks.text(who, "who closed it", 200),
        normal,
        checks.sha256_text(manifest_sha256, "manifest_sha256"),
    )
    return closing, data


def bundle_json(bundle: dict) -> bytes:
    """A bundle's canonical JSON (``checks.canonical_json``), as stored and hashed."""
    return checks.canonical_json(bundle).encode("ascii")


def bundle_sha256(bundle: dict) -> str:
    """The SHA-256 of a bundle's canonical JSON."""
    return checks.sha256_hex(bundle_json(bundle))


def already_closed(competition: str, closed_ms: int, who: str) -> AlreadyClosed:
    return AlreadyClosed(
        f"competition {competition!r} was closed at {closed_ms} [Unix ms] by {who}; a "
        "competition is closed once: its results are frozen"
    )


def parsed_bundle(competition: str, data: bytes, sha256: str) -> dict:
    """The bundle from its stored canonical JSON, checked against its SHA-256."""
    if checks.sha256_hex(data) != sha256:
        raise ClosingDamaged(
            f"the stored results bundle of competition {competition!r} does not match its "
            "SHA-256: it was changed in the store; use the bundle directory written at closing"
        )
    return json.loads(data)

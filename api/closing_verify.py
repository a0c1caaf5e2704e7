"""``wattleague verify``: a results bundle directory checked against its manifest and the store.

First every file against ``MANIFEST.sha256`` (a changed, missing or extra byte is named by
file, and nothing else is checked). Then the competition is rebuilt from the bundle and every
figure recomputed from the store as of the bundle's ``as_of``; the audit log's chain and the
bundle's head entry, the held items' decisions and the stored closing's SHA-256 are compared
too. Data that reached the store after closing (a late reading of an hour of the competition,
a decision taken later) shows as a difference: the bundle is what was certified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from api.closing_bundle import (
    Difference,
    audit_entry_dict,
    build_bundle,
    competition_from_bundle,
    differences,
)
from api.closing_files import MANIFEST, RESULTS, manifest_problems, read_results
from api.closing_run import whole_audit
from api.scoreboard import Scoreboard
from ingest.store import checks
from ingest.store.audit import verify_audit_chain
from ingest.store.base import Store
from ingest.store.closing import ClosingDamaged, bundle_sha256


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: problems of the directory against its manifest (then nothing
    else was compared), else every difference from the store."""

    manifest: list[str]
    differences: list[Difference]

    @property
    def identical(self) -> bool:
        return not self.manifest and not self.differences


def verify_bundle_dir(directory: Path, store: Store) -> Verification:
    """Check ``directory`` (a results bundle) against its manifest, then against ``store``.
    ``ValueError`` if it is no bundle (no readable ``results.json`` or competition in it)."""
    directory = Path(directory)
    problems = manifest_problems(directory)
    if problems:
        return Verification(problems, [])
    bundle = read_results(directory)
    competition = competition_from_bundle(bundle)
    cid = competition.id
    found: list[Difference] = []
    found += _closing(cid, store, directory)
    board = Scoreboard(competition, store, clock=lambda: float(bundle["as_of_s"]))
    closed = bundle.get("closed", {})
    recomputed = build_bundle(
        board,
        closed_ms=int(closed.get("at_ms", 0)),
        who=str(closed.get("by", "")),
        site_edits=bundle["competition"].get("site_edits", {}),
        held=store.organiser.list_held(cid, status=None),
        audit=[],
    )
    found += differences(bundle, recomputed)
    found += _held(bundle.get("held", []), recomputed["held"])
    found += _audit(bundle.get("audit", {}), store, cid)
    return Verification([], found)


def _closing(cid: str, store: Store, directory: Path) -> list[Difference]:
    """The stored closing against the directory: the bundle's and the manifest's SHA-256."""
    results_sha = checks.sha256_hex((directory / RESULTS).read_bytes())
    manifest_sha = checks.sha256_hex((directory / MANIFEST).read_bytes())
    try:
        closing = store.organiser.closing(cid)
    except ClosingDamaged as exc:
        return [Difference("closing", "stored bundle", results_sha, str(exc))]
    if closing is None:
        return [Difference("closing", "bundle_sha256", results_sha, "the store has no closing")]
    out = []
    stored_sha = bundle_sha256(closing.bundle)
    if stored_sha != results_sha:
        out.append(Difference("closing", "bundle_sha256", results_sha, stored_sha))
    if closing.manifest_sha256 != manifest_sha:
        out.append(Difference("closing", "manifest_sha256", manifest_sha, closing.manifest_sha256))
    return out


def _held(certified: list[dict], now: list[dict]) -> list[Difference]:
    """Held items of the bundle whose status or decision differs in the store now, and items
    held since."""
    out = []
    stored = {h["id"]: h for h in now}
    for h in certified:
        other = stored.pop(h["id"], None)
        where = f"held item {h['id']} ({h['site']})"
        if other is None:
            out.append(Difference(where, "status", h["status"], "not in the store"))
            continue
        for key in ("status", "decided_by", "decided", "reason", "content_sha256"):
            if h.get(key) != other.get(key):
                out.append(Difference(where, key, h.get(key), other.get(key)))
    for hid, other in sorted(stored.items()):
        out.append(
            Difference(
                f"held item {hid} ({other['site']})", "status", "not in the bundle", other["status"]
            )
        )
    return out


def _audit(certified: dict, store: Store, cid: str) -> list[Difference]:
    """The store's audit log against the bundle's: its chain, and every entry up to the
    bundle's head unchanged (entries after it, such as ``closed``, are expected)."""
    entries = whole_audit(store, cid)
    out = [Difference("audit", "chain", "holds", p) for p in verify_audit_chain(entries)]
    stored = {e.id: audit_entry_dict(e) for e in entries}
    for entry in certified.get("entries", []):
        other = stored.get(entry["id"])
        mine = entry.get("entry_sha256")
        theirs = None if other is None else other["entry_sha256"]
        if mine != theirs:
            out.append(
                Difference("audit", f"entry {entry['id']}", mine, theirs or "not in the store")
            )
    head = certified.get("head_id")
    if head is not None and head not in stored:
        out.append(
            Difference("audit", "head", certified.get("head_entry_sha256"), "not in the store")
        )
    return out

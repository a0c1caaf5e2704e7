"""A closed competition's results bundle: built from a scoreboard, compared figure by figure.

The bundle is one JSON object (``results.json`` of the bundle directory, stored by
``store.organiser.close_competition``): the competition as scored (its model, with the
organisers' site edits applied, and the file's text when closed from the CLI), method and
parameters, ``as_of``, both leagues' final leaderboards, every site's figures (with
uncertainty, completeness, eligibility and baseline fingerprint), held data with the
decisions, the audit log with its head, and the scoreboard's snapshot
(``api.frozen_board``), from which the API serves the frozen results. ``docs/closing.md``
lists the fields.

``differences`` compares two bundles (the certified one and one recomputed from the store)
figure by figure, with the bundle's rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.frozen_board import encode_snapshot
from api.scoreboard import Scoreboard
from ingest.store import checks
from ingest.store.audit import GENESIS_SHA256, AuditEntry, entry_sha256, verify_audit_chain
from ingest.store.held import HeldItem, content_sha256
from scoring.competition import Competition
from scoring.uncertainty import DEFAULT_CONFIDENCE

FORMAT = "wattleague-results/1"
# the leaderboard's live fields: what a meter says now, not a result of the competition
LIVE_FIELDS = ("live_power_kw", "last_reading", "stale")
# figure → the decimals the leaderboard rounds it to (``Scoreboard.leaderboard``)
FIGURE_DIGITS = {
    "reduction_pct": 2,
    "saved_kwh": 1,
    "actual_kwh": 1,
    "baseline_kwh": 1,
    "kwh_per_m2": 3,
    "target_progress": 3,
    "kwh_per_m2_annual": 2,
    "saved_money": 2,
    "saved_co2_kg": 2,
    "uncertainty_kwh": 1,
    "uncertainty_pct_points": 2,
    "completeness": 4,
}
# what describes a site rather than measures it: compared too, but an edit shows here
_NOT_COMPARED = ("site",)


@dataclass(frozen=True, slots=True)
class Difference:
    """One figure that differs: of a site (or ``competition``, ``audit``, ``closing``)."""

    site: str
    figure: str
    bundle: object
    recomputed: object

    def line(self) -> str:
        """``site, figure, bundle value, recomputed value``."""
        return f"{self.site}, {self.figure}, {_shown(self.bundle)}, {_shown(self.recomputed)}"


def end_s(board: Scoreboard) -> float:
    """The end of the competition's last local hour [Unix s]."""
    return float(board.grid.hour_start_s[-1]) + 3600.0


def competition_from_bundle(bundle: dict) -> Competition:
    """The competition as it was scored, rebuilt from the bundle (``ValueError`` if the
    bundle's model is not a valid competition)."""
    try:
        model = bundle["competition"]["model"]
    except (KeyError, TypeError):
        raise ValueError(
            "the bundle has no competition.model: it is not a results bundle"
        ) from None
    return Competition.model_validate(model)


def build_bundle(
    board: Scoreboard,
    *,
    closed_ms: int,
    who: str,
    site_edits: dict[str, dict],
    held: list[HeldItem],
    audit: list[AuditEntry],
    file_name: str | None = None,
    file_text: str | None = None,
) -> dict:
    """The results bundle of ``board``'s competition as of ``board``'s clock.

    ``site_edits`` are the organisers' stored edits (applied already in ``board``'s
    competition), ``held`` every held item, ``audit`` the whole audit log in id order,
    ``file_text`` the competition file (None when closed through the API, which has only the
    model).
    """
    comp = board.competition
    info = comp.competition
    snap = board.snapshot()
    model = comp.model_dump(mode="json", by_alias=True)
    reduction = board.leaderboard("reduction")
    intensity = board.leaderboard("kwh_per_m2")
    first, last = board.method.history_days(board.period)
    fingerprints = tuple(getattr(snap, "fingerprints", ()) or ())
    return {
        "format": FORMAT,
        "competition": {
            "id": info.id,
            "name": info.name,
            "timezone": info.timezone,
            "start": info.start.isoformat(),
            "end": info.end.isoformat(),
            "model": model,
            "model_sha256": checks.sha256_hex(checks.canonical_json(model)),
            "file_name": file_name,
            "file_sha256": None if file_text is None else checks.sha256_hex(file_text.encode()),
            "file_text": file_text,
            "site_edits": site_edits,
        },
        "method": {
            "baseline": info.baseline.model_dump(mode="json"),
            "history_first_day": first.isoformat(),
            "history_last_day": last.isoformat(),
            "site_methods": dict(zip(board.site_ids, board.site_methods, strict=True)),
            "min_completeness_pct": info.min_completeness_pct,
            "price_per_kwh": info.price_per_kwh,
            "currency": info.currency,
            "co2_g_per_kwh": info.co2_g_per_kwh,
            "confidence_pct": round(DEFAULT_CONFIDENCE * 100),
        },
        "as_of": reduction["as_of"],
        "as_of_s": snap.as_of_s,
        "hours_elapsed": reduction["hours_elapsed"],
        "closed": {"at": _local(board, closed_ms / 1000.0), "at_ms": closed_ms, "by": who},
        "rounding": FIGURE_DIGITS,
        "leaderboards": {
            "reduction": [_result(e) for e in reduction["entries"]],
            "kwh_per_m2": [_result(e) for e in intensity["entries"]],
        },
        "sites": _sites(board, reduction["entries"], intensity["entries"], fingerprints),
        "held": [_held(board, item) for item in held],
        "audit": _audit(audit),
        "actions": {sid: board.site_detail(i)["actions"] for i, sid in enumerate(board.site_ids)},
        "snapshot": encode_snapshot(snap),
    }


def _result(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k not in LIVE_FIELDS}


def _sites(board: Scoreboard, reduction: list, intensity: list, fingerprints: tuple) -> list:
    by_site = {e["site"]: e for e in reduction}
    rank_intensity = {e["site"]: e["rank"] for e in intensity}
    out = []
    for i, site in enumerate(board.competition.sites):
        entry = _result(by_site[site.id])
        rank = entry.pop("rank")
        out.append(
            {
                **entry,
                "rank_reduction": rank,
                "rank_kwh_per_m2": rank_intensity[site.id],
                "area_m2": site.area_m2,
                "meters": board.meters_by_site[i],
                "baseline_fingerprint": fingerprints[i] if i < len(fingerprints) else None,
            }
        )
    return out


def _held(board: Scoreboard, item: HeldItem) -> dict:
    """A held item without its rows (their count and SHA-256 identify them)."""
    return {
        "id": item.id,
        "site": item.site,
        "meter": item.meter,
        "kind": item.kind,
        "source": item.source,
        "status": item.status,
        "received": _local(board, item.received_ms / 1000.0),
        "first_ts": _local(board, item.first_ts_ms / 1000.0),
        "last_ts": _local(board, item.last_ts_ms / 1000.0),
        "rows": len(item.payload),
        "content_sha256": content_sha256(item),
        "what_if": item.what_if,
        "decided_by": item.decided_by,
        "decided": None if item.decided_ms is None else _local(board, item.decided_ms / 1000.0),
        "reason": item.reason,
    }


def audit_entry_dict(entry: AuditEntry) -> dict:
    """An audit entry as the bundle holds it: every stored field and its ``entry_sha256``."""
    return {
        "id": entry.id,
        "ts_ms": entry.ts_ms,
        "who": entry.who,
        "action": entry.action,
        "subject": entry.subject,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "prev_sha256": entry.prev_sha256,
        "entry_sha256": entry_sha256(entry),
    }


def _audit(entries: list[AuditEntry]) -> dict:
    problems = verify_audit_chain(entries)
    return {
        "entries": [audit_entry_dict(e) for e in entries],
        "count": len(entries),
        "head_id": entries[-1].id if entries else None,
        "head_entry_sha256": entry_sha256(entries[-1]) if entries else GENESIS_SHA256,
        "chain_ok": not problems,
        "chain_problems": problems,
    }


def _local(board: Scoreboard, ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, UTC).astimezone(board.tz).isoformat(timespec="seconds")


# -- comparing ---------------------------------------------------------------------------


def differences(bundle: dict, recomputed: dict) -> list[Difference]:
    """Every figure of ``bundle`` that ``recomputed`` (a bundle built from the store now, as
    of the same time) gives otherwise: sites' figures, both leagues' ranks, the competition's
    hours. Floats are compared at the bundle's rounding."""
    digits = bundle.get("rounding", FIGURE_DIGITS)
    out: list[Difference] = []
    if bundle.get("hours_elapsed") != recomputed.get("hours_elapsed"):
        out.append(
            Difference(
                "competition",
                "hours_elapsed",
                bundle.get("hours_elapsed"),
                recomputed.get("hours_elapsed"),
            )
        )
    theirs = {s["site"]: s for s in recomputed.get("sites", [])}
    for site in bundle.get("sites", []):
        sid = site["site"]
        other = theirs.pop(sid, None)
        if other is None:
            out.append(Difference(sid, "site", "scored", "not in the recomputed results"))
            continue
        for figure in sorted(set(site) | set(other)):
            if figure in _NOT_COMPARED:
                continue
            a, b = site.get(figure), other.get(figure)
            if not _same(a, b, digits.get(figure)):
                out.append(Difference(sid, figure, a, b))
    for sid in sorted(theirs):
        out.append(Difference(sid, "site", "not in the bundle", "scored"))
    for league in ("reduction", "kwh_per_m2"):
        mine = [e["site"] for e in bundle.get("leaderboards", {}).get(league, [])]
        other = [e["site"] for e in recomputed.get("leaderboards", {}).get(league, [])]
        if mine != other:
            out.append(Difference("competition", f"order of the {league} league", mine, other))
    return out


def _same(a: object, b: object, digits: int | None) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        if digits is None:
            return a == b
        return round(float(a), digits) == round(float(b), digits)
    return a == b


def _shown(value: object) -> str:
    if isinstance(value, str):
        return value
    return checks.canonical_json(value) if value is not None else "null"

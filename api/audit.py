"""The audit log (token): every change that can move a score, as JSON and CSV.

The store keeps the log (``ingest.store.audit``: append-only, hash-chained per competition);
the routers append to it where organisers change something (held data, site edits,
annotations) and ``record_config`` at every start of the app: the competition file's SHA-256
(``config_loaded``) when it differs from the last one recorded, and its scoring method and
parameters before → after (``method_changed``) when those differ too.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth import organiser_guard
from api.context import AppContext
from api.reports.spreadsheet_text import neutralised
from api.responses import ATTACHMENT, errors, files, json_response
from api.schemas.audit import AuditLog
from ingest.store.audit import AuditEntry, entry_sha256, verify_audit_chain
from ingest.store.base import Store
from ingest.store.checks import JSON_MAX_CHARS, canonical_json, sha256_hex
from scoring.competition import Competition

log = logging.getLogger(__name__)

PAGE = 10_000  # entries per list_audit call
CONFIG_WHO = "serve"
CSV_COLUMNS = (
    "id",
    "ts",
    "who",
    "action",
    "subject",
    "before",
    "after",
    "reason",
    "prev_sha256",
)
# per-site parameters are kept in a config_loaded entry up to this size of JSON [characters];
# beyond it only their SHA-256 (a change is then reported as a change of that hash)
SITE_PARAMETERS_MAX_CHARS = JSON_MAX_CHARS // 2


def all_entries(store: Store, cid: str) -> list[AuditEntry]:
    """Every audit entry of competition ``cid`` in id order."""
    out: list[AuditEntry] = []
    after = 0
    while True:
        page = store.organiser.list_audit(cid, after_id=after, limit=PAGE)
        out += page
        if len(page) < PAGE:
            return out
        after = page[-1].id


def iso_utc(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat()


def entry_view(entry: AuditEntry) -> dict:
    """An entry as the API lists it (``ts`` as ISO-8601 UTC)."""
    return {
        "id": entry.id,
        "ts": iso_utc(entry.ts_ms),
        "who": entry.who,
        "action": entry.action,
        "subject": entry.subject,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "prev_sha256": entry.prev_sha256,
    }


def audit_csv(entries: list[AuditEntry]) -> bytes:
    """The entries as CSV (UTF-8 with a BOM, as the summaries): ``before`` and ``after`` as
    canonical JSON; every text cell ``neutralised`` so no spreadsheet runs it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for e in entries:
        view = entry_view(e)
        view["before"] = canonical_json(e.before)
        view["after"] = canonical_json(e.after)
        w.writerow(
            [
                neutralised(v) if isinstance(v, str) else ("" if v is None else v)
                for v in (view[c] for c in CSV_COLUMNS)
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def audit_router(ctx: AppContext) -> APIRouter:
    """The audit log of a competition as JSON and CSV (token)."""
    router = APIRouter()
    organiser = organiser_guard(lambda: ctx.tokens)

    @router.get(
        "/api/competitions/{cid}/audit",
        response_model=AuditLog,
        responses=errors(400, 401, 404, 503),
    )
    def audit(
        cid: str,
        after_id: int = Query(0, ge=0, le=2**63 - 1, description="entries after this id"),
        limit: int = Query(PAGE, ge=1, le=PAGE, description="entries at most"),
        latest: bool = Query(False, description="the latest `limit` entries instead"),
        who: str = Depends(organiser),
    ) -> Response:
        """The competition's audit log in id order, and whether its hash chain holds
        (``chain_ok``, checked over the whole log)."""
        ctx.board(cid)
        entries = all_entries(ctx.store, cid)
        problems = verify_audit_chain(entries)
        shown = [e for e in entries if e.id > after_id]
        shown = shown[-limit:] if latest else shown[:limit]
        return json_response(
            {
                "competition": cid,
                "chain_ok": not problems,
                "chain_problems": problems,
                "count": len(entries),
                "head_sha256": entry_sha256(entries[-1]) if entries else None,
                "entries": [entry_view(e) for e in shown],
            }
        )

    @router.get(
        "/api/competitions/{cid}/audit.csv",
        response_class=Response,
        responses={
            **files(
                "text/csv",
                description="the audit log as CSV (UTF-8 with a BOM, CRLF): "
                + ", ".join(CSV_COLUMNS)
                + "; before and after as canonical JSON",
                headers=ATTACHMENT,
            ),
            **errors(401, 404, 503),
        },
    )
    def audit_download(cid: str, who: str = Depends(organiser)) -> Response:
        """The whole audit log as a CSV file."""
        ctx.board(cid)
        return Response(
            audit_csv(all_entries(ctx.store, cid)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{cid}-audit.csv"'},
        )

    return router


# -- the competition file at every start --------------------------------------------------


def scoring_parameters(comp: Competition) -> dict:
    """What scores ``comp``'s sites besides their data: the competition's method and
    parameters, and per site its effective baseline method, weather station and meters
    (``sites``; only ``sites_sha256`` when they are too many to keep in an entry)."""
    info = comp.competition
    sites = {
        s.id: {
            "baseline_method": comp.baseline_method_of(s),
            "weather": comp.station_for(s),
            "meters": [m.id for m in s.meters],
        }
        for s in comp.sites
    }
    out = {
        "baseline_method": info.baseline.method,
        "weeks": info.baseline.weeks,
        "start": info.start.isoformat(),
        "end": info.end.isoformat(),
        "timezone": info.timezone,
        "holidays": info.holidays,
        "min_completeness_pct": info.min_completeness_pct,
        "price_per_kwh": info.price_per_kwh,
        "currency": info.currency,
        "co2_g_per_kwh": info.co2_g_per_kwh,
        "sites_sha256": sha256_hex(canonical_json(sites)),
    }
    if len(canonical_json(sites)) <= SITE_PARAMETERS_MAX_CHARS:
        out["sites"] = sites
    return out


def parameter_changes(before: dict, after: dict) -> tuple[dict, dict]:
    """The parameters that differ between two ``scoring_parameters``, as (before, after)
    holding only those (per site: only the sites that differ)."""
    old, new = {}, {}
    for key in sorted((set(before) | set(after)) - {"sites"}):
        if before.get(key) != after.get(key):
            old[key], new[key] = before.get(key), after.get(key)
    a, b = before.get("sites"), after.get("sites")
    if isinstance(a, dict) and isinstance(b, dict):
        for sid in sorted(set(a) | set(b)):
            if a.get(sid) != b.get(sid):
                old.setdefault("sites", {})[sid] = a.get(sid)
                new.setdefault("sites", {})[sid] = b.get(sid)
    return old, new


def record_config(
    store: Store,
    comp: Competition,
    source: tuple[str, bytes] | None,
    clock: Callable[[], float],
) -> list[int]:
    """Append ``config_loaded`` (and ``method_changed``) for ``comp`` if its file differs from
    the last one recorded (module docstring); returns the ids appended.

    ``source`` is the competition file (its name and bytes); without one (a competition built
    in code) the SHA-256 is of the competition model's canonical JSON, and the entry says so.
    """
    if source is not None:
        name, data = source
        digest = sha256_hex(data)
        hashed = {"sha256": digest, "of": "file", "file": name[-300:]}
    else:
        model = canonical_json(comp.model_dump(mode="json", by_alias=True))
        digest = sha256_hex(model)
        hashed = {"sha256": digest, "of": "model: the competition's canonical JSON, no file"}
    params = scoring_parameters(comp)
    last = None
    for entry in all_entries(store, comp.id):
        if entry.action == "config_loaded":
            last = entry
    last_after = last.after if last is not None and isinstance(last.after, dict) else {}
    if last_after.get("sha256") == digest:
        return []
    ts_ms = int(clock() * 1000)
    ids = [
        store.organiser.append_audit(
            AuditEntry(
                competition=comp.id,
                ts_ms=ts_ms,
                who=CONFIG_WHO,
                action="config_loaded",
                subject=comp.id,
                before={"sha256": last_after.get("sha256")} if last is not None else None,
                after={**hashed, "parameters": params},
                reason="",
            )
        )
    ]
    previous = last_after.get("parameters")
    if isinstance(previous, dict):
        old, new = parameter_changes(previous, params)
        if old or new:
            ids.append(
                store.organiser.append_audit(
                    AuditEntry(
                        competition=comp.id,
                        ts_ms=ts_ms,
                        who=CONFIG_WHO,
                        action="method_changed",
                        subject=comp.id,
                        before=old,
                        after=new,
                        reason=f"competition file changed (SHA-256 {digest[:16]}…)",
                    )
                )
            )
    return ids


def record_configs(
    store: Store,
    competitions: list[Competition],
    sources: dict[str, tuple[str, bytes]],
    clock: Callable[[], float],
) -> None:
    """``record_config`` for each competition; a store that refuses is logged, not fatal
    (the scores are served either way; the log says the start was not recorded)."""
    for comp in competitions:
        try:
            record_config(store, comp, sources.get(comp.id), clock)
        except Exception:  # an unreachable store: serve anyway, say so
            log.exception("the audit log did not record the competition file of %r", comp.id)

"""Held data (token): what the baseline lock kept, its what-if and the organiser's decision.

Data that would change a locked baseline is held (``ingest.baseline_lock``) until an organiser
accepts or rejects it, once, with a reason. Listing pending items computes their what-if
(``api.what_if``) when the stored one is out of date. Accepting writes the item's data through
the normal write path (``apply_held``), decides it, appends a ``held_accepted`` audit entry with
the affected sites' baseline and reduction before and after, and drops the scoreboard's cache
so the scores move at once; rejecting decides it and appends ``held_rejected``.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.auth import organiser_guard
from api.context import AppContext
from api.errors import APIError
from api.responses import errors, json_response
from api.schemas.held import HeldDecision, HeldDetail, HeldList
from api.what_if import (
    compute_pending_what_if,
    compute_what_if,
    site_figures,
    sites_in,
    what_if_key,
)
from ingest.baseline_lock import ALL_SITES
from ingest.imports.baseline_change import apply_held
from ingest.store.audit import AuditEntry
from ingest.store.checks import canonical_json, sha256_hex
from ingest.store.held import HELD_KINDS, REASON_MAX_CHARS, HeldDecided, HeldItem, UnknownHeld

log = logging.getLogger(__name__)

STATUSES = ("pending", "accepted", "rejected", "all")
WHAT_IF_PER_REQUEST = 20  # what-ifs computed by one listing at most; the rest on the next one
LIST_MAX_ITEMS = 5000
PAYLOAD_MAX_ROWS = 10_000  # rows of one item's payload in one answer
HELD_ID = Path(ge=1, le=2**63 - 1, description="the held item's id")


class Decision(BaseModel):
    """Why an organiser accepts or rejects a held item (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS, description="why")

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        text = text.strip()
        if not text:
            raise ValueError("must not be blank: say why (the audit log keeps it)")
        return text


def iso_utc(ts_ms: int | None) -> str | None:
    """``ts_ms`` [Unix ms] as ISO-8601 UTC, or None."""
    if ts_ms is None:
        return None
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat()


def subject_of(item: HeldItem) -> str:
    """What an audit entry of ``item`` is about: its site, or its weather station."""
    return f"station:{item.meter}" if item.site == ALL_SITES else item.site


def item_view(item: HeldItem, current_key: str | None = None) -> dict:
    """A held item as the API lists it (no payload)."""
    what_if = item.what_if or None
    return {
        "id": item.id,
        "competition": item.competition,
        "site": item.site,
        "meter": item.meter,
        "kind": item.kind,
        "source": item.source,
        "topic": item.topic,
        "received": iso_utc(item.received_ms),
        "first": iso_utc(item.first_ts_ms),
        "last": iso_utc(item.last_ts_ms),
        "rows": len(item.payload),
        "status": item.status,
        "decided_by": item.decided_by,
        "decided": iso_utc(item.decided_ms),
        "reason": item.reason,
        "what_if": what_if,
        # None for a decided item: its what-if stays as it was when it was decided
        "what_if_current": (
            None
            if item.status != "pending"
            else bool(what_if) and what_if.get("key") == current_key and "error" not in what_if
        ),
    }


def payload_view(item: HeldItem, offset: int, limit: int) -> list[dict]:
    """Rows ``offset`` to ``offset + limit`` of the item's payload, by column name (times
    also as ISO-8601 UTC)."""
    columns = HELD_KINDS[item.kind]
    out = []
    for row in item.payload[offset : offset + limit]:
        entry = dict(zip(columns, row, strict=True))
        for name in columns:
            if name.endswith("_ms"):
                entry[name[:-3]] = iso_utc(entry[name])
        out.append(entry)
    return out


def held_router(ctx: AppContext) -> APIRouter:
    """Held data: list, one item, accept, reject (token)."""
    router = APIRouter()
    decide_lock = threading.Lock()  # one decision at a time: each scores before and after
    organiser = organiser_guard(lambda: ctx.tokens)

    def item_of(cid: str, held_id: int) -> HeldItem:
        ctx.board(cid)
        item = ctx.store.organiser.get_held(held_id)
        if item is None or item.competition != cid:
            raise APIError(404, "not_found", f"competition {cid!r} has no held item {held_id}")
        return item

    def with_what_if(cid: str, items: list[HeldItem], budget: int) -> list[dict]:
        """Views of ``items``, the out-of-date what-ifs of pending ones recomputed (at most
        ``budget``) and stored."""
        board = ctx.board(cid)
        comp = board.competition
        keys: dict[tuple[str, ...], str] = {}
        views = []
        for item in items:
            if item.status != "pending":
                views.append(item_view(item))
                continue
            sites = tuple(s for s in sites_in(comp, item) if board.site_index(s) is not None)
            if sites not in keys:
                keys[sites] = what_if_key(board, list(sites))
            key = keys[sites]
            if item.what_if.get("key") != key and budget > 0:
                budget -= 1
                item = refreshed(comp, item, key)
            views.append(item_view(item, key))
        return views

    def refreshed(comp, item: HeldItem, key: str) -> HeldItem:
        """``item`` with its what-if computed anew and stored (an error is stored as the
        what-if, so the list still answers and says why)."""
        try:
            what_if = compute_what_if(comp, ctx.store, item, ctx.clock, key)
        except Exception as exc:  # a fit that fails, a store away: say so, list the rest
            log.exception("what-if of held item %s", item.id)
            what_if = {"key": key, "error": f"the what-if could not be computed: {exc}"[:500]}
        try:
            return ctx.store.organiser.set_what_if(item.id, what_if)
        except (HeldDecided, UnknownHeld):  # decided meanwhile: its what-if is frozen
            return ctx.store.organiser.get_held(item.id) or item

    @router.get(
        "/api/competitions/{cid}/held",
        response_model=HeldList,
        responses=errors(400, 401, 404, 503),
    )
    def list_held(
        cid: str,
        status: str = Query("pending", pattern="^(pending|accepted|rejected|all)$"),
        site: str | None = Query(None, max_length=200, description="one site's items only"),
        who: str = Depends(organiser),
    ) -> Response:
        """Held data of the competition with its what-if: what accepting each item would do to
        its sites' baseline [kWh over the elapsed hours] and reduction [%]."""
        ctx.board(cid)
        items = ctx.store.organiser.list_held(
            cid, status=None if status == "all" else status, site=site
        )
        views = with_what_if(cid, items[:LIST_MAX_ITEMS], WHAT_IF_PER_REQUEST)
        return json_response(
            {
                "competition": cid,
                "status": status,
                "count": len(items),
                "truncated": len(items) > LIST_MAX_ITEMS,
                "items": views,
                "all_pending": all_pending(cid, [i for i in items if i.status == "pending"]),
            }
        )

    pending_cache: dict[str, tuple[str, list[dict]]] = {}  # cid → (key, what-if)

    def all_pending(cid: str, items: list[HeldItem]) -> list[dict]:
        """What accepting every pending item listed would do per site (``compute_pending_
        what_if``), cached until the items or the sites' scored inputs change."""
        if not items:
            return []
        board = ctx.board(cid)
        comp = board.competition
        sites = sorted(
            {s for i in items for s in sites_in(comp, i) if board.site_index(s) is not None}
        )
        key = sha256_hex(
            canonical_json([sorted(i.id or 0 for i in items), what_if_key(board, sites)])
        )
        cached = pending_cache.get(cid)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            result = compute_pending_what_if(comp, ctx.store, items, ctx.clock)
        except Exception as exc:  # say why, list the items anyway
            log.exception("what-if of every pending item of %r", cid)
            return [{"error": f"the what-if could not be computed: {exc}"[:500]}]
        pending_cache[cid] = (key, result)
        return result

    @router.get(
        "/api/competitions/{cid}/held/{held_id}",
        response_model=HeldDetail,
        responses=errors(400, 401, 404, 503),
    )
    def get_held(
        cid: str,
        held_id: int = HELD_ID,
        offset: int = Query(0, ge=0, le=10**9, description="first payload row"),
        limit: int = Query(1000, ge=1, le=PAYLOAD_MAX_ROWS, description="payload rows"),
        who: str = Depends(organiser),
    ) -> Response:
        """One held item with its what-if and its payload rows (``offset``, ``limit``)."""
        item = item_of(cid, held_id)
        (view,) = with_what_if(cid, [item], 1)
        view["payload"] = payload_view(item, offset, limit)
        view["payload_offset"] = offset
        view["payload_truncated"] = offset + limit < len(item.payload)
        return json_response(view)

    def pending(cid: str, held_id: int) -> HeldItem:
        item = item_of(cid, held_id)
        if item.status != "pending":
            raise APIError(409, "conflict", str(_decided(item)))
        ctx.refuse_if_closed(cid, "held data is no longer decided")
        return item

    def decide(held_id: int, status: str, who: str, reason: str, at_ms: int) -> HeldItem:
        try:
            return ctx.store.organiser.decide(held_id, status, who, reason, at_ms)
        except HeldDecided as exc:
            raise APIError(409, "conflict", str(exc)) from None
        except ValueError as exc:  # a reason or name the store refuses
            raise APIError(400, "bad_request", str(exc)) from None

    @router.post(
        "/api/competitions/{cid}/held/{held_id}/accept",
        response_model=HeldDecision,
        responses=errors(400, 401, 404, 409, 413, 503),
    )
    def accept(
        cid: str, body: Decision, held_id: int = HELD_ID, who: str = Depends(organiser)
    ) -> Response:
        """Apply the held item's data at once and audit it (``held_accepted``)."""
        with decide_lock:
            item = pending(cid, held_id)
            at_ms = int(ctx.clock() * 1000)
            board = ctx.board(cid)
            sites = sites_in(board.competition, item)
            board.forget_history()  # the figures before, from the store as it is now
            before = site_figures(board, sites)
            written = apply_held(ctx.store, item, at_ms)
            decided = decide(held_id, "accepted", who, body.reason, at_ms)
            board = ctx.board(cid)
            board.forget_history()  # the scores move at once
            after = site_figures(board, sites)
            applied = {
                "inserted": written.inserted,
                "duplicates": written.duplicates,
                "conflicts": written.conflicts,
                "quarantined": written.quarantined,
            }
            audit_id = ctx.store.organiser.append_audit(
                AuditEntry(
                    competition=cid,
                    ts_ms=at_ms,
                    who=who,
                    action="held_accepted",
                    subject=subject_of(item),
                    before={"held": held_id, "sites": before},
                    after={"held": held_id, **_data_of(item), "applied": applied, "sites": after},
                    reason=body.reason,
                )
            )
        return json_response(
            {**item_view(decided), "applied": applied, "audit_id": audit_id, "sites": after}
        )

    @router.post(
        "/api/competitions/{cid}/held/{held_id}/reject",
        response_model=HeldDecision,
        responses=errors(400, 401, 404, 409, 413, 503),
    )
    def reject(
        cid: str, body: Decision, held_id: int = HELD_ID, who: str = Depends(organiser)
    ) -> Response:
        """Reject the held item: its data is never applied; audited (``held_rejected``)."""
        with decide_lock:
            item = pending(cid, held_id)
            at_ms = int(ctx.clock() * 1000)
            board = ctx.board(cid)
            now = site_figures(board, sites_in(board.competition, item))
            decided = decide(held_id, "rejected", who, body.reason, at_ms)
            would = {s["site"]: s["if_accepted"] for s in item.what_if.get("sites", [])}
            audit_id = ctx.store.organiser.append_audit(
                AuditEntry(
                    competition=cid,
                    ts_ms=at_ms,
                    who=who,
                    action="held_rejected",
                    subject=subject_of(item),
                    before={"held": held_id, "sites": now},
                    after={"held": held_id, **_data_of(item), "sites": now, "what_if": would},
                    reason=body.reason,
                )
            )
        return json_response({**item_view(decided), "audit_id": audit_id, "sites": now})

    return router


def _data_of(item: HeldItem) -> dict:
    """What an audit entry says of a held item's data."""
    return {
        "kind": item.kind,
        "meter": item.meter,
        "source": item.source,
        "rows": len(item.payload),
        "first": iso_utc(item.first_ts_ms),
        "last": iso_utc(item.last_ts_ms),
    }


def _decided(item: HeldItem) -> str:
    return (
        f"held item {item.id} was already {item.status} by {item.decided_by} at "
        f"{iso_utc(item.decided_ms)} (reason: {item.reason!r:.200}); a decision is final: only "
        "a pending item can be accepted or rejected"
    )

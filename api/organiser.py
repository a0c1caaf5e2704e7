"""Write endpoints (token): bulk readings over HTTP, the quarantine and its reprocessing."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.auth import organiser_guard
from api.context import AppContext
from api.data_quality import quality_view
from api.errors import APIError
from api.responses import errors, json_response
from api.schemas.organiser import (
    Annotation,
    AnnotationDeleted,
    AnnotationList,
    Quarantine,
    ReadingsRejected,
    ReadingsStored,
    Reprocessed,
    SiteEdited,
    SiteEdits,
)
from api.schemas.quality import Quality
from api.scoreboard import Scoreboard
from api.site_edits import EDITABLE, SiteEdit, edited
from ingest.store.audit import REASON_MAX_CHARS, AuditEntry
from ingest.validation import process_message
from scoring.competition import Competition

MAX_BODY_BYTES = 4 * 1024 * 1024
HTTP_TOPIC = "http:/api/readings"


class AnnotationRequest(BaseModel):
    ts: datetime | float = Field(
        description="when the action took effect: ISO-8601 with an offset, or Unix seconds"
    )
    text: str = Field(min_length=1, max_length=500, description="what was done")


class AuditedSiteEdit(SiteEdit):
    """A site edit, with why (optional; the audit log keeps it)."""

    reason: str | None = Field(None, max_length=REASON_MAX_CHARS, description="why (audited)")

    def changes(self) -> dict:
        return {k: v for k, v in super().changes().items() if k != "reason"}


class ReprocessRequest(BaseModel):
    ids: list[Annotated[int, Field(ge=0, le=2**63 - 1)]] | None = Field(
        None, max_length=10_000, description="quarantine entry ids"
    )
    reason: str | None = Field(None, description="every entry with this reason")


# the body is read as bytes (a bulk upload is decoded by the ingest path, not by FastAPI), so
# it is described here: the project's JSON readings, one object or an array of them
READINGS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "description": "readings in the project's JSON: an object or an array of "
                    "objects, each naming its `meter`, with `ts` (ISO-8601 with an offset, or "
                    "Unix s) and `energy_kwh` (register [kWh]) and/or `power_w` [W]; at most "
                    "4 MB",
                    "example": [
                        {
                            "meter": "kommunhus-main",
                            "ts": "2011-03-07T12:00:00+01:00",
                            "energy_kwh": 51234.5,
                            "power_w": 8200,
                        }
                    ],
                }
            }
        },
    }
}


def _payload_view(payload: bytes) -> dict:
    try:
        return {"payload": payload.decode("utf-8"), "payload_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"payload": base64.b64encode(payload).decode(), "payload_encoding": "base64"}


def organiser_router(ctx: AppContext) -> APIRouter:
    """Bulk readings, annotations and the quarantine (token)."""
    router = APIRouter()
    store, routing, limits = ctx.store, ctx.routing, ctx.limits
    organiser = organiser_guard(lambda: ctx.tokens)

    @router.post(
        "/api/readings",
        response_model=ReadingsStored,
        responses={
            **errors(401, 413, 503),
            422: {
                "model": ReadingsRejected,
                "description": "rejected: nothing in the body could be stored; `quarantined` "
                "says why for each reading",
            },
        },
        openapi_extra=READINGS_BODY,
    )
    async def post_readings(request: Request, who: str = Depends(organiser)) -> Response:
        """Bulk readings in the project's JSON; each reading names its ``meter``."""
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            raise APIError(413, "too_large", f"body over {MAX_BODY_BYTES} bytes; split it")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise APIError(413, "too_large", f"body over {MAX_BODY_BYTES} bytes; split it")
        received = datetime.fromtimestamp(ctx.clock(), UTC)

        def decode_and_store():
            msg = process_message(
                HTTP_TOPIC,
                body,
                received,
                routing,
                limits,
                source=f"http:{who}",
                by_topic=False,
                max_payload_bytes=MAX_BODY_BYTES,  # a bulk upload, not one meter message
            )
            return msg, store.write([msg])

        # decoding 4 MB and a store write take seconds: off the event loop, which serves the
        # streams and the frames meanwhile
        msg, result = await run_in_threadpool(decode_and_store)
        rejected = [{"reason": q.reason, "detail": q.detail} for q in msg.rejected]
        data = {"stored": result.inserted, "duplicates": result.duplicates, "quarantined": rejected}
        if not msg.readings and rejected:
            return json_response(
                {
                    "error": {
                        "code": "rejected",
                        "message": "; ".join(r["detail"] for r in rejected[:5]),
                        "quarantined": rejected,
                    }
                },
                status=422,
            )
        return json_response(data)

    def site_of(cid: str, sid: str) -> None:
        comp = ctx.competitions.get(cid)
        if comp is None:
            raise APIError(404, "not_found", f"no competition {cid!r}")
        if sid is not None and comp.site(sid) is None:
            raise APIError(404, "not_found", f"competition {cid!r} has no site {sid!r}")

    @router.post(
        "/api/competitions/{cid}/sites/{sid}/annotations",
        status_code=201,
        response_model=Annotation,
        responses=errors(400, 401, 404, 409, 413, 503),
    )
    def add_annotation(
        cid: str, sid: str, body: AnnotationRequest, who: str = Depends(organiser)
    ) -> Response:
        """Record an action a town hall took; the site view shows its measured effect."""
        site_of(cid, sid)
        ctx.refuse_if_closed(cid, "annotations are no longer added")
        if isinstance(body.ts, datetime):
            if body.ts.tzinfo is None:
                raise APIError(
                    400, "bad_request", "ts has no UTC offset, e.g. 2011-03-15T18:00:00+01:00"
                )
            ts_s = body.ts.timestamp()
        else:
            ts_s = float(body.ts)
        if not 0 <= ts_s < 2**33:
            raise APIError(400, "bad_request", f"ts {body.ts!r} is out of range")
        annotation_id = store.organiser.add_annotation(cid, sid, int(ts_s * 1000), body.text, who)
        ts_iso = datetime.fromtimestamp(ts_s, UTC).isoformat()
        store.organiser.append_audit(
            AuditEntry(
                competition=cid,
                ts_ms=int(ctx.clock() * 1000),
                who=who,
                action="annotation_added",
                subject=sid,
                before=None,
                after={"id": annotation_id, "ts": ts_iso, "text": body.text},
                reason="",
            )
        )
        return json_response(
            {
                "id": annotation_id,
                "competition": cid,
                "site": sid,
                "ts": ts_iso,
                "text": body.text,
                "author": who,
            },
            status=201,
        )

    @router.get(
        "/api/competitions/{cid}/annotations",
        response_model=AnnotationList,
        responses=errors(404, 503),
    )
    def list_annotations(cid: str) -> Response:
        """The competition's recorded actions (the site view gives each one's effect)."""
        site_of(cid, None)
        return json_response(
            {
                "annotations": [
                    {**a, "ts": datetime.fromtimestamp(a["ts_ms"] / 1e3, UTC).isoformat()}
                    for a in store.organiser.list_annotations(cid)
                ]
            }
        )

    @router.delete(
        "/api/competitions/{cid}/annotations/{annotation_id}",
        response_model=AnnotationDeleted,
        responses=errors(400, 401, 404, 409, 503),
    )
    def delete_annotation(
        cid: str, annotation_id: int = Path(ge=0, le=2**63 - 1), who: str = Depends(organiser)
    ) -> Response:
        """Remove a recorded action (audited: ``annotation_deleted``)."""
        site_of(cid, None)
        ctx.refuse_if_closed(cid, "annotations are no longer deleted")
        gone = next(
            (a for a in store.organiser.list_annotations(cid) if a["id"] == annotation_id), None
        )
        if gone is None or not store.organiser.delete_annotation(cid, annotation_id):
            raise APIError(404, "not_found", f"no annotation {annotation_id} in {cid!r}")
        store.organiser.append_audit(
            AuditEntry(
                competition=cid,
                ts_ms=int(ctx.clock() * 1000),
                who=who,
                action="annotation_deleted",
                subject=gone["site"],
                before={
                    "id": annotation_id,
                    "ts": datetime.fromtimestamp(gone["ts_ms"] / 1e3, UTC).isoformat(),
                    "text": gone["text"],
                    "author": gone["author"],
                },
                after=None,
                reason="",
            )
        )
        return json_response({"deleted": annotation_id})

    @router.get("/api/quarantine", response_model=Quarantine, responses=errors(400, 401, 503))
    def list_quarantine(
        reason: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
        who: str = Depends(organiser),
    ) -> Response:
        """Quarantine counts per reason and the latest entries (``reason``, ``limit``)."""
        rows = store.list_quarantine(limit=limit, reason=reason)
        return json_response(
            {
                "counts": store.quarantine_counts(),
                "entries": [
                    {
                        "id": r["id"],
                        "received": datetime.fromtimestamp(r["received_ms"] / 1e3, UTC).isoformat(),
                        "source": r["source"],
                        "topic": r["topic"],
                        "reason": r["reason"],
                        "detail": r["detail"],
                        **_payload_view(r["payload"]),
                        "payload_bytes": r["payload_bytes"],
                        "payload_sha256": r["payload_sha256"],
                        "payload_truncated": r["payload_truncated"],
                    }
                    for r in rows
                ],
            }
        )

    @router.post(
        "/api/quarantine/reprocess",
        response_model=Reprocessed,
        responses=errors(400, 401, 413, 503),
    )
    def reprocess(body: ReprocessRequest, who: str = Depends(organiser)) -> Response:
        """Run quarantined messages through decoding and validation again (after the
        competition file was fixed); each one ends up stored or quarantined anew."""
        if body.ids is None and body.reason is None:
            raise APIError(400, "bad_request", "give 'ids' or 'reason'")
        rows = store.list_quarantine(limit=10_000, reason=body.reason, ids=body.ids)
        messages, release, skipped = [], [], 0
        for r in rows:
            # nothing to decode again: a conflicting duplicate (no payload), or an entry that
            # holds only part of its payload (cut at the limit, or kept with another entry)
            if not r["payload"] or r["payload_truncated"]:
                skipped += 1
                continue
            received = datetime.fromtimestamp(r["received_ms"] / 1e3, UTC)
            from_http = r["source"].startswith("http")
            messages.append(
                process_message(
                    r["topic"],
                    r["payload"],
                    received,
                    routing,
                    limits,
                    source=r["source"],
                    by_topic=not from_http,
                    max_payload_bytes=MAX_BODY_BYTES if from_http else None,
                )
            )
            release.append(r["id"])
        result = store.write(messages, release_ids=release)
        return json_response(
            {
                "reprocessed": len(release),
                "stored": result.inserted,
                "duplicates": result.duplicates,
                "quarantined_again": result.quarantined,
                "skipped": skipped,
            }
        )

    return router


def site_admin_router(ctx: AppContext) -> APIRouter:
    """Organisers' edits of sites and the data-quality view (token)."""
    router = APIRouter()
    lock = threading.Lock()  # one edit at a time: each builds on the competition before it
    organiser = organiser_guard(lambda: ctx.tokens)

    @router.patch(
        "/api/competitions/{cid}/sites/{sid}",
        response_model=SiteEdited,
        responses=errors(400, 401, 404, 409, 413, 503),
    )
    def edit_site(
        cid: str, sid: str, body: AuditedSiteEdit, who: str = Depends(organiser)
    ) -> Response:
        """Change a site's name, municipality, floor area (``area_m2``) or target
        (``target_pct``); the scores use the new values at once and after a restart. Each
        field that changes is audited (``site_edit``: before → after, the optional reason)."""
        b = ctx.board(cid)
        ctx.site_index(b, sid)
        ctx.refuse_if_closed(cid, "its sites are no longer edited")
        changes = body.changes()
        if not changes:
            raise APIError(
                400, "bad_request", f"nothing to change; give any of {', '.join(EDITABLE)}"
            )
        with lock:
            old = ctx.competitions[cid].site(sid)
            new = edited(ctx.competitions[cid], sid, changes)
            now_s = ctx.clock()
            ctx.store.organiser.save_site_edit(cid, sid, changes, who, now_s)
            apply_competition(ctx, new)
            moved = [k for k in EDITABLE if k in changes and getattr(old, k) != changes[k]]
            if moved:
                ctx.store.organiser.append_audit(
                    AuditEntry(
                        competition=cid,
                        ts_ms=int(now_s * 1000),
                        who=who,
                        action="site_edit",
                        subject=sid,
                        before={k: getattr(old, k) for k in moved},
                        after={k: getattr(new.site(sid), k) for k in moved},
                        reason=(body.reason or "").strip(),
                    )
                )
        site = new.site(sid)
        return json_response(
            {
                "competition": cid,
                "site": sid,
                "changed": changes,
                "by": who,
                **{k: getattr(site, k) for k in EDITABLE},
            }
        )

    @router.get(
        "/api/competitions/{cid}/site-edits",
        response_model=SiteEdits,
        responses=errors(401, 404, 503),
    )
    def list_site_edits(cid: str, who: str = Depends(organiser)) -> Response:
        """The organisers' stored edits per site, merged (applied over the competition file)."""
        ctx.board(cid)
        return json_response({"competition": cid, "sites": ctx.store.organiser.site_edits(cid)})

    @router.get(
        "/api/competitions/{cid}/quality",
        response_model=Quality,
        responses=errors(401, 404, 503),
    )
    def quality(cid: str, who: str = Depends(organiser)) -> Response:
        """Silent meters, quarantined messages by reason and completeness per site."""
        return json_response(quality_view(ctx.board(cid), ctx.store, ctx.clock()))

    return router


def apply_competition(ctx: AppContext, competition: Competition) -> None:
    """Serve ``competition`` from now on: the routers and the SSE hub look boards up per call."""
    ctx.competitions[competition.id] = competition
    ctx.boards[competition.id] = Scoreboard(
        competition, ctx.store, ctx.clock, fit_cache=ctx.fit_cache
    )

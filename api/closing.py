"""Closing a competition (token) and its certified results.

- ``POST /api/competitions/{cid}/close`` (token; ``{"confirm": "<cid>"}``) closes a finished
  competition as ``wattleague close`` does (``api.closing_run``), without writing a directory:
  the bundle's files are ``GET …/closing/bundle.zip``.
- ``GET /api/competitions/{cid}/closing`` (public): closed or not, when, the SHA-256s.
- ``GET /api/competitions/{cid}/closing/bundle.zip`` (token: it holds the audit log):
  ``results.json``, the jury reports and ``MANIFEST.sha256``, drawn again from the stored
  bundle.

From the moment it is closed (and after every restart: the closing is read from the store when
the app is built) the competition is served from its ``FrozenScoreboard``.
"""

from __future__ import annotations

import io
import logging
import zipfile
from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import organiser_guard
from api.closing_bundle import competition_from_bundle
from api.closing_files import MANIFEST, bundle_files
from api.closing_run import NotFinished, prepare_closing, store_closing
from api.context import AppContext
from api.errors import APIError
from api.frozen_board import FrozenScoreboard
from api.responses import ATTACHMENT, errors, files, json_response
from api.schemas.audit import ClosedNow, ClosingState
from ingest.store import checks
from ingest.store.closing import AlreadyClosed, Closing, ClosingDamaged, bundle_sha256

log = logging.getLogger(__name__)

_ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # every member's time: the same bundle, the same bytes


class CloseRequest(BaseModel):
    """Closing is final: the body repeats the competition's id."""

    model_config = ConfigDict(extra="forbid")

    confirm: str = Field(max_length=200, description="the competition's id, to confirm")


def closed_view(closing: Closing, tz) -> dict:
    """What a closed competition's views say about it (``closed`` in the leaderboard)."""
    at = datetime.fromtimestamp(closing.closed_ms / 1000.0, UTC).astimezone(tz)
    return {
        "at": at.isoformat(timespec="seconds"),
        "as_of": closing.bundle.get("as_of"),
        "bundle_sha256": bundle_sha256(closing.bundle),
        "manifest_sha256": closing.manifest_sha256,
    }


def frozen_board(closing: Closing, ctx: AppContext) -> FrozenScoreboard:
    """The board a closed competition is served from, built from its stored bundle."""
    bundle = closing.bundle
    competition = competition_from_bundle(bundle)
    index = {s.id: i for i, s in enumerate(competition.sites)}
    actions = {index[sid]: a for sid, a in bundle.get("actions", {}).items() if sid in index}
    return FrozenScoreboard(
        competition,
        ctx.store,
        bundle["snapshot"],
        actions,
        closed_view(closing, competition.competition.tz),
    )


def adopt_closing(ctx: AppContext, cid: str) -> Closing | None:
    """Read the competition's closing from the store and, if it is closed, serve it frozen
    from now on; None while it is open. Reads the store: call from a worker thread."""
    try:
        closing = ctx.store.organiser.closing(cid)
    except ClosingDamaged as exc:
        ctx.closing_problems[cid] = f"{exc}; the results of {cid!r} are not served"
        return None
    if closing is not None and cid not in ctx.frozen:
        try:
            ctx.frozen[cid] = frozen_board(closing, ctx)
        except (ValueError, KeyError, TypeError) as exc:
            ctx.closing_problems[cid] = (
                f"the stored results bundle of {cid!r} cannot be served: {exc}"
            )
            return None
        ctx.boards[cid] = ctx.frozen[cid]
    return closing


def closing_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    for cid in list(ctx.boards):  # closed before this start: frozen from the first request
        try:
            adopt_closing(ctx, cid)
        except Exception:  # an unreachable store: serve, and read the closing when asked
            log.exception("the closing of %r could not be read", cid)

    organiser = organiser_guard(lambda: ctx.tokens)

    def stored_closing(cid: str) -> Closing | None:
        ctx.board(cid)  # 404 for an unknown competition, 503 for a damaged closing
        closing = adopt_closing(ctx, cid)
        if cid in ctx.closing_problems:
            raise APIError(503, "closing_damaged", ctx.closing_problems[cid])
        return closing

    @router.post(
        "/api/competitions/{cid}/close",
        status_code=201,
        response_model=ClosedNow,
        responses=errors(
            400,
            401,
            404,
            409,
            413,
            503,
            s409="conflict: the competition has not ended yet, or is closed already",
        ),
    )
    def close(cid: str, body: CloseRequest, who: str = Depends(organiser)) -> Response:
        """Close a finished competition: its results are frozen and certified (final)."""
        board = ctx.board(cid)
        if body.confirm != cid:
            raise APIError(
                400,
                "bad_request",
                f"closing is final: confirm with {{'confirm': {cid!r}}}, got {body.confirm!r:.80}",
            )
        try:
            prepared = prepare_closing(board.competition, ctx.store, ctx.clock(), who)
            audit_id = store_closing(ctx.store, prepared)
        except (NotFinished, AlreadyClosed) as exc:
            raise APIError(409, "conflict", str(exc)) from None
        closing = adopt_closing(ctx, cid)
        view = closed_view(closing, board.tz)
        return json_response(
            {
                "competition": cid,
                "closed": True,
                **view,
                "by": who,
                "audit_id": audit_id,
                "files": sorted(prepared.files),
                "bundle_url": f"/api/competitions/{cid}/closing/bundle.zip",
            },
            status=201,
        )

    @router.get(
        "/api/competitions/{cid}/closing",
        response_model=ClosingState,
        responses=errors(404, 503),
    )
    def closing(cid: str) -> Response:
        """Whether the competition is closed; when, as of when, and the bundle's SHA-256."""
        stored = stored_closing(cid)
        if stored is None:
            return json_response({"competition": cid, "closed": False})
        return json_response(
            {
                "competition": cid,
                "closed": True,
                **closed_view(stored, ctx.board(cid).tz),
                "bundle_url": f"/api/competitions/{cid}/closing/bundle.zip",
            }
        )

    @router.get(
        "/api/competitions/{cid}/closing/bundle.zip",
        response_class=Response,
        responses={
            **files(
                "application/zip",
                description="the results bundle in a folder <cid>-results/: results.json "
                "(the frozen figures and the audit log), jury-report-sv.pdf, "
                "jury-report-en.pdf and MANIFEST.sha256 (sha256sum's format)",
                headers={
                    **ATTACHMENT,
                    "X-Manifest-Matches": {
                        "description": "true when the manifest drawn again has the SHA-256 "
                        "stored at closing",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                },
            ),
            **errors(401, 404, 503, s404="not_found: no such competition, or it is not closed"),
        },
    )
    def bundle_zip(cid: str, who: str = Depends(organiser)) -> Response:
        """The results bundle's files as a zip (the audit log is in it: token)."""
        stored = stored_closing(cid)
        if stored is None:
            raise APIError(404, "not_found", f"competition {cid!r} is not closed")
        files = bundle_files(stored.bundle)
        same = checks.sha256_hex(files[MANIFEST]) == stored.manifest_sha256
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in sorted(files.items()):
                z.writestr(
                    zipfile.ZipInfo(f"{cid}-results/{name}", _ZIP_TIME),
                    data,
                    compress_type=zipfile.ZIP_DEFLATED,
                )
        return Response(
            buf.getvalue(),
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{cid}-results.zip"',
                "X-Manifest-Matches": "true" if same else "false",
            },
        )

    return router

"""HTML pages: the public leaderboard, the lobby kiosk, the public site page and the organiser
page.

Each page is one self-contained file in ``api/pages/`` (no CDN: lobby screens are often on
closed networks) that draws itself from the JSON API in the browser. The server only fills in
which competition, site or display the page is for (a JSON data block) and answers 404 for an
unknown one, so a mistyped address says so instead of showing an empty page. The leaderboard
page at ``/`` is served as it is: it picks its competition itself. (The embed page, drawn
on the server, is ``api.embed``.)

The configuration goes into a JSON data block (``<script type="application/json"
id="config">``), which the browser never runs: the page's own inline script and style stay the
same bytes, allowed by their hashes in the page's Content-Security-Policy
(``api.security_headers.page_policy``), so no other script can run in the page. The pages are
read once, when the router is built.
"""

from __future__ import annotations

from importlib import resources

import orjson
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.context import AppContext
from api.errors import APIError
from api.security_headers import page_policy

CONFIG_BLOCK = '<script type="application/json" id="config">null</script>'


def _load(name: str) -> tuple[str, dict[str, str]]:
    """The page's text and its headers (its Content-Security-Policy)."""
    text = resources.files("api").joinpath(f"pages/{name}").read_text("utf-8")
    return text, {"Content-Security-Policy": page_policy(text)}


def pages_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    pages = {n: _load(n) for n in ("leaderboard.html", "kiosk.html", "site.html", "organiser.html")}

    def _page(name: str, config: dict) -> HTMLResponse:
        text, headers = pages[name]
        # JSON in a <script> block: "<" escaped so a name with "</script>" cannot end it
        blob = orjson.dumps(config).decode().replace("<", "\\u003c")
        block = CONFIG_BLOCK.replace(">null<", f">{blob}<")
        return HTMLResponse(text.replace(CONFIG_BLOCK, block, 1), headers=headers)

    @router.get("/", response_class=HTMLResponse)
    def leaderboard_page() -> HTMLResponse:
        """The public leaderboard (``api/pages/leaderboard.html``)."""
        text, headers = pages["leaderboard.html"]
        return HTMLResponse(text, headers=headers)

    @router.get("/kiosk", response_class=HTMLResponse)
    def kiosk(competition: str | None = None) -> HTMLResponse:
        """Kiosk of a competition (default: the first), with no site highlighted."""
        cid = competition or next(iter(ctx.competitions), None)
        if cid is None:
            raise APIError(404, "not_found", "no competition is served")
        ctx.board(cid)
        return _page("kiosk.html", {"competition": cid, "site": None, "display": None})

    @router.get("/kiosk/{did}", response_class=HTMLResponse)
    def kiosk_display(did: str) -> HTMLResponse:
        """Kiosk of a ``[[display]]``: its competition, its own site highlighted."""
        for cid, comp in ctx.competitions.items():
            d = comp.display(did)
            if d is not None:
                return _page(
                    "kiosk.html",
                    {"competition": cid, "site": d.site, "display": did, "lang": d.lang},
                )
        known = sorted(d.id for c in ctx.competitions.values() for d in c.displays)
        raise APIError(404, "not_found", f"no display {did!r}; known: {known}")

    @router.get("/sites/{cid}/{sid}", response_class=HTMLResponse)
    def site_page(cid: str, sid: str) -> HTMLResponse:
        ctx.site_index(ctx.board(cid), sid)
        return _page("site.html", {"competition": cid, "site": sid})

    @router.get("/organiser", response_class=HTMLResponse)
    def organiser_page(competition: str | None = None) -> HTMLResponse:
        cid = competition or next(iter(ctx.competitions), None)
        if cid is not None:
            ctx.board(cid)
        return _page("organiser.html", {"competition": cid, "competitions": list(ctx.competitions)})

    return router

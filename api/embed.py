"""Embeddable standing pages for a municipality's own website (``/embed/{cid}/{sid}``).

A small page for an ``<iframe>``: the site's name, its rank in the reduction league (of the
ranked sites), its reduction so far and a sparkline of its daily kWh against the baseline, in
Swedish or English. It is drawn on the server (``api/pages/embed.html`` filled in, every value
HTML-escaped: site names are organiser text) and needs nothing else: no script, no request
from the browser, no external resource. A closed competition shows its frozen figures
(``AppContext.board``).

It may be cached for a minute (``Cache-Control: public, max-age=60``) and framed only by this
server and the origins in the competition file's ``[embed] frame_ancestors``
(``Content-Security-Policy: frame-ancestors``; ``api.security_headers`` then adds no
``X-Frame-Options: DENY``).
"""

from __future__ import annotations

import html
import re
from enum import StrEnum
from importlib import resources
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.context import AppContext
from api.security_headers import page_policy

CACHE_CONTROL = "public, max-age=60"
SPARK_W, SPARK_H, SPARK_PAD = 300.0, 64.0, 4.0
# the days listed in the sparkline's text alternative (the latest ones)
ALT_DAYS = 31

_FIELD = re.compile(r"\{\{(\w+)\}\}")

_TEXT = {
    "sv": {
        "rank_label": "Placering",
        "reduction_label": "Minskning hittills",
        "of": "av",
        "unranked": "ej rankad",
        "actual_label": "Förbrukning per dag",
        "baseline_label": "Baslinje",
        "spark_title": "Förbrukning per dag mot baslinjen",
        "spark_total": "Hittills {actual} kWh mot {base} kWh i baslinjen",
        "spark_day": "{day}: {actual} av {base} kWh",
        "spark_none": "Inga data än",
        "as_of": "Uppdaterad {when}",
        "more": "Mer om kommunhuset",
        "closed": "Slutresultat: tävlingen är avslutad.",
        "synthetic": "Syntetiska data (demo).",
        "title": "{name} – {competition}",
    },
    "en": {
        "rank_label": "Rank",
        "reduction_label": "Reduction so far",
        "of": "of",
        "unranked": "not ranked",
        "actual_label": "Consumption per day",
        "baseline_label": "Baseline",
        "spark_title": "Consumption per day against the baseline",
        "spark_total": "So far {actual} kWh against {base} kWh baseline",
        "spark_day": "{day}: {actual} of {base} kWh",
        "spark_none": "No data yet",
        "as_of": "As of {when}",
        "more": "More about this building",
        "closed": "Final results: the competition is closed.",
        "synthetic": "Synthetic data (demo).",
        "title": "{name} – {competition}",
    },
}


class Lang(StrEnum):
    sv = "sv"
    en = "en"


def embed_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    template = resources.files("api").joinpath("pages/embed.html").read_text("utf-8")

    @router.get("/embed/{cid}/{sid}", response_class=HTMLResponse)
    def embed(cid: str, sid: str, lang: Lang = Lang.sv) -> HTMLResponse:
        """The site's standing as a small self-contained page to frame (404 for an unknown
        competition or site, as JSON)."""
        b = ctx.board(cid)
        i = ctx.site_index(b, sid)
        board = b.leaderboard("reduction")
        days = b.site_series(i, "day")
        page = render_embed(template, board, sid, days, lang.value)
        ancestors = " ".join(["'self'", *b.competition.embed.frame_ancestors])
        headers = {
            "Content-Security-Policy": page_policy(template, ancestors, connect=False),
            "Cache-Control": CACHE_CONTROL,
        }
        return HTMLResponse(page, headers=headers)

    return router


def render_embed(template: str, board: dict, sid: str, days: list[dict], lang: str) -> str:
    """The page for site ``sid`` from its competition's ``board`` (``Scoreboard.leaderboard``
    by reduction) and its ``days`` (``Scoreboard.site_series`` by day), every value escaped."""
    t = _TEXT[lang]
    entry = next(e for e in board["entries"] if e["site"] == sid)
    ranked = sum(1 for e in board["entries"] if e["rank"] > 0)
    rank = (
        f"{entry['rank']} <small>{t['of']} {ranked}</small>"
        if entry["rank"] > 0
        else f"– <small>{t['unranked']}</small>"
    )
    pct = entry["reduction_pct"]
    notes = []
    if board.get("closed"):
        notes.append(t["closed"])
    if board.get("synthetic"):
        notes.append(t["synthetic"])
    query = "?lang=en" if lang == "en" else ""
    values = {
        "lang": lang,
        "title": _esc(t["title"].format(name=entry["name"], competition=board["name"])),
        "name": _esc(entry["name"]),
        "municipality": _esc(entry["municipality"]),
        "rank_label": t["rank_label"],
        "rank": rank,
        "reduction_label": t["reduction_label"],
        "reduction": "–" if pct is None else _esc(f"{_num(pct, 1, lang)} %"),
        "sparkline": sparkline(days, lang),
        "actual_label": t["actual_label"],
        "baseline_label": t["baseline_label"],
        "notes": "".join(f'<p class="note">{_esc(n)}</p>' for n in notes),
        "as_of": _esc(t["as_of"].format(when=board["as_of"][:16].replace("T", " "))),
        "site_url": _esc(f"/sites/{quote(board['competition'], safe='')}/{quote(sid, safe='')}")
        + query,
        "more": t["more"],
    }
    return _FIELD.sub(lambda m: values[m.group(1)], template)


def sparkline(days: list[dict], lang: str) -> str:
    """An inline SVG of daily kWh (a line) against the baseline (dashed), with a ``<title>``
    and a ``<desc>`` giving the figures (the total, and the latest ``ALT_DAYS`` days)."""
    t = _TEXT[lang]
    values = [v for d in days for v in (d["actual_kwh"], d["baseline_kwh"]) if v is not None]
    top = max(values, default=0.0) or 1.0
    n = len(days)

    def x(k: int) -> float:
        return SPARK_PAD + (SPARK_W - 2 * SPARK_PAD) * (0.5 if n <= 1 else k / (n - 1))

    def y(v: float) -> float:
        return SPARK_PAD + (SPARK_H - 2 * SPARK_PAD) * (1.0 - v / (top * 1.05))

    def path(key: str) -> str:
        d, pen = [], False
        for k, day in enumerate(days):
            v = day[key]
            if v is None:
                pen = False
                continue
            d.append(f"{'L' if pen else 'M'}{x(k):.1f} {y(v):.1f}")
            pen = True
        return "".join(d)

    known = [d for d in days if d["actual_kwh"] is not None and d["baseline_kwh"] is not None]
    if known:
        total = t["spark_total"].format(
            actual=_num(sum(d["actual_kwh"] for d in known), 0, lang),
            base=_num(sum(d["baseline_kwh"] for d in known), 0, lang),
        )
        listed = [
            t["spark_day"].format(
                day=d["start"][:10],
                actual=_num(d["actual_kwh"], 0, lang),
                base=_num(d["baseline_kwh"], 0, lang),
            )
            for d in known[-ALT_DAYS:]
        ]
        desc = total + ". " + "; ".join(listed) + "."
    else:
        desc = t["spark_none"] + "."
    last = next(
        ((k, d["actual_kwh"]) for k, d in reversed(list(enumerate(days))) if d["actual_kwh"]),
        None,
    )
    dot = (
        ""
        if last is None
        else f'<circle class="dot" cx="{x(last[0]):.1f}" cy="{y(last[1]):.1f}" r="3"/>'
    )
    return (
        f'<svg id="sparkline" viewBox="0 0 {SPARK_W:g} {SPARK_H:g}" role="img" '
        'aria-labelledby="spark-title spark-desc">'
        f'<title id="spark-title">{_esc(t["spark_title"])}</title>'
        f'<desc id="spark-desc">{_esc(desc)}</desc>'
        f'<path class="baseline" d="{path("baseline_kwh")}"/>'
        f'<path class="actual" d="{path("actual_kwh")}"/>{dot}</svg>'
    )


def _num(v: float, dec: int, lang: str) -> str:
    """``v`` with ``dec`` decimals: a decimal comma in Swedish, thin-space thousands."""
    s = f"{abs(v):,.{dec}f}".replace(",", "\u2009")
    if lang == "sv":
        s = s.replace(".", ",")
    return ("−" if v < 0 and float(f"{abs(v):.{dec}f}") != 0 else "") + s


def _esc(text: str) -> str:
    return html.escape(text, quote=True)

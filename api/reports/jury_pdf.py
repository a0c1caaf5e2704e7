"""The jury report of a closed competition, drawn from its results bundle alone.

The cover names the competition, when it was closed and by whom, and the SHA-256 of
``results.json``; then both leagues' final standings, each site's figures with their
uncertainty and baseline fingerprint, the method and its parameters, held data with the
decisions, and the audit log. The PDF is reproducible (reportlab's invariant mode: no creation
time, a fixed document id): the same bundle gives the same bytes, so the API can serve the
bundle's files again and the manifest still holds.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from api.reports.jury_texts import jt
from api.reports.pdf_report import winansi
from api.reports.texts import num, pct, problem_text

AUDIT_ROWS_MAX = 200  # entries listed in the PDF; all are in results.json

_STYLES = getSampleStyleSheet()
_H1 = ParagraphStyle("jh1", parent=_STYLES["Title"], fontSize=18, leading=22, alignment=0)
_H2 = ParagraphStyle("jh2", parent=_STYLES["Heading2"], fontSize=12, spaceBefore=8)
_BODY = ParagraphStyle("jbody", parent=_STYLES["BodyText"], fontSize=9, leading=12)
_MONO = ParagraphStyle("jmono", parent=_BODY, fontName="Courier", fontSize=8)
_CELL = ParagraphStyle("jcell", parent=_BODY, fontSize=7, leading=9)
_GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f2f2")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def render_jury_pdf(bundle: dict, lang: str, bundle_sha256: str) -> bytes:
    """The jury report of ``bundle`` in ``lang`` (sv or en); ``bundle_sha256`` is printed on
    the cover and every page."""
    comp = bundle["competition"]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=40,
        rightMargin=40,
        topMargin=36,
        bottomMargin=36,
        title=winansi(f"{jt(lang, 'title')}: {comp['name']}"),
        author="Watt League",
        lang=lang,
        invariant=1,
    )
    story = _cover(bundle, lang, bundle_sha256)
    story += [PageBreak(), *_leagues(bundle, lang), PageBreak(), *_sites(bundle, lang)]
    story += [PageBreak(), *_method(bundle, lang), *_held(bundle, lang), *_audit(bundle, lang)]
    footer = _footer(bundle, lang, bundle_sha256)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _p(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(escape(winansi(text)), style)


def _table(rows: list[list], widths: list[float] | None = None) -> Table:
    cells = [[c if isinstance(c, Paragraph) else winansi(str(c)) for c in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(_GRID)
    return table


def _cover(bundle: dict, lang: str, sha: str) -> list:
    comp, closed = bundle["competition"], bundle["closed"]
    return [
        _p(jt(lang, "title"), _H1),
        _p(f"{comp['name']} ({comp['id']}), {comp['start']} – {comp['end']}", _H2),
        _p(jt(lang, "cover_intro", as_of=bundle["as_of"])),
        _p(jt(lang, "closed", at=closed["at"], by=closed["by"])),
        Spacer(1, 12),
        _p(jt(lang, "bundle_sha"), _H2),
        _p(sha, _MONO),
        Spacer(1, 8),
        _p(jt(lang, "competition_file")),
        _p(comp.get("file_sha256") or jt(lang, "none"), _MONO),
        _p(jt(lang, "model_sha")),
        _p(comp["model_sha256"], _MONO),
        Spacer(1, 12),
        _p(jt(lang, "verify_hint")),
    ]


def _leagues(bundle: dict, lang: str) -> list:
    story: list = []
    for league, title, value_key, digits in (
        ("reduction", "league_reduction", "reduction_pct", 2),
        ("kwh_per_m2", "league_intensity", "kwh_per_m2", 3),
    ):
        rows = [
            [
                jt(lang, "rank"),
                jt(lang, "site"),
                jt(lang, "municipality"),
                jt(lang, "reduction" if league == "reduction" else "kwh_per_m2"),
                jt(lang, "uncertainty"),
                jt(lang, "completeness"),
                jt(lang, "eligible"),
            ]
        ]
        for e in bundle["leaderboards"][league]:
            rows.append(
                [
                    e["rank"] or jt(lang, "not_ranked"),
                    _p(e["name"], _CELL),
                    _p(e["municipality"], _CELL),
                    num(e.get(value_key), digits, lang),
                    num(e.get("uncertainty_pct_points"), 2, lang),
                    pct(e.get("completeness"), lang),
                    jt(lang, "yes" if e.get("eligible") else "no"),
                ]
            )
        story += [_p(jt(lang, title), _H2), _table(rows, [28, 130, 115, 55, 55, 67, 40])]
    return story


def _sites(bundle: dict, lang: str) -> list:
    currency = bundle["method"]["currency"]
    story: list = [_p(jt(lang, "sites"), _H1)]
    for s in bundle["sites"]:
        rows = [
            [jt(lang, "figure"), jt(lang, "value")],
            [jt(lang, "rank"), f"{s['rank_reduction'] or '–'} / {s['rank_kwh_per_m2'] or '–'}"],
            [jt(lang, "baseline_kwh"), num(s.get("baseline_kwh"), 1, lang)],
            [jt(lang, "actual_kwh"), num(s.get("actual_kwh"), 1, lang)],
            [jt(lang, "saved_kwh"), num(s.get("saved_kwh"), 1, lang)],
            [jt(lang, "reduction"), num(s.get("reduction_pct"), 2, lang)],
            [jt(lang, "uncertainty_kwh"), num(s.get("uncertainty_kwh"), 1, lang)],
            [jt(lang, "uncertainty_pct"), num(s.get("uncertainty_pct_points"), 2, lang)],
            [jt(lang, "significant"), jt(lang, "yes" if s.get("significant") else "no")],
            [jt(lang, "kwh_per_m2"), num(s.get("kwh_per_m2"), 3, lang)],
            [jt(lang, "saved_money", currency=currency), num(s.get("saved_money"), 2, lang)],
            [jt(lang, "saved_co2"), num(s.get("saved_co2_kg"), 2, lang)],
            [jt(lang, "completeness"), pct(s.get("completeness"), lang)],
            [jt(lang, "hours_matched"), str(s.get("hours_matched"))],
            [jt(lang, "eligible"), jt(lang, "yes" if s.get("eligible") else "no")],
            [jt(lang, "area"), num(s.get("area_m2"), 0, lang)],
            [jt(lang, "target"), num(s.get("target_pct"), 1, lang)],
            [jt(lang, "method_used"), s.get("baseline_method") or ""],
            [jt(lang, "fingerprint"), _p(s.get("baseline_fingerprint") or "–", _CELL)],
        ]
        if s.get("baseline_problem"):
            rows.append([jt(lang, "baseline_problem"), problem_text(lang, s["baseline_problem"])])
        story += [_p(f"{s['name']} ({s['municipality']})", _H2), _table(rows, [200, 280])]
    return story


def _method(bundle: dict, lang: str) -> list:
    m = bundle["method"]
    baseline = ", ".join(f"{k} = {v}" for k, v in sorted(m["baseline"].items()))
    rows = [
        [jt(lang, "figure"), jt(lang, "value")],
        [jt(lang, "baseline_method"), baseline],
        [jt(lang, "history"), f"{m['history_first_day']} – {m['history_last_day']}"],
        [jt(lang, "min_completeness"), num(m["min_completeness_pct"], 1, lang)],
        [jt(lang, "price", currency=m["currency"]), num(m["price_per_kwh"], 2, lang)],
        [jt(lang, "co2_factor"), num(m["co2_g_per_kwh"], 1, lang)],
        [jt(lang, "confidence"), str(m["confidence_pct"])],
        [jt(lang, "hours_elapsed"), str(bundle["hours_elapsed"])],
    ]
    return [_p(jt(lang, "method"), _H2), _table(rows, [200, 280])]


def _held(bundle: dict, lang: str) -> list:
    story: list = [_p(jt(lang, "held"), _H2)]
    if not bundle["held"]:
        return [*story, _p(jt(lang, "held_none"))]
    rows = [
        [
            jt(lang, "site"),
            jt(lang, "held_kind"),
            jt(lang, "held_rows"),
            jt(lang, "held_span"),
            jt(lang, "held_status"),
            jt(lang, "held_decision"),
        ]
    ]
    for h in bundle["held"]:
        decision = (
            f"{h['decided_by']}, {h['decided']}: {h['reason']}" if h.get("decided_by") else ""
        )
        rows.append(
            [
                h["site"],
                f"{h['kind']} ({h['meter']})",
                h["rows"],
                _p(f"{h['first_ts']} – {h['last_ts']}", _CELL),
                jt(lang, h["status"]),
                _p(decision, _CELL),
            ]
        )
    return [*story, _table(rows, [60, 90, 35, 110, 50, 170])]


def _audit(bundle: dict, lang: str) -> list:
    audit = bundle["audit"]
    chain = (
        jt(lang, "chain_ok")
        if audit["chain_ok"]
        else jt(lang, "chain_broken", problems="; ".join(audit["chain_problems"]))
    )
    story: list = [
        _p(jt(lang, "audit"), _H2),
        _p(
            jt(
                lang,
                "audit_summary",
                count=audit["count"],
                chain=chain,
                head_id=audit["head_id"] if audit["head_id"] is not None else "–",
                head_sha=audit["head_entry_sha256"],
            )
        ),
    ]
    entries = audit["entries"]
    if not entries:
        return story
    rows = [
        [
            jt(lang, "audit_when"),
            jt(lang, "audit_who"),
            jt(lang, "audit_what"),
            jt(lang, "audit_subject"),
            jt(lang, "audit_reason"),
        ]
    ]
    for e in entries[-AUDIT_ROWS_MAX:]:
        rows.append(
            [
                _p(_ms_text(e["ts_ms"], bundle), _CELL),
                _p(e["who"], _CELL),
                e["action"],
                _p(e["subject"], _CELL),
                _p(e["reason"][:300], _CELL),
            ]
        )
    story.append(_table(rows, [85, 70, 80, 90, 190]))
    if len(entries) > AUDIT_ROWS_MAX:
        story.append(_p(jt(lang, "audit_more", n=len(entries) - AUDIT_ROWS_MAX)))
    return story


def _ms_text(ts_ms: int, bundle: dict) -> str:
    tz = ZoneInfo(bundle["competition"]["timezone"])
    return datetime.fromtimestamp(ts_ms / 1000.0, UTC).astimezone(tz).isoformat(timespec="seconds")


def _footer(bundle: dict, lang: str, sha: str):
    text = jt(lang, "footer", name=bundle["competition"]["name"], as_of=bundle["as_of"], sha=sha)

    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 6.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(40, 20, winansi(f"{text} · {doc.page}"))
        canvas.restoreState()

    return draw

"""The summary as a PDF a council member can read: headline savings with their uncertainty,
rank and rank history, charts, the annotated actions and how the baseline was built.

A site report is one site's pages; a competition report opens with the totals and the
leaderboard, then holds every site's pages. Fonts are reportlab's built-in Helvetica (WinAnsi
covers å ä ö), so nothing depends on fonts installed on the machine.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from api.reports import charts
from api.reports.figures import ReportFigures, SiteFigures
from api.reports.tables import method_rows
from api.reports.texts import MISSING, num, pct, problem_text, t, with_unit

_STYLES = getSampleStyleSheet()
_H1 = ParagraphStyle("h1", parent=_STYLES["Title"], fontSize=18, leading=22, alignment=0)
_H2 = ParagraphStyle("h2", parent=_STYLES["Heading2"], fontSize=12, spaceBefore=8)
_BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9, leading=12)
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8, leading=10)
_WARN = ParagraphStyle(
    "warn",
    parent=_BODY,
    textColor=colors.HexColor("#b71c1c"),
    borderColor=colors.HexColor("#b71c1c"),
    borderWidth=0.8,
    borderPadding=5,
    spaceBefore=4,
    spaceAfter=8,
)
_BIG = ParagraphStyle("big", parent=_BODY, fontSize=13, leading=16, fontName="Helvetica-Bold")
_GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f2f2")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


_ROWS = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
        ("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.lightgrey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _p(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    """A paragraph of plain text (escaped), limited to what WinAnsi Helvetica can draw."""
    return Paragraph(escape(winansi(text)), style)


def winansi(text: str) -> str:
    """``text`` with characters Helvetica (WinAnsi) lacks replaced, so none draws as a box."""
    text = text.replace("₂", "2").replace("−", "-").replace("\u202f", " ")
    return text.encode("cp1252", errors="replace").decode("cp1252")


def _kwh(v: float | None, lang: str) -> str:
    return with_unit(v, 1, "kWh", lang)


def _status(site: SiteFigures, fig: ReportFigures, lang: str) -> Paragraph | None:
    """What is missing, said plainly; None when the data is complete."""
    p = site.period
    name = site.detail["name"]
    if fig.hours_elapsed == 0:
        return _p(t(lang, "not_started", start=fig.competition["start"]), _WARN)
    if site.hours_measured == 0:
        meters = ", ".join(site.detail["meters"])
        return _p(t(lang, "no_data", name=name, meters=meters), _WARN)
    if not p["hours_matched"] and (
        p.get("baseline_problem") or not any(d["hours_baseline"] for d in site.days)
    ):
        codes = p.get("baseline_problem") or ["no_history"]
        return _p(t(lang, "no_baseline_problem", problems=problem_text(lang, codes)), _WARN)
    completeness = p["completeness"] or 0.0
    if completeness < 1.0:
        key = "partial_data" if not p["eligible"] else "partial_data_ok"
        style = _WARN if not p["eligible"] else _SMALL
        return _p(
            t(
                lang,
                key,
                pct=pct(completeness, lang),
                hours=p["hours_matched"],
                elapsed=fig.hours_elapsed,
                min=f"{fig.competition['min_completeness_pct']:g}",
            ),
            style,
        )
    return None


def _uncertainty_text(p: dict, fig: ReportFigures, lang: str) -> str:
    if p["uncertainty_pct_points"] is None or p["saved_kwh"] is None:
        return t(lang, "no_uncertainty")
    band = t(
        lang,
        "uncertainty",
        pct=num(p["uncertainty_pct_points"], 2, lang),
        kwh=num(p["uncertainty_kwh"], 1, lang),
        conf=fig.baseline["confidence_pct"],
    )
    verdict = t(lang, "significant") if p["significant"] else t(lang, "not_significant")
    return f"{band}; {verdict}."


def _headline(site: SiteFigures, fig: ReportFigures, lang: str) -> list:
    p = site.shown_period
    cur = fig.competition["currency"]
    cells = [
        (t(lang, "saved_kwh"), _kwh(p["saved_kwh"], lang)),
        (t(lang, "reduction_pct"), with_unit(p["reduction_pct"], 2, "%", lang)),
        (t(lang, "kwh_per_m2"), with_unit(p["kwh_per_m2"], 3, "kWh/m²", lang)),
        (t(lang, "saved_money"), with_unit(p["saved_money"], 2, cur, lang)),
        (t(lang, "saved_co2"), with_unit(p["saved_co2_kg"], 2, "kg", lang)),
    ]
    table = Table(
        [[_p(label, _SMALL) for label, _ in cells], [_p(v, _BIG) for _, v in cells]],
        colWidths=[103] * 5,
    )
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.6, colors.grey),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f1f8e9")),
            ]
        )
    )
    n = fig.sites_ranked
    rank = t(lang, "rank_of", rank=p["rank"], n=n) if p["rank"] else t(lang, "not_ranked")
    rank_m2 = (
        t(lang, "rank_of", rank=site.rank_kwh_per_m2, n=n)
        if site.rank_kwh_per_m2
        else t(lang, "not_ranked")
    )
    target = p["target_pct"]
    lines = [
        f"{t(lang, 'actual_kwh')} {_kwh(p['actual_kwh'], lang)}, {t(lang, 'baseline_kwh')} "
        f"{_kwh(p['baseline_kwh'], lang)}.",
        _uncertainty_text(p, fig, lang),
        f"{t(lang, 'rank')}: {rank} ({t(lang, 'rank_kwh_per_m2')}: {rank_m2}).",
        f"{t(lang, 'target')}: "
        + (f"{num(target, 1, lang)} %" if target else t(lang, "email_no_target_short"))
        + (
            f" – {t(lang, 'target_progress')} {pct(p['target_progress'], lang, 0)} %."
            if target and p["target_progress"] is not None
            else "."
        ),
        f"{t(lang, 'completeness')}: {pct(p['completeness'], lang)} % "
        f"({t(lang, 'hours_matched')}: {p['hours_matched']} / {fig.hours_elapsed}).",
    ]
    return [table, Spacer(1, 4)] + [_p(line) for line in lines]


def _charts(site: SiteFigures, fig: ReportFigures, lang: str) -> Table:
    grid = [
        [charts.daily_chart(site, lang), charts.weekly_chart(site, lang)],
        [
            charts.base_load_chart(site, lang),
            charts.rank_chart(site, fig.competition["sites"], lang),
        ],
    ]
    table = Table(grid, colWidths=[charts.WIDTH_PT + 8] * 2)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _traps(site: SiteFigures, lang: str) -> Table:
    tr = site.detail["energy_traps"]
    rows = [[t(lang, "parameter"), t(lang, "legend_before"), t(lang, "legend_during"), "%"]]
    for key, change, unit, digits in (
        ("night_base_kw", "night_base_change_pct", "kW", 2),
        ("weekend_base_kw", "weekend_base_change_pct", "kW", 2),
        ("after_hours_share_pct", "after_hours_share_change_pct_points", "%", 1),
    ):
        label = t(lang, "after_hours_share") if key == "after_hours_share_pct" else t(lang, key)
        rows.append(
            [
                winansi(label),
                with_unit(tr["baseline"][key], digits, unit, lang),
                with_unit(tr["competition"][key], digits, unit, lang),
                num(tr[change], 1, lang),
            ]
        )
    table = Table(rows, colWidths=[180, 100, 110, 60])
    table.setStyle(_GRID)
    return table


def _actions(site: SiteFigures, lang: str) -> list:
    actions = site.detail["actions"]
    if not actions:
        return [_p(t(lang, "no_actions"))]
    rows = []
    for a in actions:
        e = a["effect"]
        if e["change_pct_points"] is None:
            effect = t(lang, "action_effect_unknown")
        else:
            effect = t(
                lang,
                "action_effect",
                before=pct(e["ratio_before"], lang),
                after=pct(e["ratio_after"], lang),
                change=num(e["change_pct_points"], 2, lang),
            )
        rows.append(
            [
                a["ts"][:16].replace("T", " "),
                _p(f"{a['text']} ({a['author']})", _SMALL),
                _p(effect, _SMALL),
            ]
        )
    table = Table(rows, colWidths=[70, 215, 230])
    table.setStyle(_ROWS)
    return [table]


def _method(fig: ReportFigures, lang: str, site: SiteFigures | None = None) -> Table:
    pairs = method_rows(fig, lang, site.period.get("baseline_method") if site else None)
    if site is not None:  # how much data this site's figures rest on
        hours = sum(d["hours"] for d in site.days)
        with_baseline = sum(d["hours_baseline"] for d in site.days)
        p = site.period
        pairs = [
            *pairs[:-1],
            (t(lang, "hours_measured"), f"{site.hours_measured} / {hours}"),
            (t(lang, "hours_baseline"), f"{with_baseline} / {hours}"),
            (t(lang, "hours_matched"), f"{p['hours_matched']} / {fig.hours_elapsed}"),
            (t(lang, "completeness"), f"{pct(p['completeness'], lang)} %"),
            (t(lang, "baseline_fingerprint"), p.get("baseline_fingerprint") or MISSING),
            pairs[-1],
            ("", t(lang, "fingerprint_note")),
        ]
    else:  # every site's locked baseline, in leaderboard order
        pairs = [
            *pairs,
            (t(lang, "baseline_fingerprint"), ""),
            *((e["name"], e.get("baseline_fingerprint") or MISSING) for e in fig.leaderboard),
            ("", t(lang, "fingerprint_note")),
        ]
    rows = [[_p(k, _SMALL), _p(v, _SMALL)] for k, v in pairs]
    table = Table(rows, colWidths=[130, 385])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _site_story(site: SiteFigures, fig: ReportFigures, lang: str) -> list:
    d = site.detail
    c = fig.competition
    story = _heading(
        fig,
        lang,
        _p(t(lang, "report_site", name=d["name"]), _H1),
        _p(f"{d['municipality']} – {c['name']}", _BODY),
    )
    status = _status(site, fig, lang)
    if status is not None:
        story.append(status)
    story += [_p(t(lang, "headline"), _H2), *_headline(site, fig, lang)]
    story += [
        _p(t(lang, "charts"), _H2),
        _charts(site, fig, lang),
        Spacer(1, 4),
        _traps(site, lang),
    ]
    story += [CondPageBreak(60 * mm), _p(t(lang, "actions"), _H2), *_actions(site, lang)]
    story += [KeepTogether([_p(t(lang, "method"), _H2), _method(fig, lang, site)])]
    return story


def _total_uncertainty_text(fig: ReportFigures, lang: str) -> str:
    tot = fig.totals
    if tot.get("uncertainty_kwh") is None:
        return t(lang, "no_uncertainty").capitalize() + "."
    text = t(
        lang,
        "uncertainty",
        pct=num(tot["uncertainty_pct_points"], 2, lang),
        kwh=num(tot["uncertainty_kwh"], 1, lang),
        conf=fig.baseline["confidence_pct"],
    )
    tail = "" if tot["significant"] else "; " + t(lang, "not_significant")
    return f"{text} ({t(lang, 'uncertainty_sum')}){tail}."


def _heading(fig: ReportFigures, lang: str, *title) -> list:
    """A report's first lines: ``title``, the period and how far it has run, and the
    synthetic-data notice of a demo competition."""
    c = fig.competition
    period = t(
        lang, "period", start=c["start"], end=c["end"], as_of=fig.as_of, hours=fig.hours_elapsed
    )
    story = [*title, _p(period, _SMALL)]
    if c["synthetic"]:
        story.append(_p(t(lang, "synthetic"), _WARN))
    return story


def _competition_story(fig: ReportFigures, lang: str) -> list:
    c, tot = fig.competition, fig.totals
    story = _heading(fig, lang, _p(t(lang, "report_competition", name=c["name"]), _H1))
    if fig.hours_elapsed == 0:
        story.append(_p(t(lang, "not_started", start=c["start"]), _WARN))
    story += [
        _p(t(lang, "totals"), _H2),
        _p(
            f"{t(lang, 'saved_kwh')}: {_kwh(tot['saved_kwh'], lang)}; "
            f"{t(lang, 'reduction_pct')}: {with_unit(tot['reduction_pct'], 2, '%', lang)}; "
            f"{t(lang, 'saved_money')}: "
            f"{with_unit(tot['saved_money'], 2, c['currency'], lang)}; "
            f"{t(lang, 'saved_co2')}: {with_unit(tot['saved_co2_kg'], 2, 'kg', lang)}.",
            _BIG,
        ),
        _p(
            f"{t(lang, 'actual_kwh')} {_kwh(tot['actual_kwh'], lang)}, {t(lang, 'baseline_kwh')} "
            f"{_kwh(tot['baseline_kwh'], lang)}. {t(lang, 'sites_with_data')}: "
            f"{tot['sites_with_data']} / {c['sites']}."
        ),
        _p(_total_uncertainty_text(fig, lang)),
        _p(t(lang, "leaderboard"), _H2),
    ]
    rows = [
        [
            t(lang, "rank"),
            t(lang, "site"),
            t(lang, "saved_kwh") + " (kWh)",
            t(lang, "reduction_pct") + " (%)",
            "±",
            "kWh/m²",
            t(lang, "completeness") + " (%)",
        ]
    ]
    for e in fig.leaderboard:
        known = e["hours_matched"] > 0  # else the API's 0.0 kWh is a sum over nothing
        rows.append(
            [
                str(e["rank"]) if e["rank"] else "–",
                _p(f"{e['name']} ({e['municipality']})", _SMALL),
                num(e["saved_kwh"] if known else None, 1, lang),
                num(e["reduction_pct"], 2, lang)
                + ("" if e["significant"] or e["reduction_pct"] is None else " *"),
                num(e["uncertainty_pct_points"], 2, lang),
                num(e["kwh_per_m2"], 3, lang),
                pct(e["completeness"], lang),
            ]
        )
    table = Table(
        [[_p(winansi(str(x)), _SMALL) if isinstance(x, str) else x for x in r] for r in rows],
        colWidths=[48, 177, 70, 65, 40, 50, 65],
        repeatRows=1,
    )
    table.setStyle(_GRID)
    story += [table, _p("* " + t(lang, "not_significant"), _SMALL)]
    story += [_p(t(lang, "method"), _H2), _method(fig, lang)]
    return story


def render_pdf(fig: ReportFigures, lang: str) -> bytes:
    """The competition report (totals, leaderboard, every site), or the sites' own pages."""
    buf = io.BytesIO()
    single = fig.per_site and len(fig.sites) == 1
    title = (
        t(lang, "report_site", name=fig.sites[0].detail["name"])
        if single
        else t(lang, "report_competition", name=fig.competition["name"])
    )
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=40,
        rightMargin=40,
        topMargin=36,
        bottomMargin=36,
        title=winansi(title),
        author="Watt League",
        lang=lang,
    )
    story: list = [] if fig.per_site else _competition_story(fig, lang)
    for site in fig.sites:
        if story:
            story.append(PageBreak())
        story += _site_story(site, fig, lang)
    doc.build(story, onFirstPage=_footer(fig, lang), onLaterPages=_footer(fig, lang))
    return buf.getvalue()


def _footer(fig: ReportFigures, lang: str):
    def draw(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.grey)
        text = f"Watt League – {fig.competition['name']} – {fig.as_of} – {doc.page}"
        canvas.drawString(40, 20, winansi(text))
        canvas.restoreState()

    return draw

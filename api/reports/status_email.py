"""The weekly status report of one site (the 2011 town halls' "lägesrapport"): an HTML e-mail
body and the same as plain text, this week against last week and against the target.

Weeks are ISO weeks of the competition's local days; a week's figures are the sums over its
hours with both a reading and a baseline (``figures.week_sums``), so a week with a gap is
still compared fairly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape

from api.reports.figures import ReportFigures, SiteFigures
from api.reports.texts import num, t, with_unit

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class WeekError(ValueError):
    """A week that is malformed, outside the competition or not begun."""


@dataclass(frozen=True)
class StatusEmail:
    subject: str
    html: str
    text: str
    week: str


def week_key(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def _as_of_day(fig: ReportFigures) -> date:
    return datetime.fromisoformat(fig.as_of).date()


def _complete(fig: ReportFigures, week: dict) -> bool:
    """All of the week's competition days have passed (the week's last competition day is
    before the day of ``as_of``)."""
    monday = date.fromisoformat(week["first"]) - timedelta(
        days=date.fromisoformat(week["first"]).weekday()
    )
    last = min(monday + timedelta(days=6), date.fromisoformat(fig.competition["end"]))
    return last < _as_of_day(fig)


def default_week(fig: ReportFigures) -> str:
    """The latest complete week (the past week on a Monday morning); while no week is complete,
    the current one; before the competition, its first week (``status_email`` then says when
    the competition begins)."""
    weeks = fig.sites[0].weeks
    complete = [w["week"] for w in weeks if _complete(fig, w)]
    if complete:
        return complete[-1]
    if weeks:
        return weeks[-1]["week"]
    return week_key(date.fromisoformat(fig.competition["start"]))


def check_week(fig: ReportFigures, week: str) -> str:
    """``week`` ("YYYY-Www") if it is a competition week that has begun, else a WeekError."""
    m = _WEEK.match(week)
    if not m:
        raise WeekError(f"week {week!r} is not an ISO week; use YYYY-Www, e.g. 2011-W10")
    try:
        monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise WeekError(f"week {week!r} does not exist in {m[1]}") from None
    start, end = (
        date.fromisoformat(fig.competition["start"]),
        date.fromisoformat(fig.competition["end"]),
    )
    if monday + timedelta(days=6) < start or monday > end:
        raise WeekError(
            f"week {week} is outside the competition ({week_key(start)} – {week_key(end)})"
        )
    if not any(w["week"] == week for w in fig.sites[0].weeks):
        raise WeekError(f"week {week} has not begun yet (status at {fig.as_of})")
    return week


def _week(site: SiteFigures, key: str) -> dict | None:
    return next((w for w in site.weeks if w["week"] == key), None)


def _previous(key: str) -> str:
    y, w = int(key[:4]), int(key[-2:])
    return week_key(date.fromisocalendar(y, w, 1) - timedelta(days=7))


def status_email(fig: ReportFigures, lang: str, week: str | None = None) -> StatusEmail:
    """The status report of ``fig``'s (first) site for ``week`` (default: ``default_week``)."""
    site = fig.sites[0]
    if week is None and not site.weeks:
        return _not_started(fig, lang)
    key = check_week(fig, week or default_week(fig))
    this, last = _week(site, key), _week(site, _previous(key))
    name = site.detail["name"]
    n_week = int(key[-2:])
    rows = [
        (t(lang, "actual_kwh"), "actual_kwh", 1, "kWh"),
        (t(lang, "baseline_kwh"), "baseline_kwh", 1, "kWh"),
        (t(lang, "saved_kwh"), "saved_kwh", 1, "kWh"),
        (t(lang, "reduction_pct"), "reduction_pct", 2, "%"),
    ]

    def cell(w: dict | None, k: str, d: int, unit: str) -> str:
        return with_unit(None if w is None else w[k], d, unit, lang)

    table = [(label, cell(this, k, d, u), cell(last, k, d, u)) for label, k, d, u in rows]
    table.append(
        (
            t(lang, "hours_matched"),
            t(lang, "email_hours", hours=this["hours_matched"], total=this["hours"]),
            t(lang, "email_hours", hours=last["hours_matched"], total=last["hours"])
            if last
            else "–",
        )
    )
    notes = []
    if not _complete(fig, this):
        notes.append(t(lang, "email_partial_week", as_of=fig.as_of))
    if not this["hours_matched"]:
        notes.append(t(lang, "email_no_data", name=name))
    if last is None:
        notes.append(t(lang, "email_no_last_week"))
    elif this["reduction_pct"] is not None and last["reduction_pct"] is not None:
        diff = round(this["reduction_pct"] - last["reduction_pct"], 2)
        if diff > 0:
            notes.append(t(lang, "email_better", pp=num(diff, 2, lang)) + ".")
        elif diff < 0:
            notes.append(t(lang, "email_worse", pp=num(-diff, 2, lang)) + ".")
        else:
            notes.append(t(lang, "email_same").capitalize() + ".")
    target = site.period["target_pct"]
    if not target:
        notes.append(t(lang, "email_no_target"))
    elif this["reduction_pct"] is not None:
        gap = round(target - this["reduction_pct"], 2)
        notes.append(
            t(lang, "email_target_met", target=num(target, 1, lang))
            if gap <= 0
            else t(lang, "email_target_missed", target=num(target, 1, lang), gap=num(gap, 2, lang))
        )
    p = site.shown_period
    rank = (
        t(lang, "rank_of", rank=p["rank"], n=fig.sites_ranked)
        if p["rank"]
        else t(lang, "not_ranked")
    )
    so_far = [
        (t(lang, "saved_kwh"), with_unit(p["saved_kwh"], 1, "kWh", lang)),
        (t(lang, "reduction_pct"), with_unit(p["reduction_pct"], 2, "%", lang)),
        (t(lang, "saved_money"), with_unit(p["saved_money"], 2, fig.competition["currency"], lang)),
        (t(lang, "rank"), rank),
    ]
    actions = [
        f"{a['ts'][:10]}: {a['text']}"
        for a in site.detail["actions"]
        if week_key(date.fromisoformat(a["ts"][:10])) == key
    ]
    subject = t(lang, "email_subject", week=n_week, name=name)
    intro = t(lang, "email_intro", name=name, week=n_week, first=this["first"], last=this["last"])
    heads = ("", t(lang, "email_this_week"), t(lang, "email_last_week"))
    text = _text(subject, intro, heads, table, notes, so_far, actions, fig, lang)
    html = _html(subject, intro, heads, table, notes, so_far, actions, fig, lang)
    return StatusEmail(subject=subject, html=html, text=text, week=key)


def _not_started(fig: ReportFigures, lang: str) -> StatusEmail:
    """Before the competition's first hour: when it begins, instead of figures."""
    start = date.fromisoformat(fig.competition["start"])
    key = week_key(start)
    name = fig.sites[0].detail["name"]
    subject = t(lang, "email_subject_not_started", name=name)
    intro = t(lang, "email_not_started", start=start.isoformat(), week=int(key[-2:]))
    lines = [subject, "=" * len(subject), "", intro]
    if fig.competition["synthetic"]:
        lines += ["", t(lang, "synthetic")]
    lines += ["", t(lang, "email_footer"), ""]
    e = escape
    html = "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{lang}"><head><meta charset="utf-8"><title>{e(subject)}</title></head>',
            '<body style="font-family:Arial,Helvetica,sans-serif;color:#222;max-width:640px">',
            f'<h1 style="font-size:20px;color:#2e7d32">{e(subject)}</h1>',
            f"<p>{e(intro)}</p>",
            *(
                [f'<p style="color:#b71c1c">{e(t(lang, "synthetic"))}</p>']
                if fig.competition["synthetic"]
                else []
            ),
            f'<p style="color:#666">{e(t(lang, "email_footer"))}</p>',
            "</body></html>",
            "",
        ]
    )
    return StatusEmail(subject=subject, html=html, text="\n".join(lines), week=key)


def _text(subject, intro, heads, table, notes, so_far, actions, fig, lang) -> str:
    width = max(len(r[0]) for r in table) + 2
    lines = [subject, "=" * len(subject), "", intro, ""]
    lines.append(f"{heads[0]:<{width}}{heads[1]:>22}{heads[2]:>22}")
    lines += [f"{a:<{width}}{b:>22}{c:>22}" for a, b, c in table]
    lines += ["", *notes, "", t(lang, "email_so_far")]
    lines += [f"  {k}: {v}" for k, v in so_far]
    if actions:
        lines += ["", t(lang, "email_actions")] + [f"  - {a}" for a in actions]
    if fig.competition["synthetic"]:
        lines += ["", t(lang, "synthetic")]
    lines += ["", t(lang, "email_footer"), ""]
    return "\n".join(lines)


def _html(subject, intro, heads, table, notes, so_far, actions, fig, lang) -> str:
    e = escape
    td = 'style="padding:4px 10px;border-bottom:1px solid #ddd;text-align:right"'
    th = 'style="padding:4px 10px;border-bottom:2px solid #333;text-align:right"'
    rows = "".join(
        f'<tr><td style="padding:4px 10px;border-bottom:1px solid #ddd">{e(a)}</td>'
        f"<td {td}><b>{e(b)}</b></td><td {td}>{e(c)}</td></tr>"
        for a, b, c in table
    )
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8"><title>{e(subject)}</title></head>',
        '<body style="font-family:Arial,Helvetica,sans-serif;color:#222;max-width:640px">',
        f'<h1 style="font-size:20px;color:#2e7d32">{e(subject)}</h1>',
        f"<p>{e(intro)}</p>",
        '<table style="border-collapse:collapse;font-size:14px">',
        f'<tr><th style="padding:4px 10px;border-bottom:2px solid #333"></th>'
        f"<th {th}>{e(heads[1])}</th><th {th}>{e(heads[2])}</th></tr>",
        rows,
        "</table>",
        *(f"<p>{e(n)}</p>" for n in notes),
        f'<h2 style="font-size:16px">{e(t(lang, "email_so_far"))}</h2><ul>',
        *(f"<li>{e(k)}: <b>{e(v)}</b></li>" for k, v in so_far),
        "</ul>",
    ]
    if actions:
        parts += [f'<h2 style="font-size:16px">{e(t(lang, "email_actions"))}</h2><ul>']
        parts += [f"<li>{e(a)}</li>" for a in actions] + ["</ul>"]
    if fig.competition["synthetic"]:
        parts.append(f'<p style="color:#b71c1c">{e(t(lang, "synthetic"))}</p>')
    parts += [f'<p style="color:#666">{e(t(lang, "email_footer"))}</p>', "</body></html>", ""]
    return "\n".join(parts)

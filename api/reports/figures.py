"""Every figure a summary shows, collected once from a Scoreboard's public views.

All formats (CSV, XLSX, PDF, e-mail) render these plain dicts and lists, so they show the same
numbers as the API: values come from ``leaderboard``, ``site_detail`` and ``site_series``
already rounded as the API rounds them; figures the API has no endpoint for (weekly sums,
competition totals) are summed here from those values and rounded once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from api.scoreboard import Scoreboard
from scoring.uncertainty import DEFAULT_CONFIDENCE

KWH_DIGITS = 1  # as the leaderboard's saved_kwh/actual_kwh/baseline_kwh
PCT_DIGITS = 2  # as the leaderboard's reduction_pct


@dataclass(frozen=True)
class SiteFigures:
    """One site: ``detail`` is the API's site view (``period`` is its leaderboard entry)."""

    detail: dict
    rank_kwh_per_m2: int
    days: list[dict]  # date, actual_kwh, baseline_kwh, hours, hours_measured, hours_baseline
    weeks: list[dict]  # see ``week_sums``

    @property
    def period(self) -> dict:
        return self.detail["period"]

    @property
    def shown_period(self) -> dict:
        """``period`` for text: without a matched hour the API's sums (0.0 over nothing) are
        shown as unknown."""
        if self.period["hours_matched"]:
            return self.period
        unknown = ("saved_kwh", "actual_kwh", "baseline_kwh", "saved_money", "saved_co2_kg")
        return {**self.period, **dict.fromkeys(unknown)}

    @property
    def hours_measured(self) -> int:
        return sum(d["hours_measured"] for d in self.days)


@dataclass(frozen=True)
class ReportFigures:
    competition: dict  # id, name, timezone, start, end, currency, price, CO₂ factor, …
    baseline: dict  # method, weeks, period_start/end, holidays in the period, confidence_pct
    as_of: str
    hours_elapsed: int
    leaderboard: list[dict]  # the API's reduction league entries, in rank order
    sites_ranked: int
    totals: dict  # competition sums over the sites' leaderboard values
    sites: list[SiteFigures]  # the sites the report is about (all, or one)
    per_site: bool  # a report about sites on their own, not the whole competition


def collect(board: Scoreboard, site_indices: list[int] | None = None) -> ReportFigures:
    """The figures of ``site_indices`` (default: every site) of ``board``'s competition."""
    info = board.competition.competition
    lb = board.leaderboard("reduction")
    intensity = {e["site"]: e["rank"] for e in board.leaderboard("kwh_per_m2")["entries"]}
    indices = list(range(len(board.site_ids))) if site_indices is None else site_indices
    sites = []
    for i in indices:
        detail = board.site_detail(i)
        days = _days(board.site_series(i, "day"), board.site_series(i, "hour"))
        sites.append(
            SiteFigures(
                detail=detail,
                rank_kwh_per_m2=intensity[detail["site"]],
                days=days,
                weeks=week_sums(days),
            )
        )
    first, last = baseline_days(board)
    grid = board.grid
    holiday_days = sorted({int(d) for d in grid.day_ordinal[grid.holiday].tolist()})
    return ReportFigures(
        competition={
            "id": info.id,
            "name": info.name,
            "timezone": info.timezone,
            "start": info.start.isoformat(),
            "end": info.end.isoformat(),
            "currency": info.currency,
            "price_per_kwh": info.price_per_kwh,
            "co2_g_per_kwh": info.co2_g_per_kwh,
            "min_completeness_pct": info.min_completeness_pct,
            "synthetic": info.synthetic,
            "holidays_country": info.holidays,
            "sites": len(board.site_ids),
            "areas_m2": {s.id: s.area_m2 for s in board.competition.sites},
        },
        baseline={
            "method": info.baseline.method,
            "weeks": info.baseline.weeks,
            "period_start": first.isoformat(),
            "period_end": last.isoformat(),
            "holidays": [date.fromordinal(d).isoformat() for d in holiday_days],
            "confidence_pct": round(DEFAULT_CONFIDENCE * 100),
        },
        as_of=lb["as_of"],
        hours_elapsed=int(lb["hours_elapsed"]),
        leaderboard=lb["entries"],
        sites_ranked=sum(1 for e in lb["entries"] if e["rank"]),
        totals=competition_totals(lb["entries"]),
        sites=sites,
        per_site=site_indices is not None,
    )


def baseline_days(board: Scoreboard) -> tuple[date, date]:
    """First and last local day of the history the competition's baseline method reads (the
    days the scoreboard reads for it)."""
    return board.method.history_days(board.period)


def competition_totals(entries: list[dict]) -> dict:
    """Sums of the sites' leaderboard figures (sites without a figure add nothing; None when
    no site has one).

    reduction_pct = 100 x saved / baseline over the summed sites, as each site's own.
    """

    def total(key: str, digits: int) -> float | None:
        # a site without a matched hour has no figure (the API's 0.0 there is a sum over nothing)
        values = [e[key] for e in entries if e[key] is not None and e["hours_matched"]]
        return round(sum(values), digits) if values else None

    saved, base = total("saved_kwh", KWH_DIGITS), total("baseline_kwh", KWH_DIGITS)
    return {
        "saved_kwh": saved,
        "actual_kwh": total("actual_kwh", KWH_DIGITS),
        "baseline_kwh": base,
        "reduction_pct": round(100.0 * saved / base, PCT_DIGITS)
        if saved is not None and base
        else None,
        "saved_money": total("saved_money", 2),
        "saved_co2_kg": total("saved_co2_kg", 2),
        "sites_with_data": sum(1 for e in entries if e["hours_matched"]),
        **_total_uncertainty(entries, saved, base),
    }


def _total_uncertainty(entries: list[dict], saved: float | None, base: float | None) -> dict:
    """The competition's savings uncertainty: the sites' own (ASHRAE Guideline 14, same
    confidence) added in quadrature, as the sites' baselines are fitted independently."""
    parts = [
        e["uncertainty_kwh"]
        for e in entries
        if e.get("uncertainty_kwh") is not None and e["hours_matched"]
    ]
    if not parts or saved is None or not base:
        return {"uncertainty_kwh": None, "uncertainty_pct_points": None, "significant": None}
    kwh = math.sqrt(sum(u * u for u in parts))
    return {
        "uncertainty_kwh": round(kwh, KWH_DIGITS),
        "uncertainty_pct_points": round(100.0 * kwh / base, PCT_DIGITS),
        "significant": abs(saved) > kwh,
    }


def _days(day_series: list[dict], hour_series: list[dict]) -> list[dict]:
    """The API's daily values with the hours behind each day (from the hourly series)."""
    counts: dict[str, list[int]] = {}
    for h in hour_series:
        c = counts.setdefault(h["start"][:10], [0, 0, 0])
        c[0] += 1
        c[1] += h["actual_kwh"] is not None
        c[2] += h["baseline_kwh"] is not None
    hourly: dict[str, list[dict]] = {}
    for h in hour_series:
        hourly.setdefault(h["start"][:10], []).append(h)
    out = []
    for d in day_series:
        day = d["start"][:10]
        hours, measured, with_base = counts.get(day, [0, 0, 0])
        matched = [
            h
            for h in hourly.get(day, [])
            if h["actual_kwh"] is not None and h["baseline_kwh"] is not None
        ]
        out.append(
            {
                "date": day,
                "actual_kwh": d["actual_kwh"],
                "baseline_kwh": d["baseline_kwh"],
                "hours": hours,
                "hours_measured": measured,
                "hours_baseline": with_base,
                # over hours with both a reading and a baseline, for fair weekly sums
                "matched_actual_kwh": sum(h["actual_kwh"] for h in matched),
                "matched_baseline_kwh": sum(h["baseline_kwh"] for h in matched),
                "hours_matched": len(matched),
            }
        )
    return out


def week_sums(days: list[dict]) -> list[dict]:
    """ISO-week sums of ``days`` over the hours with both a reading and a baseline.

    Returns dicts: week ("2011-W10"), first/last day, days, hours, hours_matched,
    actual_kwh, baseline_kwh, saved_kwh [kWh, 1 decimal] and reduction_pct [%, 2 decimals]
    (None without matched hours).
    """
    weeks: dict[str, dict] = {}
    for d in days:
        y, w, _ = date.fromisoformat(d["date"]).isocalendar()
        key = f"{y}-W{w:02d}"
        wk = weeks.setdefault(
            key,
            {
                "week": key,
                "first": d["date"],
                "days": 0,
                "hours": 0,
                "hours_matched": 0,
                "actual": 0.0,
                "baseline": 0.0,
            },
        )
        wk["last"] = d["date"]
        wk["days"] += 1
        wk["hours"] += d["hours"]
        wk["hours_matched"] += d["hours_matched"]
        wk["actual"] += d["matched_actual_kwh"]
        wk["baseline"] += d["matched_baseline_kwh"]
    out = []
    for wk in weeks.values():
        actual, base = wk.pop("actual"), wk.pop("baseline")
        has = wk["hours_matched"] > 0
        a = round(actual, KWH_DIGITS) if has else None
        b = round(base, KWH_DIGITS) if has else None
        # from the rounded sums, so that baseline - actual = saved as shown
        saved = round(b - a, KWH_DIGITS) if has else None
        pct = round(100.0 * (base - actual) / base, PCT_DIGITS) if has and base > 0 else None
        out.append(
            {**wk, "actual_kwh": a, "baseline_kwh": b, "saved_kwh": saved, "reduction_pct": pct}
        )
    return out

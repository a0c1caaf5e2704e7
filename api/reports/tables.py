"""The three tables of a summary (totals, daily values, method and parameters) as rows of
plain values, shared by the CSV and XLSX writers so both hold the same cells.

A column is (key, header text, decimals): the decimals are the API's, so a spreadsheet shows
the number exactly as the API serves it. None stays None (an empty cell).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.reports.figures import ReportFigures
from api.reports.texts import t
from scoring import baselines


@dataclass(frozen=True)
class Table:
    headers: list[str]
    decimals: list[int | None]  # per column; None for text
    rows: list[list[object]]


# leaderboard entry key, text key, unit, decimals
_TOTAL_COLUMNS: list[tuple[str, str, str, int | None]] = [
    ("rank", "rank", "", None),
    ("rank_kwh_per_m2", "rank_kwh_per_m2", "", None),
    ("site", "site", "id", None),
    ("name", "site", "", None),
    ("municipality", "municipality", "", None),
    ("area_m2", "area_m2", "", None),
    ("saved_kwh", "saved_kwh", "kWh", 1),
    ("reduction_pct", "reduction_pct", "%", 2),
    ("uncertainty_pct_points", "uncertainty_pct_points", "±", 2),
    ("uncertainty_kwh", "uncertainty_kwh", "± kWh", 1),
    ("significant", "significant_col", "", None),
    ("actual_kwh", "actual_kwh", "kWh", 1),
    ("baseline_kwh", "baseline_kwh", "kWh", 1),
    ("kwh_per_m2", "kwh_per_m2", "kWh/m²", 3),
    ("target_pct", "target", "%", 1),
    ("saved_money", "saved_money", "{currency}", 2),
    ("saved_co2_kg", "saved_co2", "kg", 2),
    ("completeness", "completeness", "0–1", 4),
    ("hours_matched", "hours_matched", "", None),
    ("eligible", "eligible", "", None),
    ("baseline_fingerprint", "baseline_fingerprint", "", None),
]

_EXTRA_TEXTS = {
    "sv": {"uncertainty_pct_points": "Osäkerhet (procentenheter)", "uncertainty_kwh": "Osäkerhet"},
    "en": {
        "uncertainty_pct_points": "Uncertainty (percentage points)",
        "uncertainty_kwh": "Uncertainty",
    },
}


def _header(lang: str, key: str, text_key: str, unit: str, currency: str) -> str:
    label = _EXTRA_TEXTS[lang].get(text_key) or t(lang, text_key)
    if key == "name":
        return label
    if key == "site":
        return f"{label} (id)"
    unit = unit.format(currency=currency)
    if not unit or unit in label or key == "uncertainty_pct_points":
        return label
    return f"{label} ({unit})"


def _cell(value: object, lang: str) -> object:
    if isinstance(value, bool):
        return t(lang, "yes") if value else t(lang, "no")
    return value


def totals_table(fig: ReportFigures, lang: str) -> Table:
    """One row per site of the report (rank order), and for a whole competition a last row
    with the competition's sums."""
    currency = fig.competition["currency"]
    headers = [_header(lang, k, tk, u, currency) for k, tk, u, _ in _TOTAL_COLUMNS]
    decimals = [d for *_, d in _TOTAL_COLUMNS]
    wanted = {s.detail["site"]: s for s in fig.sites}
    rows = []
    for entry in fig.leaderboard:
        site = wanted.get(entry["site"])
        if site is None:
            continue
        values = {
            **entry,
            "rank": entry["rank"] or None,
            "rank_kwh_per_m2": site.rank_kwh_per_m2 or None,
            "area_m2": fig.competition["areas_m2"][entry["site"]],
        }
        rows.append([_cell(values[k], lang) for k, *_ in _TOTAL_COLUMNS])
    if not fig.per_site:
        tot = fig.totals
        values = {k: None for k, *_ in _TOTAL_COLUMNS}
        values.update({k: tot[k] for k in values if k in tot})
        values["name"] = t(lang, "totals")
        values["area_m2"] = sum(fig.competition["areas_m2"].values())
        rows.append([_cell(values[k], lang) for k, *_ in _TOTAL_COLUMNS])
    return Table(headers=headers, decimals=decimals, rows=rows)


def daily_table(fig: ReportFigures, lang: str) -> Table:
    """The API's daily actual and baseline of each site with the hours behind them."""
    headers = [
        f"{t(lang, 'site')} (id)",
        t(lang, "date"),
        f"{t(lang, 'actual_kwh')} (kWh)",
        f"{t(lang, 'baseline_kwh')} (kWh)",
        t(lang, "hours"),
        t(lang, "hours_measured"),
        t(lang, "hours_baseline"),
    ]
    rows = [
        [
            s.detail["site"],
            d["date"],
            d["actual_kwh"],
            d["baseline_kwh"],
            d["hours"],
            d["hours_measured"],
            d["hours_baseline"],
        ]
        for s in fig.sites
        for d in s.days
    ]
    return Table(headers=headers, decimals=[None, None, 3, 3, None, None, None], rows=rows)


def _g(value: float, lang: str) -> str:
    """A parameter as written in the competition file; decimal comma in Swedish."""
    text = f"{value:g}"
    return text.replace(".", ",") if lang == "sv" else text


def method_rows(
    fig: ReportFigures, lang: str, site_method: str | None = None
) -> list[tuple[str, str]]:
    """(parameter, value) pairs: how the figures were made (``site_method``: the method of the
    one site reported, when it differs from the competition's, e.g. a site scored on bills)."""
    c, b = fig.competition, fig.baseline
    method = site_method or b["method"]
    methods = {e.get("baseline_method") for e in fig.leaderboard} - {None, method}
    if site_method is None and methods:  # some sites scored otherwise (on bills)
        method = f"{method} + {', '.join(sorted(methods))}"
    return [
        (t(lang, "competition"), f"{c['name']} ({c['id']})"),
        (t(lang, "as_of"), fig.as_of),
        (t(lang, "hours"), str(fig.hours_elapsed)),
        (t(lang, "method_name"), method),
        (
            t(lang, "method"),
            " ".join(
                baselines.by_name(m.strip()).summary[lang].format(weeks=b["weeks"])
                for m in re.split(r"[+,]", method)
            ),
        ),
        (t(lang, "baseline_period"), f"{b['period_start']} – {b['period_end']}"),
        (t(lang, "holiday_calendar"), c["holidays_country"]),
        (t(lang, "holidays"), ", ".join(b["holidays"]) or t(lang, "holidays_none")),
        (t(lang, "min_completeness"), f"{_g(c['min_completeness_pct'], lang)} %"),
        (t(lang, "confidence"), f"{b['confidence_pct']} %"),
        (t(lang, "price"), f"{_g(c['price_per_kwh'], lang)} {c['currency']}/kWh"),
        (t(lang, "co2_factor"), f"{_g(c['co2_g_per_kwh'], lang)} g CO2/kWh"),
        ("", t(lang, "method_notes")),
    ]


def method_table(fig: ReportFigures, lang: str) -> Table:
    rows = [list(r) for r in method_rows(fig, lang)]
    return Table(headers=[t(lang, "parameter"), t(lang, "value")], decimals=[None, None], rows=rows)

"""The PDF's charts as reportlab drawings: actual against baseline by day and by week, night
and weekend base load before and during the competition, and the rank day by day.

Actual consumption is drawn in ``ACTUAL_COLOUR`` (green), the baseline in grey; a day without
readings has no actual bar (not a zero bar, which would read as a large saving).
"""

from __future__ import annotations

from datetime import date

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors

from api.reports.figures import SiteFigures
from api.reports.texts import t

ACTUAL_COLOUR = colors.HexColor("#2e7d32")
BASELINE_COLOUR = colors.HexColor("#9e9e9e")
RANK_COLOUR = colors.HexColor("#1565c0")
WIDTH_PT, HEIGHT_PT = 250.0, 165.0
_FONT = "Helvetica"


def _frame(title: str) -> Drawing:
    d = Drawing(WIDTH_PT, HEIGHT_PT)
    d.add(String(0, HEIGHT_PT - 10, title, fontName="Helvetica-Bold", fontSize=8))
    return d


def _empty(d: Drawing, lang: str) -> Drawing:
    d.add(
        String(
            WIDTH_PT / 2,
            HEIGHT_PT / 2,
            t(lang, "no_chart_data"),
            fontName=_FONT,
            fontSize=9,
            textAnchor="middle",
            fillColor=colors.grey,
        )
    )
    return d


def _legend(d: Drawing, items: list[tuple[colors.Color, str]]) -> None:
    legend = Legend()
    legend.x, legend.y = 40, HEIGHT_PT - 20
    legend.columnMaximum = 1
    legend.alignment = "right"
    legend.fontName, legend.fontSize = _FONT, 7
    legend.boxAnchor = "nw"
    legend.deltax = 95
    legend.dx = legend.dy = 6
    legend.colorNamePairs = items
    d.add(legend)


def _bars(
    d: Drawing,
    series: list[list[float | None]],
    names: list[str],
    labels: list[str],
    series_colours: list[colors.Color],
    label_every: int = 1,
) -> None:
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 28, WIDTH_PT - 50, HEIGHT_PT - 62
    chart.data = [tuple(v for v in s) for s in series]
    chart.categoryAxis.categoryNames = [
        lab if i % label_every == 0 else "" for i, lab in enumerate(labels)
    ]
    chart.categoryAxis.labels.fontName = _FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 0 if label_every > 1 or len(labels) <= 8 else 90
    chart.categoryAxis.labels.boxAnchor = "n" if chart.categoryAxis.labels.angle == 0 else "e"
    chart.valueAxis.labels.fontName = _FONT
    chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#e0e0e0")
    chart.barSpacing = 0.5
    chart.groupSpacing = 2 if len(labels) > 20 else 6
    for i, c in enumerate(series_colours):
        chart.bars[i].fillColor = c
        chart.bars[i].strokeColor = None
    d.add(chart)
    _legend(d, list(zip(series_colours, names, strict=True)))


def daily_chart(site: SiteFigures, lang: str) -> Drawing:
    d = _frame(t(lang, "chart_daily"))
    days = site.days
    if not any(x["hours_measured"] or x["hours_baseline"] for x in days):
        return _empty(d, lang)
    base = [x["baseline_kwh"] if x["hours_baseline"] else None for x in days]
    actual = [x["actual_kwh"] if x["hours_measured"] else None for x in days]
    labels = [x["date"][5:] for x in days]
    every = max(1, len(days) // 8)
    _bars(
        d,
        [base, actual],
        [t(lang, "legend_baseline"), t(lang, "legend_actual")],
        labels,
        [BASELINE_COLOUR, ACTUAL_COLOUR],
        every if len(days) > 8 else 1,
    )
    return d


def weekly_chart(site: SiteFigures, lang: str) -> Drawing:
    d = _frame(t(lang, "chart_weekly"))
    weeks = [w for w in site.weeks if w["hours_matched"]]
    if not weeks:
        return _empty(d, lang)
    # a week with fewer days (the competition's first or last, or the current one) says so
    labels = [
        t(lang, "week_n", n=int(w["week"][-2:])) + ("" if w["days"] == 7 else t(lang, "part"))
        for w in weeks
    ]
    _bars(
        d,
        [[w["baseline_kwh"] for w in weeks], [w["actual_kwh"] for w in weeks]],
        [t(lang, "legend_baseline"), t(lang, "legend_actual")],
        labels,
        [BASELINE_COLOUR, ACTUAL_COLOUR],
        max(1, len(weeks) // 8),
    )
    return d


def base_load_chart(site: SiteFigures, lang: str) -> Drawing:
    d = _frame(t(lang, "chart_base_load"))
    traps = site.detail["energy_traps"]
    before, during = traps["baseline"], traps["competition"]
    keys = ("night_base_kw", "weekend_base_kw")
    if all(before[k] is None and during[k] is None for k in keys):
        return _empty(d, lang)
    _bars(
        d,
        [[before[k] for k in keys], [during[k] for k in keys]],
        [t(lang, "legend_before"), t(lang, "legend_during")],
        [t(lang, "night_short"), t(lang, "weekend")],
        [BASELINE_COLOUR, ACTUAL_COLOUR],
    )
    return d


def rank_chart(site: SiteFigures, sites_total: int, lang: str) -> Drawing:
    d = _frame(t(lang, "chart_rank"))
    history = site.detail["rank_history"]
    points = [(i, h["rank"]) for i, h in enumerate(history) if h["rank"]]
    if not points:
        return _empty(d, lang)
    # one line per unbroken run of ranked days: an unranked day is a gap, not rank 0
    runs: list[list[tuple[int, int]]] = []
    for p in points:
        if runs and p[0] == runs[-1][-1][0] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 40, 28, WIDTH_PT - 50, HEIGHT_PT - 50
    plot.data = runs
    for i in range(len(runs)):
        plot.lines[i].strokeColor = RANK_COLOUR
        plot.lines[i].strokeWidth = 1.5
        plot.lines[i].symbol = makeMarker("FilledCircle", size=2.5, fillColor=RANK_COLOUR)
    plot.joinedLines = 1
    n = max(sites_total, 2)
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = 1, n
    step = max(1, round(n / 6))
    plot.yValueAxis.valueSteps = sorted({1, n, *range(step, n, step)})
    plot.yValueAxis.reverseDirection = 1  # rank 1 at the top
    plot.yValueAxis.labels.fontName = _FONT
    plot.yValueAxis.labels.fontSize = 6
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, max(len(history) - 1, 1)
    step = max(1, len(history) // 6)
    plot.xValueAxis.valueSteps = list(range(0, len(history), step))
    plot.xValueAxis.labelTextFormat = lambda v: _short_day(history, v)
    plot.xValueAxis.labels.fontName = _FONT
    plot.xValueAxis.labels.fontSize = 6
    d.add(plot)
    return d


def _short_day(history: list[dict], v: float) -> str:
    i = round(v)
    if 0 <= i < len(history):
        return date.fromisoformat(history[i]["date"]).strftime("%m-%d")
    return ""

"""Fixed-width text frames for character LED/LCD signs (e.g. 32x4, 20x4, 16x2).

Pure function from the site state the api serves (``/api/competitions/{cid}/sites/{sid}``)
plus the leaderboard's top three to exactly ``rows`` lines of exactly ``columns`` characters.
"""

from __future__ import annotations

TEXTS = {
    "sv": {
        "now": "Nu",
        "today": "Idag",
        "saved": "Sparat",
        "target": "Mål",
        "of": "av",
        "stale": "!",
        "no_data": "inga data",
    },
    "en": {
        "now": "Now",
        "today": "Today",
        "saved": "Saved",
        "target": "Target",
        "of": "of",
        "stale": "!",
        "no_data": "no data",
    },
}


def _number(value: float | None, digits: int, lang: str) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "sv" else text


def _pct(value: float | None, lang: str) -> str:
    return "–" if value is None else f"{_number(value, 1, lang)}%"


def _line(left: str, right: str, columns: int) -> str:
    """``left`` and ``right`` on one line of exactly ``columns`` characters."""
    room = columns - len(right) - 1
    if room < 1:
        return (left + " " + right)[:columns].ljust(columns)
    return left[:room].ljust(room) + " " + right


def render_text_frame(site: dict, top: list[dict], columns: int, rows: int, lang: str) -> list[str]:
    """Lines of a character sign showing one town hall's live state.

    Parameters
    ----------
    site : dict
        Site state as served by the api: ``name``, ``live_power_kw``, ``stale``, ``today``
        (``reduction_pct``), ``period`` (``rank``, ``reduction_pct``, ``target_pct``) and
        ``sites_ranked``.
    top : list of dict
        Leaderboard entries in rank order (``municipality``/``name``, ``reduction_pct``).
    columns, rows : int
        Size of the sign [characters].
    lang : {"sv", "en"}
    """
    t = TEXTS[lang]
    period = site["period"]
    rank = period.get("rank") or 0
    rank_text = f"#{rank} {t['of']} {site['sites_ranked']}" if rank else "#–"
    short_name = site["name"].replace(" kommunhus", "").replace(" stadshus", "")
    power = site.get("live_power_kw")
    power_text = f"{t['now']} {_number(power, 1, lang)} kW"
    if site.get("stale"):
        power_text += t["stale"]
    lines = [
        _line(short_name, rank_text, columns),
        _line(
            power_text, f"{t['today']} {_pct(site['today'].get('reduction_pct'), lang)}", columns
        ),
        _line(
            f"{t['saved']} {_pct(period.get('reduction_pct'), lang)}",
            f"{t['target']} {_number(period.get('target_pct'), 0, lang)}%",
            columns,
        ),
    ]
    podium = " ".join(
        f"{e['rank']}.{e['name'].split()[0][:8]} {_number(e['reduction_pct'], 0, lang)}"
        for e in top[:3]
        if e.get("rank")
    )
    lines.append(podium[:columns].ljust(columns) if podium else t["no_data"].ljust(columns))
    lines = lines[:rows]
    lines += [" " * columns] * (rows - len(lines))
    return [line[:columns].ljust(columns) for line in lines]

"""What a display shows: the site state it needs, its texts in Swedish and English, and rotation.

Every renderer (character signs, pixel matrices, AWTRIX, WLED) starts from a `DisplayState`
built from what the api serves: ``site_detail()`` of `api.scoreboard.Scoreboard`, the
leaderboard's top three and, for bar charts, the site's hourly series.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

STALE_AFTER_S = 900.0  # the scoreboard's default [s]

TEXTS = {
    "sv": {
        "now": "Nu",
        "today": "Idag",
        "saved": "Sparat",
        "saved_short": "Spar",
        "target": "Mål",
        "target_short": "Mål",
        "of": "av",
        "stale": "!",
        "no_data": "inga data",
        "top": "Topp 3",
        "reached": "Målet nått!",
        "to_go": "Kvar",
        "points": "%-enh",
    },
    "en": {
        "now": "Now",
        "today": "Today",
        "saved": "Saved",
        "saved_short": "Save",
        "target": "Target",
        "target_short": "Goal",
        "of": "of",
        "stale": "!",
        "no_data": "no data",
        "top": "Top 3",
        "reached": "Target reached!",
        "to_go": "To go",
        "points": "pts",
    },
}

_SUFFIXES = (" kommunhus", " stadshus", " rådhus", " kommun", " stad")
_ASCII = str.maketrans({"–": "-", "—": "-", "−": "-", "’": "'", "·": "-", "→": ">"})


@dataclass(frozen=True)
class Podium:
    rank: int
    name: str
    reduction_pct: float | None


@dataclass(frozen=True)
class DisplayState:
    """The figures one display shows, all optional except the name.

    Attributes
    ----------
    name : str
        Short site name (``Älvdalens`` for ``Älvdalens kommunhus``), printable characters only.
    live_power_kw : float or None
        Live power [kW].
    stale : bool
        The site's meters have been silent too long.
    today_reduction_pct : float or None
        Today so far against its baseline [%].
    reduction_pct, target_pct : float or None
        Reduction over the competition so far and the site's target [%].
    target_progress : float or None
        ``reduction_pct / target_pct`` [1]; 1 is the target reached.
    rank, sites_ranked : int
        Rank in the reduction league (0: not ranked) of ``sites_ranked``.
    top : tuple of Podium
        The leaderboard's top three.
    recent_kw : tuple of float
        Mean power of the last complete hours, oldest first [kW].
    """

    name: str
    live_power_kw: float | None = None
    stale: bool = False
    today_reduction_pct: float | None = None
    reduction_pct: float | None = None
    target_pct: float | None = None
    target_progress: float | None = None
    rank: int = 0
    sites_ranked: int = 0
    top: tuple[Podium, ...] = ()
    recent_kw: tuple[float, ...] = ()

    @property
    def meets_target(self) -> bool:
        """Saving at least the target (an unknown saving does not)."""
        if self.reduction_pct is None:
            return False
        return self.reduction_pct >= (self.target_pct or 0.0)


def printable(text: str) -> str:
    """``text`` in NFC with control, format and combining characters made spaces or dropped.

    Each remaining character takes one cell of a sign, so ``len`` is its width.
    """
    out = []
    for ch in unicodedata.normalize("NFC", str(text)):
        category = unicodedata.category(ch)
        if category[0] == "M":
            continue
        out.append(" " if category[0] in "CZ" else ch)
    return "".join(out)


def to_ascii(text: str) -> str:
    """One ASCII character per character of ``text`` (å→a, Ö→O, é→e, unknown → ``?``).

    Keeps the length, so a frame that fits keeps fitting. HD44780-type character LCDs have
    no å ä ö in their ROM (A00 has ä and ö at 0xE1 and 0xEF, but no å): use ``ascii = true``
    or map these codes in the sign's driver.
    """
    out = []
    for ch in text.translate(_ASCII):
        if ch.isascii():
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)[:1]
        out.append(base if base.isascii() and base.isprintable() else "?")
    return "".join(out)


def short_name(name: str) -> str:
    """``Älvdalens kommunhus`` → ``Älvdalens``; printable characters only."""
    name = printable(name).strip()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)].strip()
    return name or "?"


def _finite(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def state_from_api(
    site: dict,
    top: list[dict],
    series: list[dict] | None = None,
    stale_after_s: float | None = None,
    recent_hours: int = 16,
) -> DisplayState:
    """The display state from the api's site detail, leaderboard entries and hourly series.

    Parameters
    ----------
    site : dict
        ``Scoreboard.site_detail()``: ``name``, ``live_power_kw``, ``stale``, ``last_reading``,
        ``as_of``, ``today.reduction_pct``, ``period`` (``rank``, ``reduction_pct``,
        ``target_pct``, ``target_progress``) and ``sites_ranked``.
    top : list of dict
        Leaderboard entries in rank order; the first three ranked ones are shown.
    series : list of dict, optional
        ``Scoreboard.site_series(i, "hour")``: ``start`` (local ISO time) and ``actual_kwh``.
    stale_after_s : float, optional
        Meter silence after which the data is stale [s]; default: the api's ``stale`` flag.
    recent_hours : int
        How many complete hours go into ``recent_kw``.
    """
    period = site.get("period") or {}
    stale = bool(site.get("stale"))
    if stale_after_s is not None:
        stale = _silent_s(site.get("last_reading"), site.get("as_of")) > stale_after_s
    target_pct = _finite(period.get("target_pct", site.get("target_pct")))
    reduction = _finite(period.get("reduction_pct"))
    progress = _finite(period.get("target_progress"))
    if progress is None and reduction is not None and target_pct:
        progress = reduction / target_pct
    podium = tuple(
        Podium(
            int(e["rank"]),
            short_name(e.get("name") or e.get("site") or "?"),
            _finite(e.get("reduction_pct")),
        )
        for e in top
        if e.get("rank")
    )[:3]
    return DisplayState(
        name=short_name(site.get("name") or site.get("site") or "?"),
        live_power_kw=_finite(site.get("live_power_kw")),
        stale=stale,
        today_reduction_pct=_finite((site.get("today") or {}).get("reduction_pct")),
        reduction_pct=reduction,
        target_pct=target_pct,
        target_progress=progress,
        rank=int(period.get("rank") or 0),
        sites_ranked=int(site.get("sites_ranked") or 0),
        top=podium,
        recent_kw=_recent_kw(series or [], site.get("as_of"), recent_hours),
    )


def _silent_s(last_reading: str | None, as_of: str | None) -> float:
    """Seconds from the last reading to ``as_of`` (infinite without a reading) [s]."""
    if not last_reading or not as_of:
        return math.inf
    return (datetime.fromisoformat(as_of) - datetime.fromisoformat(last_reading)).total_seconds()


def _recent_kw(series: list[dict], as_of: str | None, hours: int) -> tuple[float, ...]:
    """Mean power of the last ``hours`` complete hours (an hour's kWh is its mean kW)."""
    if hours <= 0:
        return ()
    end = datetime.fromisoformat(as_of) if as_of else None
    complete = [
        h
        for h in series
        if end is None or datetime.fromisoformat(h["start"]) + timedelta(hours=1) <= end
    ]
    return tuple(_finite(h.get("actual_kwh")) or 0.0 for h in complete[-hours:])


def page_index(now_s: float, page_s: float, n_pages: int) -> int:
    """The page every display of a kind shows at ``now_s``: ``int(now_s // page_s) % n_pages``.

    Parameters
    ----------
    now_s : float
        Unix time [s].
    page_s : float
        How long each page is shown [s].
    n_pages : int
        Number of pages (at least 1).
    """
    return int(now_s // page_s) % max(n_pages, 1)


def number(value: float | None, digits: int, lang: str) -> str:
    """``value`` with ``digits`` decimals and the language's decimal mark; ``–`` if unknown."""
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace(".", ",") if lang == "sv" else text


def pct(value: float | None, lang: str, digits: int = 1) -> str:
    return "–" if value is None else f"{number(value, digits, lang)}%"


def progress_pct(state: DisplayState) -> int | None:
    """Progress towards the target, 0–100 [%] (None when unknown)."""
    if state.target_progress is None:
        return None
    return round(100 * min(max(state.target_progress, 0.0), 1.0))

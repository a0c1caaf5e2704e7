"""AWTRIX 3 (Ulanzi TC001, 32x8) custom-app payloads.

The payload is published to ``[PREFIX]/custom/<app>`` over MQTT (or POSTed to
``http://[IP]/api/custom?name=<app>``); field names as in Blueforcer/awtrix3 ``docs/api.md``.

It is a JSON *array* of three custom apps, which the clock names ``<app>0``, ``<app>1`` and
``<app>2`` and rotates through: (0) the site's figures with a progress bar towards the target,
(1) the top three, (2) a bar chart of the last hours' power. They are separate apps because
the firmware draws a ``bar`` chart over the whole 32x8 panel: in one app with ``text`` the
chart hides the text (older firmware draws no text at all). The array always has three apps,
so no app is left behind when there is nothing to chart.

With ``lifetime`` and ``lifetimeMode: 1`` the clock frames an app in red when no update came
within ``lifetime`` seconds: it marks stale data even when the server itself is down.
"""

from __future__ import annotations

from display.content import TEXTS, DisplayState, number, pct, progress_pct, to_ascii
from display.matrix_frame import status_colour

MAX_BARS = 16  # bar values without an icon
MAX_BARS_WITH_ICON = 11
LIFETIME_UPDATES = 3  # the lifetime outlasts this many update intervals


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def awtrix_text(state: DisplayState, lang: str) -> str:
    """``8,0 kW  Idag 5,3%  Sparat 20,0%  #1 av 3`` (``!`` after kW when stale)."""
    t = TEXTS[lang]
    parts = [f"{number(state.live_power_kw, 1, lang)} kW" + (t["stale"] if state.stale else "")]
    parts.append(f"{t['today']} {pct(state.today_reduction_pct, lang)}")
    parts.append(f"{t['saved']} {pct(state.reduction_pct, lang)}")
    if state.rank:
        parts.append(f"#{state.rank} {t['of']} {state.sites_ranked}")
    return "  ".join(parts)


def awtrix_top_text(state: DisplayState, lang: str) -> str:
    """``Topp 3: 1.Älvdalens 20,0%  2.Piteå 10,0%  3.Mora 5,0%``."""
    t = TEXTS[lang]
    if not state.top:
        return f"{t['top']}: {t['no_data']}"
    podium = "  ".join(f"{p.rank}.{p.name} {pct(p.reduction_pct, lang)}" for p in state.top)
    return f"{t['top']}: {podium}"


def awtrix_payload(
    state: DisplayState,
    lang: str,
    *,
    icon: str | None = None,
    duration_s: float = 10.0,
    lifetime_s: float = 900.0,
    update_s: float | None = None,
    ascii: bool = False,
) -> list[dict]:
    """The custom apps for one site: figures, top three, power chart.

    Parameters
    ----------
    state : DisplayState
    lang : {"sv", "en"}
    icon : str, optional
        Icon id or file name on the clock (LaMetric ids work once downloaded to it).
    duration_s : float
        How long the clock shows the app in its loop [s].
    lifetime_s : float
        Without an update for this long the clock marks the apps stale (red frame) [s].
    update_s : float, optional
        How often the display client sends the apps [s]; the lifetime is raised to at least
        ``LIFETIME_UPDATES`` times this, so a slow rotation is not taken for a lost server.
    ascii : bool
        Transliterate the text (å→a).

    Returns
    -------
    list of dict
        Three apps, each with ``color`` (hex), ``duration``, ``lifetime``, ``lifetimeMode`` 1
        and ``icon`` when configured: (0) ``text`` with the figures and ``progress`` (0–100
        towards the target, omitted when unknown); (1) ``text`` with the top three; (2)
        ``bar``, the last hours' power in 0.1 kW (at most 16 values, 11 with an icon), or a
        ``text`` saying there is no data yet.
    """
    lifetime_s = max(lifetime_s, LIFETIME_UPDATES * (update_s or 0.0))
    common: dict = {
        "color": hex_colour(status_colour(state)),
        "duration": max(1, round(duration_s)),
        "lifetime": max(1, round(lifetime_s)),
        "lifetimeMode": 1,
    }
    if icon:
        common["icon"] = icon

    def text(value: str) -> str:
        return to_ascii(value) if ascii else value

    figures = {"text": text(awtrix_text(state, lang)), **common}
    progress = progress_pct(state)
    if progress is not None:
        figures["progress"] = progress
    top = {"text": text(awtrix_top_text(state, lang)), **common}
    bars = state.recent_kw[-(MAX_BARS_WITH_ICON if icon else MAX_BARS) :]
    if bars:
        chart = {"bar": [max(0, round(kw * 10)) for kw in bars], **common}
    else:
        chart = {"text": text(f"kW: {TEXTS[lang]['no_data']}"), **common}
    return [figures, top, chart]


def awtrix_topic(prefix: str, app: str) -> str:
    """``[PREFIX]/custom/<app>``."""
    return f"{prefix}/custom/{app}"

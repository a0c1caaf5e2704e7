"""AWTRIX 3 (Ulanzi TC001, 32x8) custom-app payloads.

The payload is published to ``[PREFIX]/custom/<app>`` over MQTT (or POSTed to
``http://[IP]/api/custom?name=<app>``); field names as in Blueforcer/awtrix3 ``docs/api.md``.
The clock scrolls the text itself and rotates its apps, so one payload carries every figure.
With ``lifetime`` and ``lifetimeMode: 1`` the clock frames the app in red when no update came
within ``lifetime`` seconds: it marks stale data even when the server itself is down.
"""

from __future__ import annotations

from display.content import TEXTS, DisplayState, number, pct, progress_pct, to_ascii
from display.matrix_frame import status_colour

MAX_BARS = 16  # bar values without an icon
MAX_BARS_WITH_ICON = 11


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


def awtrix_payload(
    state: DisplayState,
    lang: str,
    *,
    icon: str | None = None,
    duration_s: float = 10.0,
    lifetime_s: float = 900.0,
    ascii: bool = False,
) -> dict:
    """The custom-app JSON for one site.

    Parameters
    ----------
    state : DisplayState
    lang : {"sv", "en"}
    icon : str, optional
        Icon id or file name on the clock (LaMetric ids work once downloaded to it).
    duration_s : float
        How long the clock shows the app in its loop [s].
    lifetime_s : float
        Without an update for this long the clock marks the app stale (red frame) [s].
    ascii : bool
        Transliterate the text (å→a).

    Returns
    -------
    dict
        ``text``, ``color`` (hex), ``progress`` (0–100 towards the target, omitted when
        unknown), ``bar`` (the last hours' power in 0.1 kW, at most 16 values, 11 with an
        icon), ``duration``, ``lifetime``, ``lifetimeMode`` 1 and ``icon`` when configured.
    """
    text = awtrix_text(state, lang)
    payload: dict = {
        "text": to_ascii(text) if ascii else text,
        "color": hex_colour(status_colour(state)),
        "duration": max(1, round(duration_s)),
        "lifetime": max(1, round(lifetime_s)),
        "lifetimeMode": 1,
    }
    if icon:
        payload["icon"] = icon
    progress = progress_pct(state)
    if progress is not None:
        payload["progress"] = progress
    bars = state.recent_kw[-(MAX_BARS_WITH_ICON if icon else MAX_BARS) :]
    if bars:
        payload["bar"] = [max(0, round(kw * 10)) for kw in bars]
    return payload


def awtrix_topic(prefix: str, app: str) -> str:
    """``[PREFIX]/custom/<app>``."""
    return f"{prefix}/custom/{app}"

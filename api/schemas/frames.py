"""Bodies of ``GET /api/displays/{did}/frame`` in its JSON formats (``json``, ``awtrix``,
``wled``); ``txt``, ``png`` and ``rgb565`` are described where the route declares them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.scores import Closed


class TextFrame(BaseModel):
    """``format=json``: the lines of a character sign's current page."""

    display: str
    site: str
    kind: str = Field(description="the display's kind (text, matrix, awtrix, wled)")
    columns: int = Field(description="characters per line")
    rows: int = Field(description="lines")
    lines: list[str] = Field(description="exactly `rows` lines of exactly `columns` characters")
    page: int = Field(description="the page shown, 0-based")
    pages: int = Field(description="pages the display rotates through")
    stale: bool = Field(description="a meter of the site has been silent over stale_after_s")
    as_of: str = Field(description="the figures' time, local ISO-8601")
    closed: Closed | None = Field(None, description="only once the competition is closed")


class AwtrixApp(BaseModel):
    """``format=awtrix``: one AWTRIX 3 custom app (the answer is an array of three)."""

    text: str | None = Field(None, description="apps 0 and 1: the figures, the top three")
    progress: int | None = Field(None, description="app 0: progress towards the target [0..100]")
    bar: list[int] | None = Field(None, description="app 2: last hours' power [0.1 kW a step]")
    color: str = Field(description="#RRGGBB: green at the target, amber below, red when stale")
    duration: int = Field(description="seconds the clock shows the app [s]")
    lifetime: int = Field(description="seconds without an update before the clock marks it [s]")
    lifetimeMode: int = Field(description="1: mark stale data rather than remove the app")
    icon: str | None = Field(None, description="icon id or name, when configured")


class WledSegment(BaseModel):
    id: int
    fx: int = Field(description="effect: 122 is scrolling text")
    n: str = Field(description="the text scrolled")
    col: list[list[int]] = Field(description="three RGB colours [0..255]")
    sx: int = Field(description="scroll speed")


class WledState(BaseModel):
    """``format=wled``: a WLED JSON state with one scrolling-text segment."""

    on: bool
    bri: int = Field(description="brightness [1..255]")
    seg: list[WledSegment]

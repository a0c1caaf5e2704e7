"""Terminal panel: the text frame in a box, with a line saying since when it is stale."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from display.client import Frame

STALE_TEXT = {"sv": "ingen anslutning sedan {hhmm}", "en": "no connection since {hhmm}"}
WAITING_TEXT = {"sv": "ingen anslutning till servern", "en": "no connection to the server"}


class TerminalPanel:
    format = "txt"

    def __init__(self, out: TextIO | None = None, lang: str = "sv", clear: bool | None = None):
        self.out, self.lang = out, lang  # None: sys.stdout as it is when drawing
        self.clear = clear

    def _draw(self, lines: list[str], status: str | None) -> None:
        width = max([len(line) for line in lines] + [1])
        text = ["┌" + "─" * width + "┐"]
        text += ["│" + line.ljust(width) + "│" for line in lines]
        text.append("└" + "─" * width + "┘")
        if status:
            text.append(status)
        out = self.out or sys.stdout
        clear = out.isatty() if self.clear is None else self.clear
        out.write(("\x1b[H\x1b[2J" if clear else "") + "\n".join(text) + "\n")
        out.flush()

    def show(self, frame: Frame) -> None:
        self._draw(frame.body.decode("utf-8").rstrip("\n").split("\n"), None)

    def show_stale(self, frame: Frame | None, since_s: float) -> None:
        hhmm = datetime.fromtimestamp(since_s).strftime("%H:%M")  # the Pi's local time
        status = "! " + STALE_TEXT.get(self.lang, STALE_TEXT["en"]).format(hhmm=hhmm)
        lines = frame.body.decode("utf-8").rstrip("\n").split("\n") if frame else []
        self._draw(lines or [WAITING_TEXT.get(self.lang, WAITING_TEXT["en"])], status)

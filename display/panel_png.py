"""PNG panel: writes ``<out>/<display>.png`` (atomically) for a panel driver to pick up; while
the server is unreachable the last frame is written with a stale mark (a red frame around it
and a red corner), and ``<display>.json`` says since when."""

from __future__ import annotations

import io
import os
from pathlib import Path

import orjson
from PIL import Image

from display.client import Frame

STALE_RGB = (255, 0, 0)


def stale_marked(png: bytes) -> bytes:
    """The PNG with a one-pixel red frame and a 3x3 red top-right corner."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = image.size
    px = image.load()
    for x in range(w):
        px[x, 0] = px[x, h - 1] = STALE_RGB
    for y in range(h):
        px[0, y] = px[w - 1, y] = STALE_RGB
    for x in range(max(0, w - 3), w):
        for y in range(min(3, h)):
            px[x, y] = STALE_RGB
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class PngPanel:
    format = "png"

    def __init__(self, out_dir: str | Path, display_id: str) -> None:
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.png = self.dir / f"{display_id}.png"
        self.status = self.dir / f"{display_id}.json"
        self.frames_written = 0

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # a reader never sees half a file

    def show(self, frame: Frame) -> None:
        self._write(self.png, frame.body)
        self._write(self.status, orjson.dumps({"stale": False, "fetched_s": frame.fetched_s}))
        self.frames_written += 1

    def show_stale(self, frame: Frame | None, since_s: float) -> None:
        if frame is not None:
            self._write(self.png, stale_marked(frame.body))
        self._write(self.status, orjson.dumps({"stale": True, "offline_since_s": since_s}))

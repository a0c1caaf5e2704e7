"""Device panels: an AWTRIX 3 clock (MQTT or its HTTP API) and a WLED controller (HTTP).

AWTRIX needs nothing while the server is away: the payload's ``lifetime`` makes the clock frame
the app in red by itself. WLED has no such mark, so the client sends the last text with a
leading "! " and the segment in red.
"""

from __future__ import annotations

import httpx
import orjson

from display.client import Frame
from display.publish import PublishError, post_wled, publish_awtrix

STALE_WLED_RGB = [255, 0, 0]


class AwtrixPanel:
    format = "awtrix"

    def __init__(
        self,
        app: str,
        mqtt_url: str | None = None,
        prefix: str | None = None,
        device_url: str | None = None,
    ) -> None:
        if (mqtt_url is None) == (device_url is None):
            raise ValueError("give either --mqtt URL with --prefix P, or --device-url")
        if mqtt_url is not None and not prefix:
            raise ValueError("--mqtt needs --prefix (the clock's MQTT prefix)")
        self.app, self.mqtt_url, self.prefix, self.device_url = app, mqtt_url, prefix, device_url
        self.http = httpx.Client(timeout=10.0)

    def show(self, frame: Frame) -> None:
        if self.mqtt_url is not None:
            publish_awtrix(self.mqtt_url, self.prefix, self.app, frame.body)
            return
        try:
            r = self.http.post(
                self.device_url, content=frame.body, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError as exc:
            msg = f"cannot reach the AWTRIX clock at {self.device_url}: {exc}"
            raise PublishError(msg) from None
        if r.status_code >= 400:
            raise PublishError(f"the AWTRIX clock answered HTTP {r.status_code}")

    def show_stale(self, frame: Frame | None, since_s: float) -> None:
        """Nothing to send: the clock marks the app itself when its lifetime runs out."""


class WledPanel:
    format = "wled"

    def __init__(self, device_url: str) -> None:
        url = device_url.rstrip("/")
        self.base = url.removesuffix("/json/state")  # post_wled adds it
        self.http = httpx.Client(timeout=5.0)

    def show(self, frame: Frame) -> None:
        post_wled(self.base, frame.body, client=self.http)

    def show_stale(self, frame: Frame | None, since_s: float) -> None:
        if frame is None:
            return
        state = orjson.loads(frame.body)
        for seg in state.get("seg", []):
            if isinstance(seg.get("n"), str) and not seg["n"].startswith("! "):
                seg["n"] = "! " + seg["n"]
            if isinstance(seg.get("col"), list) and seg["col"]:
                seg["col"][0] = STALE_WLED_RGB
        post_wled(self.base, state, client=self.http)

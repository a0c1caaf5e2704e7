"""Home Assistant MQTT discovery: each site's sensors published for Home Assistant (issue 21).

For every competition with ``[home_assistant]`` in its file, ``serve`` keeps one MQTT
connection (``serve --mqtt``) on which it publishes, retained: the discovery configs of every
site's sensors, ``online`` on the availability topic (its last will says ``offline``, and a
clean shutdown publishes ``offline``), and every ``state_interval_s`` the sites' states. The
topics and payloads are made in ``api.home_assistant_discovery``.

Removal: once per start, before publishing its index, a publisher reads back the retained
configs under ``<prefix>/sensor/wattleague_<cid>/+/config`` and the index it published last
time (whose prefix may differ) and clears, with an empty retained message, every config (and
the state of every site) that the file no longer has. A marker message it publishes after
subscribing tells when the broker has sent every retained message.

When Home Assistant announces itself (``online`` on ``<prefix>/status``) the configs and states
are published again. Someone else's ``offline`` on our availability topic (the late will of a
previous serve that died, another replica stopping) is answered with ``online``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from importlib import metadata

import orjson
import paho.mqtt.client as mqtt

from api.context import AppContext
from api.home_assistant_discovery import (
    OFFLINE,
    ONLINE,
    SENSORS,
    HomeAssistantLink,
    availability_topic,
    config_filter,
    discovery_configs,
    index_topic,
    site_states,
    state_topic,
)

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
SWEEP_TIMEOUT_S = 5.0  # the retained configs are read back at most this long at start [s]
RECENT_SNAPSHOT_S = 5.0  # a snapshot this fresh is published as it is [s]
CLOSE_TIMEOUT_S = 5.0  # how long a clean shutdown waits for "offline" to be acknowledged [s]


def home_assistant_publisher(ctx: AppContext) -> Callable[[], Awaitable[None]] | None:
    """Start publishing every competition with ``[home_assistant]``; returns the coroutine
    function that stops it, or None when nothing is published (no such competition, or no
    broker: then it is logged)."""
    wanted = [cid for cid, c in ctx.competitions.items() if c.home_assistant is not None]
    if not wanted:
        return None
    link = ctx.home_assistant
    if link is None:
        log.warning(
            "competition(s) %s have [home_assistant] but serve was given no MQTT broker "
            "(--mqtt): nothing is published for Home Assistant",
            ", ".join(wanted),
        )
        return None
    loop = asyncio.get_running_loop()
    version = metadata.version("wattleague")
    publishers = [_Publisher(ctx, cid, link, version) for cid in wanted]
    for p in publishers:
        p.start(loop)
    log.info(
        "Home Assistant discovery of %s on %s:%s",
        ", ".join(wanted),
        link.broker.host,
        link.broker.port,
    )

    async def stop() -> None:
        await asyncio.gather(*(p.stop() for p in publishers))

    return stop


class _Publisher:
    """One competition's discovery configs, availability and states on one MQTT connection."""

    def __init__(self, ctx: AppContext, cid: str, link: HomeAssistantLink, version: str) -> None:
        comp = ctx.competitions[cid]
        settings = comp.home_assistant
        assert settings is not None  # only competitions with [home_assistant] get one
        self.ctx = ctx
        self.cid = cid
        self.broker = link.broker
        self.prefix = settings.discovery_prefix
        self.interval_s = settings.state_interval_s
        self.site_ids = [s.id for s in comp.sites]
        self.configs = {
            topic: orjson.dumps(payload)
            for topic, payload in discovery_configs(
                comp, self.prefix, version, link.public_url
            ).items()
        }
        self.availability = availability_topic(cid)
        self.birth_topic = f"{self.prefix}/status"  # Home Assistant's own online/offline
        self.client_id = f"wattleague-ha-{cid}-{socket.gethostname()}-{os.getpid()}"
        self.sync_topic = f"{availability_topic(cid).rsplit('/', 1)[0]}/sync/{self.client_id}"
        self.connected = threading.Event()
        self.swept = threading.Event()  # the configs of removed sites were cleared
        self._lock = threading.Lock()
        self._stopping = False
        self._found: set[str] = set()  # retained config topics read back at start
        self._old_index: dict = {}
        self._sweep_mid: int | None = None
        self._sweep_timer: threading.Timer | None = None
        self._unreachable_logged = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        self.broker.configure(self.client)
        self.client.will_set(self.availability, OFFLINE, qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._wake = asyncio.Event()
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()
        self._task = loop.create_task(self._run(), name=f"home-assistant-{self.cid}")

    async def stop(self) -> None:
        with self._lock:
            self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
        if self.connected.is_set():
            info = self.client.publish(self.availability, OFFLINE, qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=CLOSE_TIMEOUT_S)
        self.client.disconnect()  # a clean DISCONNECT: the broker drops the last will
        self.client.loop_stop()

    # -- states ---------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            self._wake.clear()
            if self.connected.is_set():
                await self._publish_states()

    async def _publish_states(self) -> None:
        try:
            states = await asyncio.to_thread(self._states)
        except Exception:  # an unreadable store or a damaged closing: try again next time
            log.exception("Home Assistant: states of %r not computed", self.cid)
            return
        for topic, payload in states.items():
            self.client.publish(topic, orjson.dumps(payload), qos=1, retain=True)

    def _states(self) -> dict[str, dict]:
        board = self.ctx.board(self.cid)
        # the leaderboard stream refreshes the snapshot every second or so: take that one
        snap = board.recent_snapshot(RECENT_SNAPSHOT_S) or board.snapshot()
        return site_states(board.competition, snap)

    def _wake_up(self) -> None:
        """Publish the states now (from paho's thread)."""
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: we are stopping
                self._loop.call_soon_threadsafe(self._wake.set)

    # -- MQTT callbacks (paho's thread) -------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning(
                "Home Assistant: broker %s:%s refused the connection: %s",
                self.broker.host,
                self.broker.port,
                reason_code,
            )
            return
        self._unreachable_logged = False
        self.connected.set()
        topics = [(self.birth_topic, 1), (self.availability, 1)]
        sweeping = not self.swept.is_set()
        if sweeping:
            self._found.clear()
            topics += [
                (config_filter(self.prefix, self.cid), 1),
                (index_topic(self.cid), 1),
                (self.sync_topic, 1),
            ]
        _, mid = client.subscribe(topics)
        if sweeping:
            self._sweep_mid = mid
            self._restart_sweep_timer()
        client.publish(self.availability, ONLINE, qos=1, retain=True)
        self._publish_configs()
        self._wake_up()

    def _on_connect_fail(self, client, userdata) -> None:
        if not self._unreachable_logged:
            log.warning(
                "Home Assistant: broker %s:%s not reachable; retrying",
                self.broker.host,
                self.broker.port,
            )
            self._unreachable_logged = True

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set() and not self._stopping:
            log.warning("Home Assistant: lost the broker (%s); reconnecting", reason_code)
        self.connected.clear()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if mid != self._sweep_mid:
            return
        if any(rc.is_failure for rc in reason_codes):
            log.warning(
                "Home Assistant: the broker refused to let serve read back its configs under "
                "%s (check the broker user's ACL, docs: home-assistant.md): sites removed from "
                "the file keep their sensors",
                config_filter(self.prefix, self.cid),
            )
        # the broker sends the retained messages of a subscription before anything published
        # after its SUBACK: when this comes back, every retained config has been read
        client.publish(self.sync_topic, b"1", qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        topic = msg.topic
        if topic == self.availability:
            if msg.payload == OFFLINE.encode() and not self._stopping:
                client.publish(self.availability, ONLINE, qos=1, retain=True)
        elif topic == self.birth_topic:
            if msg.payload == b"online":  # Home Assistant (re)started
                self._publish_configs()
                self._wake_up()
        elif topic == self.sync_topic:
            self._finish_sweep()
        elif topic == index_topic(self.cid):
            if msg.retain and msg.payload:
                with contextlib.suppress(orjson.JSONDecodeError):
                    index = orjson.loads(msg.payload)
                    self._old_index = index if isinstance(index, dict) else {}
        elif (
            msg.retain
            and msg.payload
            and mqtt.topic_matches_sub(config_filter(self.prefix, self.cid), topic)
        ):
            with self._lock:  # the sweep timer's thread reads it
                self._found.add(topic)

    # -- publishing and removal ---------------------------------------------------------------

    def _publish_configs(self) -> None:
        for topic, payload in self.configs.items():
            self.client.publish(topic, payload, qos=1, retain=True)

    def _restart_sweep_timer(self) -> None:
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
        self._sweep_timer = threading.Timer(SWEEP_TIMEOUT_S, self._finish_sweep)
        self._sweep_timer.daemon = True
        self._sweep_timer.start()

    def _finish_sweep(self) -> None:
        """Clear what the file no longer has; then publish the index of what it has."""
        with self._lock:
            if self.swept.is_set() or self._stopping or not self.connected.is_set():
                return
            old = set(self._found)
            old_configs = self._old_index.get("configs")
            if isinstance(old_configs, list):
                old |= {t for t in old_configs if isinstance(t, str)}
            old_sites = self._old_index.get("sites")
            removed_sites = (
                {s for s in old_sites if isinstance(s, str)}
                if isinstance(old_sites, list)
                else set()
            )
            removed_sites |= {_site_of(t) for t in self._found} - {None}
            removed_sites -= set(self.site_ids)
            stale = sorted(old - set(self.configs))
            for topic in stale:
                self.client.publish(topic, b"", qos=1, retain=True)
            for sid in sorted(removed_sites):
                self.client.publish(state_topic(self.cid, sid), b"", qos=1, retain=True)
            if stale or removed_sites:
                log.info(
                    "Home Assistant: removed %d sensor config(s) of %r (sites no longer in the "
                    "file: %s)",
                    len(stale),
                    self.cid,
                    ", ".join(sorted(removed_sites)) or "none",
                )
            index = {"prefix": self.prefix, "sites": self.site_ids, "configs": sorted(self.configs)}
            self.client.publish(index_topic(self.cid), orjson.dumps(index), qos=1, retain=True)
            self.client.unsubscribe(
                [config_filter(self.prefix, self.cid), index_topic(self.cid), self.sync_topic]
            )
            if self._sweep_timer is not None:
                self._sweep_timer.cancel()
            self.swept.set()


def _site_of(topic: str) -> str | None:
    """The site id in a config topic ``…/<sensor key>_<site id>/config``, or None."""
    parts = topic.split("/")
    if len(parts) < 2:
        return None
    object_id = parts[-2]
    for sensor in SENSORS:
        if object_id.startswith(sensor.key + "_"):
            return object_id[len(sensor.key) + 1 :] or None
    return None

"""Sending frames to devices: AWTRIX custom apps over MQTT, WLED state over HTTP.

The display client fetches ``/api/displays/{did}/frame?format=awtrix|wled`` and hands the
body to these functions.
"""

from __future__ import annotations

import threading

import httpx
import orjson
import paho.mqtt.client as mqtt

from display.awtrix import awtrix_topic
from ingest.mqtt_url import parse_mqtt_url


class PublishError(RuntimeError):
    """The device or broker could not be reached or refused the frame."""


def publish_awtrix(
    broker_url: str,
    prefix: str,
    app: str,
    payload: list | dict | bytes,
    *,
    timeout_s: float = 10.0,
    client_id: str = "",
) -> None:
    """Publish custom-app payloads (one app, or an array of apps) to ``[prefix]/custom/<app>``
    with QoS 1.

    Returns once the broker has acknowledged it (PUBACK), else raises `PublishError`.

    Parameters
    ----------
    broker_url : str
        ``mqtt://[user:pass@]host[:port]`` or ``mqtts://…``.
    prefix : str
        The clock's MQTT prefix (its settings page shows it).
    app : str
        Custom app name (no spaces).
    payload : list, dict or bytes
        `display.awtrix.awtrix_payload` or the api's ``format=awtrix`` body.
    timeout_s : float
        How long to wait for the connection and for the acknowledgement [s].
    """
    try:
        broker = parse_mqtt_url(broker_url)
    except ValueError as exc:
        raise PublishError(str(exc)) from None
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    where = f"{broker.host}:{broker.port}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    broker.configure(client)
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(_client, _userdata, _flags, reason_code, _properties=None) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(broker.host, broker.port, keepalive=max(5, int(timeout_s)))
    except OSError as exc:
        raise PublishError(f"cannot reach MQTT broker {where}: {exc}") from None
    client.loop_start()
    try:
        if not connected.wait(timeout_s) or refused:
            why = refused[0] if refused else f"no CONNACK within {timeout_s:g} s"
            raise PublishError(f"MQTT broker {where} refused the connection: {why}")
        info = client.publish(awtrix_topic(prefix, app), body, qos=1)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise PublishError(
                f"MQTT broker {where} did not acknowledge the frame within {timeout_s:g} s"
            )
    finally:
        client.disconnect()
        client.loop_stop()


def post_wled(
    url: str, state: dict | bytes, *, timeout_s: float = 5.0, client: httpx.Client | None = None
) -> dict:
    """POST a WLED state to ``<url>/json/state``; returns WLED's answer (``{"success": true}``).

    Parameters
    ----------
    url : str
        ``http://host`` of the WLED controller.
    state : dict or bytes
        `display.wled.wled_state` or the api's ``format=wled`` body.
    timeout_s : float
        Request timeout [s].
    client : httpx.Client, optional
        A client to reuse between frames.
    """
    body = state if isinstance(state, bytes) else orjson.dumps(state)
    target = url.rstrip("/") + "/json/state"
    headers = {"Content-Type": "application/json"}
    try:
        if client is None:
            response = httpx.post(target, content=body, headers=headers, timeout=timeout_s)
        else:
            response = client.post(target, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise PublishError(f"cannot reach WLED at {target}: {exc}") from None
    if response.status_code >= 400:
        raise PublishError(
            f"WLED at {target} answered HTTP {response.status_code}: {response.text[:200]}"
        )
    try:
        return response.json()
    except ValueError:
        return {}

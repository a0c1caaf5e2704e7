"""`wattleague display`: the display client beside a panel (terminal, PNG files, AWTRIX, WLED)."""

from __future__ import annotations

import logging

import click


@click.command("display")
@click.option("--url", required=True, help="The Watt League server, e.g. http://192.0.2.10:8000.")
@click.option("--display", "display_id", required=True, help="The [[display]] id to show.")
@click.option(
    "--panel",
    type=click.Choice(["terminal", "png", "awtrix", "wled"]),
    default="terminal",
    show_default=True,
    help="Where the frames go.",
)
@click.option("--out", type=click.Path(file_okay=False), help="png: folder for <display>.png.")
@click.option(
    "--mqtt", "mqtt_url", help="awtrix: the clock's broker, mqtt://[user:pass@]host:port."
)
@click.option("--prefix", help="awtrix: the clock's MQTT prefix (default: the display's).")
@click.option("--app", "app_name", help="awtrix: custom app name (default: the display's).")
@click.option(
    "--device-url",
    help="awtrix: http://clock/api/custom?name=APP; wled: http://controller[/json/state].",
)
@click.option("--lang", type=click.Choice(["sv", "en"]), help="terminal: language of the notice.")
@click.option(
    "--interval",
    "interval_s",
    type=click.FloatRange(min=0.1),
    help="Seconds between polls (default: the display's page_s).",
)
@click.option(
    "--token",
    envvar="WATTLEAGUE_TOKEN",
    help="An organiser token: the server then also says where the display lives (the "
    "AWTRIX prefix, the WLED address), which it keeps from the public. Or give --prefix / "
    "--device-url.",
)
@click.option("--once", is_flag=True, help="Fetch and show one frame, then exit (1 on failure).")
@click.option(
    "--duration", "duration_s", type=click.FloatRange(min=0), help="Stop after this many seconds."
)
def display(
    url,
    display_id,
    panel,
    out,
    mqtt_url,
    prefix,
    app_name,
    device_url,
    lang,
    interval_s,
    token,
    once,
    duration_s,
) -> None:
    """The display client beside a panel: polls the display's frame, reconnects with backoff
    when the server is away and marks stale data itself."""
    import httpx

    from display.client import ClientError, DisplayClient, DisplayInfo, display_info
    from ingest.redaction import redact_url, remember

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{redact_url(url)!r} is not http://host:port", param_hint="--url")
    remember(token)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=10.0, headers=headers) as http:
            info = display_info(http, display_id)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    except httpx.HTTPError:
        info = DisplayInfo()  # the server is away now: start anyway and mark the panel stale
        logging.getLogger(__name__).warning("server %s unreachable; retrying", url)
    sink = _panel(panel, display_id, info, out, mqtt_url, prefix, app_name, device_url, lang)
    client = DisplayClient(url, display_id, sink, interval_s=interval_s)
    if info.found and interval_s is None:
        client.interval_s = info.page_s
    try:
        fresh = client.run(duration_s=duration_s, once=once)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        fresh = True
    finally:
        client.close()
    if once and not fresh:
        raise SystemExit(1)


def _panel(kind, display_id, info, out, mqtt_url, prefix, app_name, device_url, lang):
    if kind == "terminal":
        from display.panel_terminal import TerminalPanel

        return TerminalPanel(lang=lang or info.lang)
    if kind == "png":
        from display.panel_png import PngPanel

        if not out:
            raise click.UsageError("--panel png needs --out FOLDER")
        return PngPanel(out, display_id)
    if kind == "awtrix":
        from display.panel_devices import AwtrixPanel

        prefix = prefix or info.awtrix_prefix
        if not mqtt_url and not device_url:
            raise click.UsageError(
                "--panel awtrix needs --mqtt URL (with --prefix) or --device-url"
            )
        if mqtt_url and device_url:
            raise click.UsageError("--panel awtrix takes --mqtt or --device-url, not both")
        if mqtt_url and not prefix:
            raise click.UsageError("--mqtt needs --prefix (the clock's MQTT prefix)")
        return AwtrixPanel(app_name or info.awtrix_app, mqtt_url, prefix, device_url)
    from display.panel_devices import WledPanel

    target = device_url or info.wled_url
    if not target:
        raise click.UsageError("--panel wled needs --device-url http://controller/json/state")
    return WledPanel(target)

"""Home Assistant MQTT discovery: each site's sensors published for Home Assistant (issue 21)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from api.context import AppContext


def home_assistant_publisher(ctx: AppContext) -> Callable[[], Awaitable[None]] | None:
    """Placeholder: started with the app when a competition has ``[home_assistant]``; returns
    the coroutine function that stops it, or None when nothing is published."""
    return None

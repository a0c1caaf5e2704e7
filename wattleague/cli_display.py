"""`wattleague display`: The display client beside a panel (issue 6)."""

from __future__ import annotations

import click


@click.command("display")
def display() -> None:
    """The display client beside a panel (issue 6)."""
    raise click.ClickException("not built yet")

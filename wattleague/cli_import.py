"""`wattleague import`: Import past consumption and weather (issue 9)."""

from __future__ import annotations

import click


@click.group("import")
def import_group() -> None:
    """Import past consumption and weather (issue 9)."""
    raise click.ClickException("not built yet")

"""`wattleague deploy`: broker ACL and passwords, backup, retention (issue 8)."""

from __future__ import annotations

import click


@click.group("deploy")
def deploy() -> None:
    """Deployment helpers: broker ACL and passwords, backup, retention (issue 8)."""
    raise click.ClickException("not built yet")

"""`wattleague report`: Savings summaries to files: CSV, XLSX, PDF, weekly e-mail (issue 7)."""

from __future__ import annotations

import click


@click.command("report")
def report() -> None:
    """Savings summaries to files: CSV, XLSX, PDF, weekly e-mail (issue 7)."""
    raise click.ClickException("not built yet")

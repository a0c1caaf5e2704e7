"""Helpers the ``wattleague`` subcommands share: loading competition files, opening stores."""

from __future__ import annotations

import click


def load_competitions(paths: tuple[str, ...] | list[str]):
    """The competitions of ``paths``; every problem of each file, and every collision between
    them (a meter id or topic in two files), is printed before exiting 2."""
    from scoring.competition_file import ConfigError
    from scoring.competition_file import load_competitions as load

    try:
        return load(list(paths))
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(2) from None


def open_store_or_fail(url: str, spool_name: str | None = None):
    from ingest.store import StoreURLError, open_store

    try:
        return open_store(url, spool_name=spool_name)
    except StoreURLError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from None


def broker_or_fail(url: str):
    from ingest.mqtt_url import parse_mqtt_url

    try:
        return parse_mqtt_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mqtt") from None


def config_files_option(help_text: str = "Competition file (repeat for several competitions)."):
    """``--config FILE`` (repeatable, required) as ``configs``: the option every command that
    reads competition files takes."""
    return click.option(
        "--config",
        "configs",
        multiple=True,
        required=True,
        type=click.Path(dir_okay=False),
        help=help_text,
    )

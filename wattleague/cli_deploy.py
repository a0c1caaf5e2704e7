"""`wattleague deploy`: broker ACL and passwords, backup and restore, retention."""

from __future__ import annotations

import time
from pathlib import Path

import click

from wattleague.cli_common import config_files_option, load_competitions
from wattleague.settings import SETTINGS, settings_options


@click.group("deploy")
def deploy() -> None:
    """Deployment helpers: broker ACL and passwords, backup and restore, retention."""


@deploy.command("mosquitto-acl")
@config_files_option("Competition file (repeat for several competitions on one broker).")
@click.option(
    "--out",
    "out_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for acl, passwd and credentials.csv (existing passwords there are kept).",
)
@click.option("--rotate", is_flag=True, help="Issue new passwords for every user.")
@click.option(
    "--rotate-user",
    "rotate_users",
    multiple=True,
    metavar="NAME",
    help="Issue a new password for this user only (repeatable).",
)
def mosquitto_acl(configs, out_dir, rotate, rotate_users) -> None:
    """Generate the Mosquitto ACL, password file and installers' credentials.csv.

    Each meter (device) may only publish to its own topic; the ingest user reads every meter
    topic. Point mosquitto.conf's acl_file and password_file at the files written here.
    """
    from wattleague.broker_users import BrokerUsersError, acl_text, broker_users
    from wattleague.mosquitto_passwd import CREDENTIALS, write_broker_files

    comps = load_competitions(configs)
    try:
        users = broker_users(comps)
    except BrokerUsersError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(2) from None
    names = {u.name for u in users}
    unknown = sorted(set(rotate_users) - names)
    if unknown:
        raise click.BadParameter(
            f"no broker user {', '.join(unknown)}; users: {', '.join(sorted(names))}",
            param_hint="--rotate-user",
        )
    out = Path(out_dir)
    try:
        plan = write_broker_files(
            users, out, acl_text(users, ", ".join(configs)), True if rotate else set(rotate_users)
        )
    except ValueError as exc:  # an unreadable existing passwd / credentials file
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"{out}: acl, passwd, {CREDENTIALS} for {len(users)} users — "
        f"{len(plan.created)} new, {len(plan.kept)} kept, {len(plan.rotated)} rotated"
    )
    if plan.dropped:
        click.echo(f"removed users no longer in the competition: {', '.join(plan.dropped)}")
    for name in plan.unknown_plaintext:
        click.echo(
            f"warning: kept the password hash of {name}, but {CREDENTIALS} has no password for "
            f"it; use --rotate-user {name} to issue one",
            err=True,
        )
    click.echo(
        f"{CREDENTIALS} holds plain passwords (mode 0600): hand each installer their line only. "
        "Reload the broker: systemctl reload mosquitto",
        err=True,
    )


def _sqlite_path(store_url: str) -> Path:
    from ingest.redaction import redact_url

    if not store_url.startswith("sqlite://"):
        raise click.BadParameter(
            f"{redact_url(store_url)!r}: backup, restore and prune work on SQLite stores "
            "(sqlite:///path/to/file.db); for InfluxDB use its own backup and retention "
            "policies (docs/operations/backup.md)",
            param_hint="--store",
        )
    path = store_url.split("?", 1)[0][len("sqlite://") :]
    if path.startswith(("/./", "/../", "//")):  # as ingest.store.open_store reads it
        path = path[1:]
    if not path:
        raise click.BadParameter(f"{store_url!r} has no file path", param_hint="--store")
    return Path(path)


@deploy.command("backup")
@settings_options("store")
@click.option(
    "--out", "out_file", required=True, type=click.Path(dir_okay=False), help="Backup file."
)
@click.option("--force", is_flag=True, help="Overwrite an existing backup file.")
def backup_cmd(store, out_file, force) -> None:
    """Online, consistent copy of the SQLite store (ingest may keep running)."""
    from ingest.store.sqlite_maintenance import MaintenanceError, backup

    try:
        pages = backup(_sqlite_path(store), out_file, force=force)
    except MaintenanceError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"backed up {store} to {out_file} ({pages} pages, integrity ok)")


@deploy.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False))
@settings_options("store")
@click.option("--force", is_flag=True, help="Overwrite an existing store (stop services first).")
def restore_cmd(backup_file, store, force) -> None:
    """Restore BACKUP_FILE into the SQLite store after checking its integrity."""
    from ingest.store.sqlite_maintenance import MaintenanceError, restore

    try:
        restore(backup_file, _sqlite_path(store), force=force)
    except MaintenanceError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"restored {backup_file} into {store} (integrity ok); start ingest and serve")


@deploy.command("prune")
@settings_options("store", "retention_days", "max_age_days", "quarantine_days")
def prune_cmd(store, retention_days, max_age_days, quarantine_days) -> None:
    """Drop raw readings older than --retention-days (hourly energy and scores stay) and
    quarantine entries older than --quarantine-days (the counts per reason stay)."""
    from ingest.store.sqlite_maintenance import MaintenanceError, prune_readings

    path = _sqlite_path(store)
    if quarantine_days < 0:
        raise click.BadParameter(
            f"must be >= 0 (0 keeps every entry), got {quarantine_days:g}",
            param_hint=SETTINGS["quarantine_days"].flag,
        )
    if retention_days <= 0:
        click.echo(
            f"retention is off ({SETTINGS['retention_days'].flag} 0): no readings pruned",
            err=True,
        )
        if not quarantine_days:
            click.echo(
                f"quarantine retention is off ({SETTINGS['quarantine_days'].flag} 0): "
                "no quarantine entries pruned",
                err=True,
            )
            return
    now_ms = int(time.time() * 1000)
    try:
        result = prune_readings(
            path,
            cutoff_ms=now_ms - int(retention_days * 86_400_000) if retention_days > 0 else None,
            now_ms=now_ms,
            max_age_days=max_age_days,
            quarantine_cutoff_ms=now_ms - int(quarantine_days * 86_400_000)
            if quarantine_days
            else None,
        )
    except MaintenanceError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    kept = f"older than {retention_days:g} days" if retention_days > 0 else "(retention off)"
    quarantine = (
        f"{result.quarantine} quarantine entries older than {quarantine_days:g} days"
        if quarantine_days
        else f"no quarantine entries ({SETTINGS['quarantine_days'].flag} 0)"
    )
    click.echo(
        f"pruned {result.readings} readings, {result.messages} messages {kept}, {quarantine} "
        f"from {path}"
    )


@deploy.command("influx-rollup")
@settings_options("store")
def influx_rollup_cmd(store) -> None:
    """Fill the hourly rollup of an InfluxDB store written before it existed (safe to run
    again, and while ingest writes; docs/influxdb.md)."""
    from ingest.store.influx import InfluxStore

    if not store.startswith(("influxdb://", "influxdb2://")):
        raise click.BadParameter(
            f"{store!r} is not an InfluxDB store (influxdb://host:port/database); the SQLite "
            "store keeps its hourly table itself",
            param_hint="--store",
        )
    target = InfluxStore(store, spool_name="influx-rollup")
    try:
        t0 = time.monotonic()
        meters, points = target.backfill_rollup(progress=lambda text: click.echo(f"  {text}"))
    finally:
        target.close()
    click.echo(
        f"hourly rollup of {store.split('@')[-1]} complete: {meters} meters, {points} hourly "
        f"points, {time.monotonic() - t0:.1f} s; serve reads it from its next check (at most "
        "a minute)"
    )

"""`wattleague import`: past consumption, bills and outdoor temperature from files."""

from __future__ import annotations

from pathlib import Path

import click

from wattleague.cli_common import load_competitions, open_store_or_fail
from wattleague.settings import settings_options

PROGRESS_MIN_ROWS = 5000  # smaller imports finish before a bar would be worth drawing


@click.group("import")
def import_group() -> None:
    """Import past consumption, bills and outdoor temperature from files."""


def _accept_option(func):
    return click.option(
        "--accept-baseline-change",
        "accept_reason",
        default=None,
        metavar="REASON",
        help="Apply rows that fall in a locked baseline window (the competition has started) "
        "at once, with this reason in the audit log; without it they are held for an "
        "organiser.",
    )(func)


def _accepted(reason: str | None):
    """The accepted change of ``--accept-baseline-change``: by ``cli:<login name>``."""
    from ingest.imports.baseline_change import AcceptedChange

    if reason is None:
        return None
    if not reason.strip():
        raise click.BadParameter(
            "give the reason the audit log keeps, e.g. --accept-baseline-change "
            '"meter swapped in January; the grid operator\'s corrected file"',
            param_hint="--accept-baseline-change",
        )
    return AcceptedChange(who=f"cli:{_login_name()}", reason=reason)


def _login_name() -> str:
    import getpass
    import os

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return f"uid-{os.getuid()}"


def _config_option(func):
    return click.option(
        "--config",
        "config",
        required=True,
        type=click.Path(dir_okay=False),
        help="Competition file.",
    )(func)


@import_group.command("consumption")
@_config_option
@click.option("--meter", "meter_id", required=True, help="Meter id the history belongs to.")
@click.option("--billing", is_flag=True, help="The files are bills: period start, end, kWh.")
@click.option("--columns", default=None, help="Column mapping, e.g. ts=Tid,kwh=Förbrukning.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "grid", "generic", "json"]),
    default="auto",
    show_default=True,
    help="File format.",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be stored.")
@click.option(
    "--on-overlap",
    type=click.Choice(["keep-live", "use-import"]),
    default="keep-live",
    show_default=True,
    help="Which wins where the file overlaps stored live readings.",
)
@_accept_option
@settings_options("store")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
def consumption(
    config, meter_id, billing, columns, fmt, dry_run, on_overlap, accept_reason, store, files
):
    """Import past consumption of one meter (grid-operator CSV, generic CSV, JSON or bills)."""
    from ingest.baseline_lock import baseline_lock
    from ingest.imports.consumption import import_consumption
    from ingest.imports.formats import read_consumption_file

    (comp,) = load_competitions([config])
    if meter_id not in comp.meters():
        raise click.BadParameter(
            f"no meter {meter_id!r} in {config}; known: {', '.join(sorted(comp.meters()))}",
            param_hint="--meter",
        )
    accepted = _accepted(accept_reason)
    locked = {"lock": baseline_lock(comp), "accepted": accepted}
    tz = comp.competition.tz
    parsed, unreadable = _read_files(
        files,
        lambda data, path: read_consumption_file(data, path, tz, meter_id, fmt, columns, billing),
    )
    db = open_store_or_fail(store)
    try:
        total = sum(len(p.intervals) + len(p.registers) for p in parsed)
        if total >= PROGRESS_MIN_ROWS and not dry_run:
            with click.progressbar(
                length=total, label="importing", file=click.get_text_stream("stderr")
            ) as bar:
                report = import_consumption(
                    db,
                    meter_id,
                    parsed,
                    billing=billing,
                    dry_run=dry_run,
                    on_overlap=on_overlap,
                    progress=bar.update,
                    **locked,
                )
        else:
            report = import_consumption(
                db,
                meter_id,
                parsed,
                billing=billing,
                dry_run=dry_run,
                on_overlap=on_overlap,
                **locked,
            )
    finally:
        db.close()
    _print_report(report, "rows")
    _print_baseline_change(report, comp.id)
    if unreadable or (report["new"] == 0 and report["duplicates"] == 0):
        raise SystemExit(1)


@import_group.command("weather")
@_config_option
@click.option("--site", "site_id", default=None, help="Site whose weather station gets the data.")
@click.option("--columns", default=None, help="Column mapping for non-SMHI CSV: ts=…,temp=….")
@click.option("--dry-run", is_flag=True, help="Only report what would be stored.")
@_accept_option
@settings_options("store")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
def weather(config, site_id, columns, dry_run, accept_reason, store, files):
    """Import hourly outdoor temperature (SMHI open-data CSV or generic CSV)."""
    from ingest.baseline_lock import baseline_lock
    from ingest.imports.formats import read_weather_file
    from ingest.imports.weather import import_weather

    (comp,) = load_competitions([config])
    station = _station(comp, site_id, config)
    accepted = _accepted(accept_reason)
    tz = comp.competition.tz
    parsed, unreadable = _read_files(
        files, lambda data, path: read_weather_file(data, path, tz, columns)
    )
    db = open_store_or_fail(store)
    try:
        report = import_weather(
            db, station, parsed, dry_run=dry_run, lock=baseline_lock(comp), accepted=accepted
        )
    finally:
        db.close()
    _print_report(report, "temperatures")
    _print_baseline_change(report, comp.id)
    if unreadable or (report["new"] == 0 and report["duplicates"] == 0):
        raise SystemExit(1)


def _read_files(files, read) -> tuple[list, int]:
    """``read(data, path)`` of each file, and how many could not be read (each said on stderr);
    exits 1 when none could."""
    from ingest.imports.rows import UnreadableFile

    parsed, unreadable = [], 0
    for path in files:
        try:
            parsed.append(read(Path(path).read_bytes(), path))
        except (UnreadableFile, OSError) as exc:
            click.echo(f"{path}: {exc}", err=True)
            unreadable += 1
    if not parsed:
        raise SystemExit(1)
    return parsed, unreadable


def _station(comp, site_id: str | None, config: str) -> str:
    if site_id is not None:
        site = comp.site(site_id)
        if site is None:
            raise click.BadParameter(
                f"no site {site_id!r} in {config}; known: {', '.join(s.id for s in comp.sites)}",
                param_hint="--site",
            )
        station = comp.station_for(site)
    else:
        station = comp.weather[0].id if comp.weather else None
    if station is None:
        raise click.UsageError(
            f'{config} has no [[weather]] station to import into: add one (id = "…")'
        )
    return station


def _print_report(report: dict, what: str) -> None:
    """The report as an operator reads it: rejected rows as file:line: reason, then totals."""
    for r in report["rejected"]:
        click.echo(f"{r['file']}:{r['line']}: {r['reason']}", err=True)
    verb = "would store" if report["dry_run"] else "stored"
    target = report.get("meter") or report.get("station")
    held = report.get("held_rows", 0)
    click.echo(
        f"{target}: {report['rows']} {what} read; {verb} {report['new'] - held} new, "
        + (f"{'would hold' if report['dry_run'] else 'held'} {held}, " if held else "")
        + f"{report['duplicates']} duplicates, {len(report['rejected'])} rejected"
    )
    if report["span"]:
        click.echo(
            f"span: {report['span']['first_utc']} to {report['span']['last_utc']}"
            + (f" ({report['resolution']})" if report.get("resolution") else "")
        )
    if report.get("periods"):
        p = report["periods"]
        click.echo(
            f"periods (bills or daily rows): {p['new']} new, {p['replaced']} replaced, "
            f"{p['duplicates']} duplicates"
        )
    gaps = report["gaps"]
    if gaps:
        click.echo(f"gaps: {len(gaps)}" + ("" if len(gaps) < 100 else "+"))
        for g in gaps[:10]:
            click.echo(f"  {g['from_utc']} to {g['to_utc']} ({g['hours']:g} h)")
    for d in report["dst"]:
        click.echo(f"DST {d['date']} ({d['change']}): {d['handling']}")
    overlap = report.get("overlap")
    if overlap:
        click.echo(
            f"overlap: {overlap['stored_readings']} stored readings (live, or an earlier "
            f"import with other values) from "
            f"{overlap['first_utc']} to {overlap['last_utc']} touch {overlap['rows_touching']} "
            f"rows; {overlap['choice']}"
            + (
                " (the stored readings win; --on-overlap use-import to replace them)"
                if overlap["choice"] == "keep-live"
                else " (the file's rows replace them)"
            )
        )


def _print_baseline_change(report: dict, competition: str) -> None:
    """What the baseline lock held, and how to accept it; or what an accepted change applied."""
    verb = "would hold" if report["dry_run"] else "held"
    for h in report["held"]:
        ids = f" (held item{'s' if len(h['ids']) > 1 else ''} {', '.join(map(str, h['ids']))})"
        click.echo(
            f"{verb}: {h['rows']} {_HELD_WHAT[h['kind']]} of {h['subject']} from "
            f"{h['first_utc']} to {h['last_utc']}{ids if h['ids'] else ''}: they fall in the "
            f"baseline window of competition {competition!r}, locked since it started",
            err=True,
        )
    if report["held"]:
        click.echo(
            "Held data is not applied until an organiser accepts it with a reason: on the "
            "organiser page (held data) or through the API, or import the files again with "
            '--accept-baseline-change "reason" to apply them at once (audited). '
            "See docs/imports.md#locked-baselines.",
            err=True,
        )
    change = report.get("baseline_change")
    if change:
        verb = "would apply" if report["dry_run"] else "applied"
        for a in change["applied"]:
            audit = f" (audit entry {a['audit_id']})" if "audit_id" in a else ""
            click.echo(
                f"{verb} to the locked baseline window: {a['rows']} "
                f"{_HELD_WHAT[a['kind']]} of {a['subject']} from {a['first_utc']} to "
                f"{a['last_utc']}{audit}, accepted by {change['accepted_by']}: "
                f"{change['reason']}"
            )


_HELD_WHAT = {
    "import": "readings",
    "readings": "readings",
    "bills": "bills or daily rows",
    "temperatures": "temperatures",
}

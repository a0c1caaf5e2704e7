"""`wattleague report`: savings summaries to files: CSV, XLSX, PDF and the weekly e-mail."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from wattleague.cli_common import load_competitions, open_store_or_fail
from wattleague.settings import settings_options


def _as_of_s(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 time; e.g. 2011-04-01T00:00+02:00", param_hint="--as-of"
        ) from None
    if t.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no UTC offset; add one, e.g. {value}+01:00", param_hint="--as-of"
        )
    return t.timestamp()


def _sqlite_file_missing(url: str) -> str | None:
    """The path of a ``sqlite:`` store that does not exist (a report would silently open a new,
    empty one), else None."""
    if not url.startswith("sqlite:"):
        return None
    path = url.split("?", 1)[0][len("sqlite://") :]
    if path.startswith(("/./", "/../", "//")):
        path = path[1:]
    return path if path and not Path(path).exists() else None


@click.command("report")
@click.option(
    "--competition",
    "competition_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Competition file (TOML).",
)
@click.option(
    "--site",
    "sites",
    multiple=True,
    metavar="SID",
    help="Site id (repeat for several): one file per site. Default: one file for the whole "
    "competition (e-mail: every site).",
)
@click.option("--all-sites", is_flag=True, help="One file per site, for every site.")
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["csv", "xlsx", "pdf", "email"]),
    help="csv, xlsx, pdf, or email (the weekly status report: .html and .txt per site).",
)
@click.option(
    "--lang",
    default="sv",
    show_default=True,
    type=click.Choice(["sv", "en"]),
    help="Language of the texts.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write to (made when missing).",
)
@click.option(
    "--week",
    default=None,
    metavar="YYYY-Www",
    help="email: ISO week (default: the latest complete).",
)
@click.option(
    "--as-of",
    default=None,
    metavar="TIME",
    help="Figures as at this time, ISO-8601 with offset (default: now).",
)
@settings_options("store")
def report(competition_file, sites, all_sites, fmt, lang, out_dir, week, as_of, store) -> None:
    """Write savings summaries (CSV, XLSX, PDF) or weekly status e-mails to --out."""
    import sys
    import time

    from api.reports.figures import collect
    from api.reports.render import render_status_email, render_summary
    from api.reports.status_email import WeekError
    from api.scoreboard import Scoreboard

    if sites and all_sites:
        raise click.UsageError("give --site or --all-sites, not both")
    if week is not None and fmt != "email":
        raise click.BadParameter("only for --format email", param_hint="--week")
    (comp,) = load_competitions([competition_file])
    known = [s.id for s in comp.sites]
    unknown = [s for s in sites if s not in known]
    if unknown:
        raise click.BadParameter(
            f"competition {comp.id!r} has no site {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(known)}",
            param_hint="--site",
        )
    missing = _sqlite_file_missing(store)
    if missing:
        raise click.BadParameter(f"no store file at {missing}", param_hint="--store")
    as_of_s = _as_of_s(as_of)
    board = Scoreboard(
        comp, open_store_or_fail(store), clock=time.time if as_of_s is None else lambda: as_of_s
    )
    per_site = fmt == "email" or bool(sites) or all_sites
    targets: list[list[int] | None] = (
        [[known.index(s)] for s in (sites or known)] if per_site else [None]
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def make(indices: list[int] | None) -> None:
        fig = collect(board, indices)
        if fmt == "email":
            rendered = [render_status_email(fig, f, lang, week) for f in ("html", "txt")]
        else:
            rendered = [render_summary(fig, fmt, lang)]
        for r in rendered:
            path = out / r.filename
            path.write_bytes(r.body)
            written.append(path)

    try:
        if len(targets) > 1:
            # on stderr: stdout carries only the paths written, for scripts
            with click.progressbar(targets, label=f"{fmt} reports", file=sys.stderr) as bar:
                for indices in bar:
                    make(indices)
        else:
            make(targets[0])
    except WeekError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None
    for path in written:
        click.echo(str(path))

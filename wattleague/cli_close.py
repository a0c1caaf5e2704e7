"""`wattleague close` and `wattleague verify`: certified final results of a competition."""

from __future__ import annotations

import getpass
import time
from contextlib import closing as _closing
from contextlib import contextmanager
from pathlib import Path

import click

from wattleague.cli_common import load_competitions, open_store_or_fail
from wattleague.cli_report import _sqlite_file_missing
from wattleague.settings import settings_options


def _existing_store(url: str):
    """The store at ``url``; a ``sqlite:`` file must exist (a new, empty one has no results)."""
    missing = _sqlite_file_missing(url)
    if missing:
        raise click.BadParameter(f"no store file at {missing}", param_hint="--store")
    return open_store_or_fail(url)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


@contextmanager
def _store_answers():
    """A store that is down, locked or full ends the command with what to check (its problem
    code and hint: never the URL, which may hold a password), not a traceback."""
    from ingest.store.availability import HINTS, is_unavailable, problem

    try:
        yield
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        _fail(f"the store is unavailable ({problem(exc)}): {HINTS[problem(exc)]}")


@click.command("close")
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Competition file (TOML) of the competition to close.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for the results bundle (made when missing; never overwritten).",
)
@settings_options("store")
def close(config_file: str, out_dir: str, store: str) -> None:
    """Freeze a finished competition: write its results bundle to --out and store it.

    The results are computed as of the end of the competition's last local hour, with the
    organisers' stored site edits applied. --out receives results.json, jury-report-sv.pdf,
    jury-report-en.pdf and MANIFEST.sha256 (check it with `sha256sum -c MANIFEST.sha256`).
    Refused before the end and when the competition is closed already.
    """
    from api.closing_files import write_bundle_dir
    from api.closing_run import NotFinished, prepare_closing, store_closing
    from ingest.store.closing import AlreadyClosed, ClosingDamaged

    (comp,) = load_competitions([config_file])
    file_text = Path(config_file).read_text(encoding="utf-8")
    opened = _existing_store(store)
    out = Path(out_dir)
    with _store_answers(), _closing(opened):
        try:
            prepared = prepare_closing(
                comp,
                opened,
                time.time(),
                f"cli:{getpass.getuser()}",
                file_name=Path(config_file).name,
                file_text=file_text,
            )
        except (NotFinished, AlreadyClosed, ClosingDamaged) as exc:
            _fail(str(exc))
        except ValueError as exc:  # the stored site edits no longer fit the file
            _fail(f"the competition cannot be scored as stored: {exc}")
        try:
            write_bundle_dir(out, prepared.files)
        except (FileExistsError, OSError) as exc:
            _fail(f"--out: {exc}")
        try:
            store_closing(opened, prepared)
        except AlreadyClosed as exc:  # closed by someone else meanwhile
            for name in prepared.files:
                (out / name).unlink(missing_ok=True)
            _fail(f"{exc}; the bundle written to {out} was removed")
    for name in prepared.files:
        click.echo(str(out / name))
    click.echo(
        f"closed {comp.id!r}: results as of {prepared.bundle['as_of']}; results.json SHA-256 "
        f"{prepared.bundle_sha256}",
        err=True,
    )


@click.command("verify")
@click.argument("directory", type=click.Path(file_okay=False))
@settings_options("store")
def verify(directory: str, store: str) -> None:
    """Check a results bundle: its manifest, then every figure recomputed from the store.

    Prints `identical` (exit 0), or each problem of the directory against MANIFEST.sha256,
    or each difference as `site, figure, bundle value, recomputed value` (exit 1). Data that
    reached the store after closing shows as differences: the bundle is what was certified.
    """
    from api.closing_verify import verify_bundle_dir

    path = Path(directory)
    if not path.is_dir():
        raise click.BadParameter(f"no directory {directory}", param_hint="DIRECTORY")
    opened = _existing_store(store)
    with _store_answers(), _closing(opened):
        try:
            result = verify_bundle_dir(path, opened)
        except ValueError as exc:
            _fail(f"{directory}: {exc}")
    if result.identical:
        click.echo("identical")
        return
    for problem in result.manifest:
        click.echo(f"manifest: {problem}")
    for difference in result.differences:
        click.echo(difference.line())
    if result.manifest:
        click.echo(f"{directory} is not the certified bundle: nothing else compared", err=True)
    else:
        click.echo(f"{len(result.differences)} difference(s) from the store", err=True)
    raise SystemExit(1)

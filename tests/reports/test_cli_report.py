"""`wattleague report`: files written to --out, paths printed, clear errors for bad options."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ingest.store.sqlite import SQLiteStore
from tests.reports.conftest import REPORT_TOML, pdf_text, seed_without_gamma
from wattleague.cli import main

AS_OF = "2011-03-15T00:00+01:00"


@pytest.fixture
def setup(tmp_path):
    s = SQLiteStore(tmp_path / "store.db")
    seed_without_gamma(s)
    s.close()
    config = tmp_path / "liten.toml"
    config.write_text(REPORT_TOML, encoding="utf-8")
    return str(config), f"sqlite:///{tmp_path}/store.db", tmp_path / "out"


def _run(*args: str):
    return CliRunner().invoke(main, ["report", *args], catch_exceptions=False)


def test_one_file_per_site(setup, tmp_path):
    config, store, out = setup
    result = _run(
        "--competition",
        config,
        "--store",
        store,
        "--out",
        str(out),
        "--format",
        "pdf",
        "--site",
        "alfa",
        "--site",
        "gamma",
        "--as-of",
        AS_OF,
    )
    assert result.exit_code == 0, result.output
    alfa, gamma = out / "liten-alfa-summary-sv.pdf", out / "liten-gamma-summary-sv.pdf"
    assert result.stdout.split() == [str(alfa), str(gamma)]
    assert "672,0 kWh" in pdf_text(alfa.read_bytes(), tmp_path)
    assert "Inga mätvärden har kommit in för Söderhamns kommunhus" in pdf_text(
        gamma.read_bytes(), tmp_path
    )


def test_whole_competition_xlsx(setup):
    config, store, out = setup
    result = _run(
        "--competition",
        config,
        "--store",
        store,
        "--out",
        str(out),
        "--format",
        "xlsx",
        "--lang",
        "en",
        "--as-of",
        AS_OF,
    )
    assert result.exit_code == 0, result.output
    path = out / "liten-summary-en.xlsx"
    assert result.stdout.strip() == str(path)
    rows = list(load_workbook(io.BytesIO(path.read_bytes()))["Totals"].iter_rows(values_only=True))
    assert [r[2] for r in rows[1:4]] == ["alfa", "beta", "gamma"]
    assert rows[1][6] == 672.0  # alfa: 336 h x 2 kW
    assert rows[-1][3] == "Whole competition" and rows[-1][6] == 672.0 + 168.0


def test_emails_for_every_site(setup):
    config, store, out = setup
    result = _run(
        "--competition",
        config,
        "--store",
        store,
        "--out",
        str(out),
        "--format",
        "email",
        "--as-of",
        AS_OF,
        "--week",
        "2011-W10",
    )
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(
        f"liten-{s}-status-2011-W10-sv.{ext}"
        for s in ("alfa", "beta", "gamma")
        for ext in ("html", "txt")
    )
    assert "1344,0 kWh" in (out / "liten-alfa-status-2011-W10-sv.txt").read_text("utf-8")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "csv", "--site", "zz"], "competition 'liten' has no site 'zz'; known: alfa"),
        (["--format", "csv", "--site", "alfa", "--all-sites"], "not both"),
        (["--format", "doc"], "'doc' is not one of"),
        (["--format", "csv", "--lang", "de"], "'de' is not one of"),
        (["--format", "csv", "--as-of", "2011-03-15"], "has no UTC offset"),
        (["--format", "csv", "--week", "2011-W10"], "only for --format email"),
        (["--format", "email", "--week", "2011-W30"], "outside the competition"),
    ],
)
def test_bad_options_fail_clearly(setup, extra, message):
    config, store, out = setup
    result = _run("--competition", config, "--store", store, "--out", str(out), *extra)
    assert result.exit_code == 2
    assert message in result.output


def test_missing_store_file_is_an_error(setup, tmp_path):
    config, _, out = setup
    result = _run(
        "--competition",
        config,
        "--store",
        f"sqlite:///{tmp_path}/typo.db",
        "--out",
        str(out),
        "--format",
        "csv",
    )
    assert result.exit_code == 2 and "no store file at" in result.output
    assert not (tmp_path / "typo.db").exists()

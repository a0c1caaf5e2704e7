"""The wattleague command: check-config, decode and the settings table."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.scoring.test_competition_file import BROKEN
from wattleague.cli import main
from wattleague.settings import SETTINGS

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "deploy" / "examples" / "kommunhus-2011.toml"


def _run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input)


def test_check_config_passes_the_example():
    result = _run("check-config", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "7 sites" in result.output


def test_check_config_names_every_problem_and_fails(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(BROKEN, encoding="utf-8")
    result = _run("check-config", str(broken))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 8
    assert f"error: {broken}:13: [[site]] #1 'soderhamn', key area_m2:" in result.output
    assert "8 problem(s) found" in result.output


def test_check_config_missing_file(tmp_path):
    result = _run("check-config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 1 and "cannot read file" in result.output


def test_decode_json_prints_json_lines():
    result = _run(
        "decode",
        "--format",
        "json",
        input='[{"ts": "2011-03-01T08:00:00+01:00", "energy_kwh": 1.5, "meter": "m"},'
        ' {"ts": 1299000000, "power_w": 20}]',
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        '{"meter":"m","ts":"2011-03-01T07:00:00Z","energy_kwh":1.5}',
        '{"meter":null,"ts":"2011-03-01T17:20:00Z","power_w":20.0}',
    ]


def test_decode_senml():
    result = _run(
        "decode",
        "--format",
        "senml",
        input='[{"bn":"m1:","bt":1299000000,"n":"e","u":"Wh","v":2500}]',
    )
    assert result.exit_code == 0
    assert result.output.strip() == '{"meter":"m1","ts":"2011-03-01T17:20:00Z","energy_kwh":2.5}'


def test_decode_failure_says_why_and_exits_1():
    result = _run("decode", "--format", "json", input="{oops")
    assert result.exit_code == 1
    assert "cannot decode as 'json' (undecodable)" in result.output


def test_decode_unknown_format():
    result = _run("decode", "--format", "morse", input="...")
    assert result.exit_code == 1 and "unknown format 'morse'" in result.output


def test_help_settings_lists_every_setting():
    result = _run("--help-settings")
    assert result.exit_code == 0
    for setting in SETTINGS.values():
        assert setting.flag in result.output


def test_serve_rejects_a_bad_store_url(tmp_path):
    result = _run("serve", "--config", str(EXAMPLE), "--store", "postgres://x")
    assert result.exit_code == 2 and "--store" in result.output and "sqlite:///" in result.output


def test_ingest_rejects_a_bad_mqtt_url(tmp_path):
    result = _run(
        "ingest",
        "--config",
        str(EXAMPLE),
        "--store",
        f"sqlite:///{tmp_path}/x.db",
        "--mqtt",
        "http://broker",
    )
    assert result.exit_code == 2 and "mqtt://" in result.output


def test_token_prints_a_token_and_its_hash_entry():
    from api.auth import TokenSet, hash_token

    result = _run("token", "anna")
    assert result.exit_code == 0
    token_line, entry_line = [line for line in result.output.splitlines() if ":" in line][:2]
    secret = token_line.split(": ", 1)[1]
    entry = entry_line.split(":", 1)[1].strip()
    assert entry == f"anna:{hash_token(secret)}"
    assert TokenSet.from_env({"WATTLEAGUE_TOKEN_HASHES": entry}).hashes == {
        "anna": hash_token(secret)
    }


def _usage_csv(path, rows):
    path.write_text("timestamp,kwh\n" + "".join(f"{t},{v}\n" for t, v in rows), "utf-8")
    return path


def test_baseline_from_csv_gives_one_row_per_reporting_day(tmp_path):
    from datetime import UTC, datetime, timedelta

    rows, t = [], datetime(2010, 3, 1, tzinfo=UTC)
    while t < datetime(2011, 4, 1, tzinfo=UTC):
        rows.append((t.isoformat(), 2.0 if t.year == 2010 else 1.5))
        t += timedelta(hours=1)
    usage = _usage_csv(tmp_path / "usage.csv", rows)
    out = tmp_path / "out.csv"
    result = _run(
        "baseline",
        "--usage",
        str(usage),
        "--baseline-start",
        "2010-03-01",
        "--baseline-end",
        "2010-04-30",
        "--report-start",
        "2011-03-26",
        "--report-end",
        "2011-03-28",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    # 2011-03-27 is the 23-hour DST day: 23 x 1.5 = 34.5 kWh against 23 x 2 = 46 kWh
    assert out.read_text().splitlines() == [
        "date,observed_kwh,baseline_kwh",
        "2011-03-26,36.000,48.000",
        "2011-03-27,34.500,46.000",
        "2011-03-28,36.000,48.000",
    ]


def test_baseline_reports_a_bad_csv_line(tmp_path):
    usage = _usage_csv(
        tmp_path / "usage.csv", [("2011-03-01T00:00:00+01:00", 1.0), ("2011-03-01T01:00:00", 1.0)]
    )
    result = _run(
        "baseline",
        "--usage",
        str(usage),
        "--baseline-start",
        "2010-03-01",
        "--baseline-end",
        "2010-03-31",
        "--report-start",
        "2011-03-01",
        "--report-end",
        "2011-03-02",
    )
    assert result.exit_code == 1
    assert f"{usage}:3: timestamp '2011-03-01T01:00:00' has no UTC offset" in result.output


def test_baseline_rejects_reversed_dates(tmp_path):
    usage = _usage_csv(tmp_path / "usage.csv", [("2011-03-01T00:00:00+01:00", 1.0)])
    result = _run(
        "baseline",
        "--usage",
        str(usage),
        "--baseline-start",
        "2010-03-31",
        "--baseline-end",
        "2010-03-01",
        "--report-start",
        "2011-03-01",
        "--report-end",
        "2011-03-02",
    )
    assert result.exit_code == 2 and "--baseline-end" in result.output


@pytest.mark.parametrize("method", ["regression", "regression-hourly"])
def test_baseline_regression_uses_the_temperature_file(tmp_path, method):
    import math
    from datetime import UTC, datetime, timedelta

    usage, temps = ["timestamp,kwh"], ["timestamp,temp_c"]
    t, origin = datetime(2010, 3, 1, tzinfo=UTC), datetime(2010, 3, 1, tzinfo=UTC)
    while t < datetime(2011, 3, 8, tzinfo=UTC):
        temp = 5 - 12 * math.cos(2 * math.pi * ((t - origin).days + 45) / 365)
        # 100 kWh a day + 4 kWh per degree-day below 15 °C, 10 % less from 2011-03-01
        kwh = (
            (100 + 4 * max(15 - temp, 0))
            / 24
            * (0.9 if t >= datetime(2011, 3, 1, tzinfo=UTC) else 1)
        )
        usage.append(f"{t.isoformat()},{kwh:.5f}")
        temps.append(f"{t.isoformat()},{temp:.3f}")
        t += timedelta(hours=1)
    (tmp_path / "u.csv").write_text("\n".join(usage) + "\n", "utf-8")
    (tmp_path / "t.csv").write_text("\n".join(temps) + "\n", "utf-8")
    args = [
        "baseline",
        "--usage",
        str(tmp_path / "u.csv"),
        "--baseline-start",
        "2010-03-01",
        "--baseline-end",
        "2011-02-28",
        "--report-start",
        "2011-03-02",
        "--report-end",
        "2011-03-06",
        "--timezone",
        "UTC",
        "--method",
        method,
    ]
    missing = _run(*args)
    assert missing.exit_code == 1 and "needs --temperature" in missing.output
    result = _run(*args, "--temperature", str(tmp_path / "t.csv"))
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.output.strip().splitlines()[1:]]
    assert len(rows) == 5
    for _, observed, expected in rows:
        assert float(observed) / float(expected) == pytest.approx(0.9, abs=0.01)


COLLIDING = """[competition]
id = "{cid}"
name = "Tävling {cid}"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-03-14
baseline = {{ method = "previous-year" }}

[[site]]
id = "alfa"
municipality = "Mora kommun"
name = "Mora kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "{meter}"
  topic = "tele/shared/SENSOR"
  format = "tasmota"
"""


def test_files_given_together_may_not_share_meters_or_topics(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(COLLIDING.format(cid="a", meter="mora-main"))
    b.write_text(COLLIDING.format(cid="b", meter="mora-main"))
    result = _run("check-config", str(a), str(b))
    assert result.exit_code == 1
    assert (
        f"{b}:15: [[site]] #1 'alfa', [[site.meter]] #1 'mora-main': meter id 'mora-main' "
        f"is also in {a}:15" in result.output
    )
    assert f"{b}:16:" in result.output and f"topic 'tele/shared/SENSOR' is also in {a}:16" in (
        result.output
    )
    # each file alone is fine
    assert _run("check-config", str(a)).exit_code == 0
    # and serve and ingest refuse to start with both, naming them
    for command in ("serve", "ingest"):
        started = _run(command, "--config", str(a), "--config", str(b), "--store",
                       f"sqlite:///{tmp_path}/s.db")  # fmt: skip
        assert started.exit_code == 2, started.output
        assert "is also in" in started.output and str(a) in started.output


def test_the_same_topic_under_two_meter_ids_is_refused_too(tmp_path):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(COLLIDING.format(cid="a", meter="mora-main"))
    b.write_text(COLLIDING.format(cid="b", meter="mora-other"))
    result = _run("check-config", str(a), str(b))
    assert result.exit_code == 1
    assert "meter id" not in result.output
    assert "topic 'tele/shared/SENSOR' is also in" in result.output

"""`wattleague deploy mosquitto-acl`: files, modes, kept and rotated passwords; JSON logs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

from click.testing import CliRunner

from tests.services import free_port, wait_until
from wattleague.cli import main
from wattleague.mosquitto_passwd import read_passwd, verify_password


def generate(config, out, *extra):
    result = CliRunner().invoke(
        main, ["deploy", "mosquitto-acl", "--config", str(config), "--out", str(out), *extra]
    )
    with open(out / "credentials.csv", newline="") as f:
        return result, {row["username"]: row["password"] for row in csv.DictReader(f)}


def test_files_modes_and_hashes(tmp_path, deploy_competition):
    result, passwords = generate(deploy_competition, tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "credentials.csv").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "passwd").stat().st_mode & 0o777 == 0o600
    hashes = read_passwd(tmp_path / "passwd")
    assert set(hashes) == set(passwords)
    assert all(verify_password(passwords[u], h) for u, h in hashes.items())
    assert {"alfa-main", "weather-mora-smhi", "display-delta-clock", "wattleague-ingest"} <= set(
        hashes
    )


def test_rerun_keeps_passwords_unless_rotated(tmp_path, deploy_competition):
    _, first = generate(deploy_competition, tmp_path)
    passwd_before = (tmp_path / "passwd").read_text()
    result, second = generate(deploy_competition, tmp_path)
    assert second == first
    assert (tmp_path / "passwd").read_text() == passwd_before  # not even re-salted
    assert "0 new" in result.output and f"{len(first)} kept" in result.output
    _, third = generate(deploy_competition, tmp_path, "--rotate-user", "alfa-main")
    assert third["alfa-main"] != first["alfa-main"]
    assert {u: p for u, p in third.items() if u != "alfa-main"} == {
        u: p for u, p in first.items() if u != "alfa-main"
    }
    _, fourth = generate(deploy_competition, tmp_path, "--rotate")
    assert all(fourth[u] != third[u] for u in fourth)


def test_unknown_rotate_user_names_the_known_ones(tmp_path, deploy_competition):
    result = CliRunner().invoke(
        main,
        ["deploy", "mosquitto-acl", "--config", str(deploy_competition), "--out", str(tmp_path),
         "--rotate-user", "nobody"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no broker user nobody" in result.output and "alfa-main" in result.output


def test_unsafe_topic_is_refused_with_its_location(tmp_path):
    from tests.fixtures import one_site_toml

    config = tmp_path / "c.toml"
    text = one_site_toml("evil", "Evil", ["m1"]).replace(
        'id = "m1"\n', 'id = "m1"\n  topic = "a/b "\n'
    )
    config.write_text(text)
    result = CliRunner().invoke(
        main, ["deploy", "mosquitto-acl", "--config", str(config), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "meter 'm1'" in result.output and "'a/b '" in result.output


def test_json_logs_are_one_object_per_line(tmp_path, deploy_competition):
    log = tmp_path / "ingest.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wattleague", "--log-format", "json", "-v", "ingest",
             "--config", str(deploy_competition), "--store", f"sqlite:///{tmp_path}/s.db",
             "--mqtt", f"mqtt://127.0.0.1:{free_port()}"],
            stdout=out, stderr=out,
        )  # fmt: skip
    try:
        wait_until(lambda: "not reachable" in log.read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    warning = next(r for r in records if "not reachable" in r["message"])
    assert warning["level"] == "WARNING" and warning["logger"] == "ingest.mqtt_worker"
    assert warning["ts"].endswith("+00:00") and warning["pid"] == proc.pid


def test_rerun_keeps_the_owner_the_operator_gave_the_files(tmp_path, deploy_competition):
    # README: `chown mosquitto: passwd`; a root re-run (new meter, rotation) must not hand the
    # broker a root-owned 0600 file it cannot read on reload (every client then refused)
    import os

    if os.geteuid() != 0:
        import pytest

        pytest.skip("changing a file's owner needs root")
    generate(deploy_competition, tmp_path)
    os.chown(tmp_path / "passwd", 4321, 4322)
    result, _ = generate(deploy_competition, tmp_path, "--rotate")
    assert result.exit_code == 0, result.output
    stat = (tmp_path / "passwd").stat()
    assert (stat.st_uid, stat.st_gid, stat.st_mode & 0o777) == (4321, 4322, 0o600)


def _two(tmp_path, first: str, second: str):
    from tests.fixtures import one_site_toml

    paths = []
    for cid, extra in (("tavling-a", first), ("tavling-b", second)):
        path = tmp_path / f"{cid}.toml"
        path.write_text(one_site_toml(cid, cid, ["main"], extra=extra))
        paths.append(str(path))
    args = ["deploy", "mosquitto-acl", "--out", str(tmp_path / "o")]
    for p in paths:
        args += ["--config", p]
    return CliRunner().invoke(main, args)


def test_same_meter_id_in_two_competitions_is_not_one_shared_login(tmp_path):
    # two devices (wattleague/tavling-a/alfa/main and wattleague/tavling-b/alfa/main) would
    # get one user and password, each able to publish the other's readings; the loader
    # refuses files given together that share a meter id, naming both
    result = _two(tmp_path, "", "")
    assert result.exit_code == 2, result.output
    assert "meter id 'main' is also in" in result.output
    assert "tavling-a.toml" in result.output and "tavling-b.toml" in result.output
    assert not (tmp_path / "o" / "acl").exists()


def test_clock_prefix_covering_meter_topics_is_refused(tmp_path):
    from tests.fixtures import one_site_toml

    clock = '\n[[display]]\nid = "klocka"\nsite = "alfa"\nkind = "awtrix"\nawtrix_prefix = "{}"\n'
    for prefix, covered in [
        ("wattleague/liten", "wattleague/liten/alfa/m1"),
        ("tele/m2", "tele/m2/SENSOR"),
        ("wattleague", "wattleague/liten/alfa/m1"),
    ]:
        text = one_site_toml("liten", "Liten", ["m1", "m2"], extra=clock.format(prefix))
        text = text.replace('id = "m2"\n', 'id = "m2"\n  topic = "tele/m2/SENSOR"\n')
        config = tmp_path / "c.toml"
        config.write_text(text)
        result = CliRunner().invoke(
            main, ["deploy", "mosquitto-acl", "--config", str(config), "--out", str(tmp_path)]
        )
        assert result.exit_code == 2, (prefix, result.output)
        assert f"awtrix_prefix {prefix!r} covers" in result.output, result.output
        assert "display 'klocka'" in result.output
        assert covered in result.output or "wattleague/#" in result.output


def test_ingest_never_logs_secrets_and_json_logs_are_json_only(tmp_path, deploy_competition):
    log = tmp_path / "ingest.log"
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wattleague", "--log-format", "json", "ingest",
             "--config", str(deploy_competition), "--store", f"sqlite:///{tmp_path}/s.db",
             "--mqtt", f"mqtt://wattleague-ingest:S3cretPw@127.0.0.1:{port}",
             "--metrics-port", str(free_port())],
            stdout=out, stderr=out,
        )  # fmt: skip
    try:
        wait_until(lambda: "ingesting from" in log.read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    assert "S3cretPw" not in text
    assert f"mqtt://wattleague-ingest:***@127.0.0.1:{port}" in text
    records = [json.loads(line) for line in text.splitlines()]  # every line, not just some
    assert any(r["message"].startswith("metrics on http://") for r in records)
    assert any(r["message"].startswith("stopped: ") for r in records)

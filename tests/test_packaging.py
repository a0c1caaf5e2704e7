"""What a user installs: one version, the shipped example, and a wheel that runs on its own.

The slow test builds the sdist and, from it, the wheel (as ``python -m build`` does for a
release), installs the wheel with its dependencies into a new virtual environment outside the
checkout and runs ``wattleague`` from a folder outside it too, so a file that only the checkout
has (pages, examples, …) fails here rather than on a user's machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import tomllib
import venv
import zipfile
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from api.app import create_app
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import load_competition
from tests.services import free_port, wait_until
from wattleague.cli import main

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]
EXAMPLE = ROOT / "deploy" / "examples" / "kommunhus-2011.toml"


def test_the_version_is_the_package_metadata_everywhere(tmp_path):
    """``--version``, ``wattleague.__version__``, ``/healthz`` and the OpenAPI document all say
    pyproject's version, which is written nowhere else."""
    from fastapi.testclient import TestClient

    import wattleague

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output == f"wattleague {VERSION}\n"
    assert wattleague.__version__ == VERSION
    store = SQLiteStore(str(tmp_path / "v.db"))
    try:
        with TestClient(create_app([load_competition(EXAMPLE)], store)) as client:
            assert client.get("/healthz").json()["version"] == VERSION
            assert client.get("/openapi.json").json()["info"]["version"] == VERSION
    finally:
        store.close()
    spelled = [
        rel
        for rel in _working_tree()
        if rel.endswith((".py", ".toml")) and f'"{VERSION}"' in (ROOT / rel).read_text("utf-8")
    ]
    assert spelled == ["pyproject.toml"]


def test_example_prints_the_shipped_competition_which_deploy_examples_links_to():
    result = CliRunner().invoke(main, ["example"])
    assert result.exit_code == 0
    assert result.output == EXAMPLE.read_text("utf-8")
    assert EXAMPLE.resolve() == ROOT / "wattleague" / "examples" / "kommunhus-2011.toml"
    listed = CliRunner().invoke(main, ["example", "--list"])
    assert listed.output.split() == ["kommunhus-2011"]
    wrong = CliRunner().invoke(main, ["example", "kommunhus-2012"])
    assert wrong.exit_code == 2
    assert "no example 'kommunhus-2012'; shipped: kommunhus-2011" in wrong.output


@pytest.mark.timeout(900)  # a new machine downloads the dependencies (~150 MB) once
def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    started = time.monotonic()
    dist = tmp_path / "dist"
    # built from a copy of the working tree, so the build never writes into the checkout
    source = _copy_working_tree(tmp_path / "src")
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)], cwd=tmp_path)
    wheel = next(dist.glob("wattleague-*.whl"))
    assert wheel.name.startswith(f"wattleague-{VERSION}-")
    with zipfile.ZipFile(wheel) as whl:
        assert f"wattleague-{VERSION}.dist-info/licenses/LICENSE" in whl.namelist()

    # a new environment (its own site-packages only), the wheel's dependencies resolved by
    # pip from the index or its cache; this process's pip installs into it (no pip bootstrap)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-compile", str(wheel)],
        cwd=tmp_path,
    )  # fmt: skip
    setup_s = time.monotonic() - started

    work = tmp_path / "work"  # not the checkout: nothing can be imported from it
    work.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "WATTLEAGUE_")) and k != "VIRTUAL_ENV"
    }
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    def wattleague(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return _run([str(env_dir / "bin" / "wattleague"), *args], cwd=work, env=env, **kwargs)

    assert wattleague("--version").stdout == f"wattleague {VERSION}\n"
    where = _run(
        [str(python), "-c", "import api, wattleague; print(api.__file__, wattleague.__file__)"],
        cwd=work,
        env=env,
    ).stdout
    assert str(ROOT) not in where and str(env_dir) in where

    comp = work / "competition.toml"
    comp.write_text(wattleague("example").stdout, "utf-8")
    assert comp.read_text("utf-8") == EXAMPLE.read_text("utf-8")
    checked = wattleague("check-config", str(comp))
    assert "OK — competition 'kommunhus-2011', 7 sites" in checked.stdout

    port = free_port()
    demo = subprocess.Popen(
        [str(env_dir / "bin" / "wattleague"), "demo", "--duration", "10", "--port", str(port),
         "--mqtt-port", "0", "--speed", "600"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def board():
            try:
                r = httpx.get(f"{base}/api/competitions/demo-kommunhus/leaderboard", timeout=5)
            except httpx.HTTPError:
                return None
            return r.json() if r.status_code == 200 else None

        assert len(wait_until(board, timeout_s=60, interval_s=0.5)["entries"]) == 24
        for page in ("/", "/kiosk/soderhamn-kiosk", "/organiser"):  # package data: the pages
            assert httpx.get(base + page, timeout=5).status_code == 200, page
        assert httpx.get(f"{base}/healthz", timeout=5).json()["version"] == VERSION
        _, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, err
    assert "SYNTHETIC" in err and "readings_stored" in err
    print(f"build and install {setup_s:.0f} s, all {time.monotonic() - started:.0f} s")


def _working_tree() -> list[str]:
    """The checkout's files as git sees them: tracked or new, none that .gitignore names."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [
        rel
        for rel in listed.split("\0")
        if rel and ((ROOT / rel).exists() or (ROOT / rel).is_symlink())  # not deleted
    ]


def _copy_working_tree(dest: Path) -> Path:
    """The working tree (uncommitted changes included) copied to ``dest``, symlinks kept."""
    for rel in _working_tree():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target, follow_symlinks=False)
    return dest


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure the assertion shows its output."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{cmd[:5]} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done

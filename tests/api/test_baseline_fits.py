"""The fitting modules (numba for the regressions) load only for the competitions that use
them, and a process that may not make memory executable says what to change.

Each check runs in a fresh interpreter: this test session has loaded numba long ago.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fixtures import COMPETITION_TOML

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "examples" / "kommunhus-2011.toml"
WEATHER = '\n[[weather]]\nid = "smhi"\n'
PREVIOUS_YEAR = 'baseline = { method = "previous-year" }'

# Every page and download a visitor or display can ask for, then the modules loaded.
_SERVE_AND_LIST_MODULES = textwrap.dedent(
    """
    import sys
    from fastapi.testclient import TestClient
    from api.app import create_app
    from ingest.store import open_store
    from scoring.competition_file import load_competitions

    comps = load_competitions(sys.argv[2:])
    with TestClient(create_app(comps, open_store(sys.argv[1]))) as client:
        for comp in comps:
            base = f"/api/competitions/{comp.id}"
            site = comp.sites[0].id
            paths = [base, base + "/leaderboard", base + "/leaderboard?metric=kwh_per_m2",
                     f"{base}/sites/{site}", f"{base}/sites/{site}/series?resolution=day",
                     base + "/rank-history", f"/sites/{comp.id}/{site}",
                     base + "/summary.csv", base + "/summary.xlsx", base + "/summary.pdf",
                     f"{base}/sites/{site}/summary.pdf", "/", "/kiosk", "/healthz", "/metrics"]
            paths += [f"/api/displays/{d.id}/frame?format=txt" for d in comp.displays]
            for path in paths:
                assert client.get(path).status_code == 200, path
    print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("numba", "scoring"))))
    """
)

# MemoryDenyWriteExecute as the kernel applies it (Linux 6.3+), then `wattleague serve`.
_SERVE_WITHOUT_EXECUTABLE_MEMORY = textwrap.dedent(
    """
    import ctypes, sys
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        sys.exit(f"PR_SET_MDWE failed: errno {ctypes.get_errno()} (Linux 6.3+ needed)")
    from wattleague.cli import main
    main(["serve", "--store", sys.argv[1], "--port", "0", "--config", sys.argv[2]])
    """
)


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _loaded_modules(store_url: str, *configs: Path) -> set[str]:
    result = _run(_SERVE_AND_LIST_MODULES, store_url, *map(str, configs))
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_serve_without_a_regression_never_loads_numba(tmp_path):
    loaded = _loaded_modules(f"sqlite:///{tmp_path}/store.db", EXAMPLE)
    assert "scoring.competition" in loaded  # the probe saw the app's modules
    assert not {m for m in loaded if m.startswith(("numba", "scoring.caltrack"))}


def test_billing_sites_load_their_fit_but_not_numba(tmp_path):
    config = tmp_path / "bills.toml"
    text = COMPETITION_TOML.replace('id = "beta"\n', 'id = "beta"\nbaseline_method = "billing"\n')
    assert text != COMPETITION_TOML
    config.write_text(text + WEATHER)
    loaded = _loaded_modules(f"sqlite:///{tmp_path}/store.db", config)
    assert "scoring.caltrack.billing" in loaded
    assert not {m for m in loaded if m.startswith(("numba", "scoring.caltrack.daily"))}


def test_a_regression_competition_loads_numba_when_served(tmp_path):
    config = tmp_path / "regression.toml"
    config.write_text(EXAMPLE.read_text().replace(PREVIOUS_YEAR, _method("regression")) + WEATHER)
    loaded = _loaded_modules(f"sqlite:///{tmp_path}/store.db", config)
    assert {"numba", "scoring.caltrack.daily"} <= loaded


def _method(name: str) -> str:
    return f'baseline = {{ method = "{name}" }}'


@pytest.mark.parametrize("method", ["regression", "regression-daytype", "regression-hourly"])
def test_serve_says_what_to_change_when_memory_cannot_be_executable(tmp_path, method):
    config = tmp_path / "regression.toml"
    text = EXAMPLE.read_text().replace(PREVIOUS_YEAR, _method(method))
    config.write_text(text + WEATHER)
    result = _run(_SERVE_WITHOUT_EXECUTABLE_MEMORY, f"sqlite:///{tmp_path}/store.db", str(config))
    assert "PR_SET_MDWE failed" not in result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"competition 'kommunhus-2011': baseline method {method!r}" in result.stderr
    assert "MemoryDenyWriteExecute=yes" in result.stderr
    assert "previous-year, pre-period, billing" in result.stderr

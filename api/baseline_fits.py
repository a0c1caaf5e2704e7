"""The fitting modules of the baseline methods that fit a model, loaded only when a competition
uses one.

Each method names the modules its fit imports (``BaselineMethod.fit_modules`` in
``scoring.baselines``). The regressions (``scoring.caltrack.daily``; ``regression-hourly``
reads the daily day-type fit for its residuals) run code that numba compiles at run time.
Loading them costs ``serve`` about 0.35 s of CPU and 75 MiB (``python -m bench.operations
--only serve_start``) and needs memory that is written and then executed, which a process
under systemd's ``MemoryDenyWriteExecute=yes`` (or SELinux ``deny_execmem``) may not have, and
a folder to cache the compiled code in: a scoreboard imports them through ``load_fits`` when
it is built, so that ``serve`` without a regression competition never loads numba, and one with
a regression competition that cannot run it stops at start with ``FitUnavailable``, saying
what to change, instead of failing on every request.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from scoring.baselines import METHODS


class FitUnavailable(RuntimeError):
    """A baseline method's fitting code cannot run in this process."""


def load_fits(competition_id: str, methods: Iterable[str]) -> None:
    """Import the fitting modules of ``methods`` (the baseline methods of one competition).

    Raises
    ------
    FitUnavailable
        When numba cannot allocate executable memory here, or has no cache folder it may
        write; the message names the competition, the method and what to change.
    """
    for method in sorted(set(methods)):
        for module in METHODS[method].fit_modules:
            try:
                importlib.import_module(module)
            except OSError as exc:  # llvmlite: "cannot allocate executable memory"
                raise FitUnavailable(
                    f"competition {competition_id!r}: baseline method {method!r} runs code "
                    f"that numba compiles at run time, and this process may not make memory "
                    f"executable ({str(exc.strerror or exc).rstrip('.')}). Under systemd remove "
                    "MemoryDenyWriteExecute=yes from the unit (the shipped "
                    "wattleague-serve.service leaves it out; look for a drop-in with "
                    "`systemctl cat wattleague-serve`), or score this competition with a "
                    f"method that fits no regression ({_uncompiled()})."
                ) from exc
            except RuntimeError as exc:  # numba: "cannot cache function ...: no locator"
                raise FitUnavailable(
                    f"competition {competition_id!r}: baseline method {method!r} runs code "
                    f"that numba compiles and keeps in a cache, and it has no folder it may "
                    f"write ({exc}). Set NUMBA_CACHE_DIR to one (the shipped "
                    "wattleague-serve.service sets /var/cache/wattleague/numba, its "
                    "CacheDirectory=)."
                ) from exc


def _uncompiled() -> str:
    """The methods whose fit runs no compiled code."""
    return ", ".join(name for name, m in METHODS.items() if not m.compiled)

"""Baseline fits kept between runs of ``serve``, so that a restart neither reads a year of every
site's history again nor fits it again (issue 20: 10,000 sites on one InfluxDB).

One file per competition in the cache folder holds, for each baseline method of the
competition, its fit and the fingerprint of each site it scores (``scoring.fingerprint``), and
the store's write mark (``Store.write_mark``) from before the history behind them was read.
A scoreboard (``api.scoreboard``) reuses them in two ways:

1. the store says that no write since that mark touched anything the baselines read
   (``Store.changed_since_mark``: InfluxDB keeps a log of its writes): the fits and their
   fingerprints are used without reading the history;
2. otherwise (SQLite keeps no such log, or something changed) the history is read and
   fingerprinted, and a method whose fingerprints are all as kept reuses its fit.

Beside it, the competition period's hours as last read in full (``KeptPeriod``, plain arrays in
an ``.npz``) with the store's mark from before that read: a restart reads only from the earliest
hour the store changed since.

The file's name is a digest of everything else a fit depends on (``inputs_key``): the
competition's period and baseline settings, its sites with their meters, methods and weather
stations, and the scoring code itself (a digest of the ``scoring`` package's source), so a
changed competition file or a new release never reuses an old fit.

Files are pickles, read through an allowlist (numpy arrays and the classes of ``scoring``:
nothing else can be built from one) and only when this user owns them and nobody else may
write them. A file that cannot be used is logged and replaced by the next fit; the folder is a
cache, never needed for a correct answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import stat
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from scoring.baselines import Fit
from scoring.competition import Competition

log = logging.getLogger(__name__)

FORMAT = "wattleague-fits/1"
SCORING_ROOT = Path(__file__).resolve().parent.parent / "scoring"

# what each kind of kept file is: its suffix, and what a warning calls it
_KINDS = {"fits": (".pickle", "baseline fits"), "period": (".npz", "competition period")}
# what a kept file may build besides scoring's own classes (module, name)
_ALLOWED = {
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("datetime", "date"),
    ("zoneinfo", "ZoneInfo._unpickle"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
}


@dataclass
class KeptFits:
    """The fits of a competition's baseline methods and the store's mark they were read at.

    Attributes
    ----------
    fits : dict of str to (Fit, dict of int to str)
        Method name → its fit and the fingerprint of each site it scores (site index → hex).
    mark : (int, int) or None
        The store's write mark from before the history behind the fits was read (or from the
        last check that nothing changed since); None when the store keeps none.
    """

    fits: dict[str, tuple[Fit, dict[int, str]]]
    mark: tuple[int, int] | None


@dataclass(frozen=True)
class KeptPeriod:
    """The competition period's hours as last read in full, and the store's mark before.

    Attributes
    ----------
    mark : (int, int)
        The store's write mark from before the read.
    until_s : float
        The read covered the hours up to this time [Unix s].
    energy_kwh, measured_s : array (sites, hours)
        What ``ingest.hourly_energy.site_hours`` gave.
    """

    mark: tuple[int, int]
    until_s: float
    energy_kwh: np.ndarray
    measured_s: np.ndarray


class FitCache:
    """The folder the fits are kept in (module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _file(self, kind: str, competition_id: str, key: str) -> Path:
        """The file of ``kind`` ("fits", "period") kept for a competition and ``key``."""
        suffix = _KINDS[kind][0]
        return self.directory / f"{kind}-{_name_part(competition_id)}-{key[:32]}{suffix}"

    def load_period(self, competition_id: str, key: str, shape: tuple) -> KeptPeriod | None:
        """The competition period kept for ``key`` with arrays of ``shape``, or None. Plain
        arrays (``numpy.load`` without pickles)."""
        path = self._file("period", competition_id, key)
        try:
            with open(path, "rb") as f:
                if not _own(f):
                    log.warning("kept period %s ignored: not this user's alone to write", path)
                    return None
                with np.load(f, allow_pickle=False) as kept:
                    mark, until_s = kept["mark"], float(kept["until_s"])
                    energy, measured = kept["energy_kwh"], kept["measured_s"]
        except FileNotFoundError:
            return None
        except Exception as exc:  # a cache: read the period instead
            log.warning("kept period %s ignored: %s", path, exc)
            return None
        if energy.shape != shape or measured.shape != shape or mark.shape != (2,):
            return None
        return KeptPeriod((int(mark[0]), int(mark[1])), until_s, energy, measured)

    def save_period(self, competition_id: str, key: str, kept: KeptPeriod) -> None:
        """Keep the period for ``key`` (``_replace``)."""

        def write(f) -> None:
            np.savez(
                f,
                mark=np.array(kept.mark, dtype=np.int64),
                until_s=np.array(kept.until_s),
                energy_kwh=kept.energy_kwh,
                measured_s=kept.measured_s,
            )

        self._replace("period", competition_id, key, write)

    def load(self, competition_id: str, key: str) -> KeptFits | None:
        """The fits kept for ``key`` (``inputs_key``), or None (none kept, or unusable)."""
        path = self._file("fits", competition_id, key)
        try:
            with open(path, "rb") as f:
                if not _own(f):
                    log.warning("kept fits %s ignored: not this user's alone to write", path)
                    return None
                kept = _AllowlistUnpickler(f).load()
        except FileNotFoundError:
            return None
        except Exception as exc:  # a cache: any unreadable file is fitted again
            log.warning("kept fits %s ignored: %s", path, exc)
            return None
        if not (isinstance(kept, dict) and kept.get("format") == FORMAT and kept["key"] == key):
            log.warning("kept fits %s ignored: another format or competition", path)
            return None
        return KeptFits(fits=kept["fits"], mark=kept["mark"])

    def save(self, competition_id: str, key: str, kept: KeptFits) -> None:
        """Keep ``kept`` for ``key`` (``_replace``)."""
        payload = {"format": FORMAT, "key": key, "fits": kept.fits, "mark": kept.mark}
        self._replace(
            "fits", competition_id, key, lambda f: pickle.dump(payload, f, pickle.HIGHEST_PROTOCOL)
        )

    def _replace(self, kind: str, competition_id: str, key: str, write) -> None:
        """Write ``kind``'s file for ``key`` with ``write(file)`` and put it in place atomically
        (mode 0600), removing the competition's ``kind`` files of other keys; a folder that
        cannot be written is logged (a cache: nothing fails for it)."""
        path = self._file(kind, competition_id, key)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{kind}-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:  # mkstemp: mode 0600
                    write(f)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            for old in self.directory.glob(f"{kind}-{_name_part(competition_id)}-*"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("%s not kept in %s: %s", _KINDS[kind][1], self.directory, exc)


def _own(f) -> bool:
    """Whether the open file is this user's and nobody else may write it."""
    info = os.fstat(f.fileno())
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def fit_cache_at(setting: str) -> FitCache | None:
    """The cache of the ``cache_dir`` setting: 'off' is none; empty is systemd's
    ``$CACHE_DIRECTORY`` (its first folder) or else ``~/.cache/wattleague``. The fits go in
    its ``fits`` folder."""
    if setting.strip().lower() == "off":
        return None
    if setting.strip():
        base = Path(setting).expanduser()
    elif os.environ.get("CACHE_DIRECTORY"):
        base = Path(os.environ["CACHE_DIRECTORY"].split(":")[0])
    else:
        base = Path("~/.cache/wattleague").expanduser()
    return FitCache(base / "fits")


class _AllowlistUnpickler(pickle.Unpickler):
    """Builds numpy arrays, dates and the classes of ``scoring``, and refuses anything else."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if (module == "scoring" or module.startswith("scoring.")) and "." not in name:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"kept fits may not hold {module}.{name}")


def inputs_key(competition: Competition) -> str:
    """SHA-256 (hex) of everything a competition's fits depend on besides the stored data."""
    info = competition.competition
    described = {
        "format": FORMAT,
        "version": metadata.version("wattleague"),
        "scoring": scoring_digest(),
        "competition": info.id,
        "period": [info.start.isoformat(), info.end.isoformat()],
        "baseline": [info.baseline.method, info.baseline.weeks],
        "holidays": info.holidays,
        "timezone": info.timezone,
        "sites": [
            [
                s.id,
                [m.id for m in s.meters],
                competition.baseline_method_of(s),
                competition.station_for(s),
            ]
            for s in competition.sites
        ],
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


@cache
def scoring_digest() -> str:
    """SHA-256 (hex) of the ``scoring`` package's Python source: a changed method, in a release
    or a checkout, never reuses a fit of the old code."""
    digest = hashlib.sha256()
    for path in sorted(SCORING_ROOT.rglob("*.py")):
        digest.update(str(path.relative_to(SCORING_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _name_part(competition_id: str) -> str:
    """A file-name part for a competition id: its safe characters, then a digest of it."""
    safe = "".join(c for c in competition_id if c.isalnum() or c in "-_")[:40]
    return f"{safe}-{hashlib.sha256(competition_id.encode()).hexdigest()[:8]}"

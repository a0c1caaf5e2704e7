"""A closed competition's scoreboard: the snapshot certified at closing, served for good.

Closing a competition stores its results bundle (``api.closing_bundle``), which holds the
scoreboard's snapshot as of the competition's end (``encode_snapshot``: every array of it, as
JSON). ``FrozenScoreboard`` is a ``Scoreboard`` whose snapshot is that stored one: the same
views (leaderboard, site view, series, rank history, summaries, display frames) are drawn from
it, and no reading that arrives later, no organiser edit and no restart can change them.
"""

from __future__ import annotations

import dataclasses
import importlib
import math

import numpy as np

from api.scoreboard import Scoreboard, Snapshot
from ingest.store.base import Store
from scoring.competition import Competition

# modules whose dataclasses a stored snapshot may name (nothing else is imported on decode)
_MODULES = ("scoring.", "ingest.", "api.")
_NOT_STORED = ("grid",)  # rebuilt from the competition


def encode_snapshot(snap: Snapshot) -> dict:
    """``snap`` as a JSON object (no NaN: ``decode_snapshot`` reads it back exactly); the
    live power is left out (a closed competition has none) and the hour grid too (it follows
    from the competition)."""
    fields = {
        f.name: _encode(getattr(snap, f.name))
        for f in dataclasses.fields(snap)
        if f.name not in _NOT_STORED
    }
    fields["live_power_w"] = _encode(np.full(len(snap.live_power_w), np.nan))
    return fields


def decode_snapshot(stored: dict, board: Scoreboard) -> Snapshot:
    """The snapshot ``encode_snapshot`` stored, on ``board``'s hour grid; ``ValueError`` when
    it does not fit the competition (another number of sites or hours)."""
    values = {name: _decode(value) for name, value in stored.items()}
    values["grid"] = board.grid
    known = {f.name for f in dataclasses.fields(Snapshot)}
    values = {k: v for k, v in values.items() if k in known}
    missing = known - set(values)
    if "fingerprints" in missing:  # a bundle from before fingerprints were part of a snapshot
        values["fingerprints"] = ()
        missing.discard("fingerprints")
    if missing:
        raise ValueError(f"the stored snapshot lacks {', '.join(sorted(missing))}")
    shape = (len(board.site_ids), board.grid.hour_start_s.size)
    if values["actual"].energy_kwh.shape != shape:
        raise ValueError(
            f"the stored snapshot has {values['actual'].energy_kwh.shape} sites x hours; the "
            f"competition has {shape}"
        )
    return Snapshot(**values)


class FrozenScoreboard(Scoreboard):
    """The scoreboard of a closed competition: its snapshot is the one stored at closing.

    ``closed`` (when, the bundle's SHA-256) is added to the leaderboard and site views so
    everyone can see the results are final; ``actions`` are the sites' annotated actions with
    their effects as at closing (site index → list).
    """

    def __init__(
        self,
        competition: Competition,
        store: Store,
        stored_snapshot: dict,
        actions: dict[int, list[dict]],
        closed: dict,
    ) -> None:
        as_of_s = float(stored_snapshot["as_of_s"])
        super().__init__(competition, store, clock=lambda: as_of_s)
        self._frozen = decode_snapshot(stored_snapshot, self)
        self._stored_actions = actions
        self.closed = closed

    def snapshot(self) -> Snapshot:
        return self._frozen

    def recent_snapshot(self, max_age_s: float = 0.0) -> Snapshot:
        return self._frozen

    def forget_history(self) -> None:
        """Nothing to forget: the results are frozen."""

    def _actions(self, snap: Snapshot, i: int) -> list[dict]:
        return self._stored_actions.get(i, [])

    def leaderboard(self, metric: str = "reduction") -> dict:
        return {**super().leaderboard(metric), "closed": self.closed}

    def site_detail(self, i: int) -> dict:
        return {**super().site_detail(i), "closed": self.closed}


def _encode(value: object) -> object:
    if isinstance(value, np.ndarray):
        flat = value.ravel().tolist()
        if value.dtype.kind == "f":
            flat = [_finite(v) for v in flat]
        return {"ndarray": value.dtype.str, "shape": list(value.shape), "values": flat}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        return {
            "dataclass": f"{cls.__module__}:{cls.__qualname__}",
            "fields": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return _encode(value.item())
    if isinstance(value, float):
        return _finite(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    raise ValueError(f"a snapshot value of type {type(value).__name__} cannot be stored")


def _finite(v: float) -> object:
    """A float as JSON: non-finite values as text (JSON has no NaN)."""
    return v if math.isfinite(v) else {"float": repr(v)}


def _decode(value: object) -> object:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "ndarray" in value:
        dtype = np.dtype(value["ndarray"])
        flat = value["values"]
        if dtype.kind == "f":
            flat = [float(v["float"]) if isinstance(v, dict) else v for v in flat]
        return np.array(flat, dtype=dtype).reshape(value["shape"])
    if "dataclass" in value:
        module, _, name = value["dataclass"].partition(":")
        if not module.startswith(_MODULES):
            raise ValueError(f"a stored snapshot names {value['dataclass']!r}, not ours")
        cls = getattr(importlib.import_module(module), name)
        return cls(**{k: _decode(v) for k, v in value["fields"].items()})
    if "tuple" in value:
        return tuple(_decode(v) for v in value["tuple"])
    if "float" in value:
        return float(value["float"])
    if "dict" in value:
        return {k: _decode(v) for k, v in value["dict"].items()}
    raise ValueError(f"a stored snapshot value {str(value)[:80]} is not one we wrote")

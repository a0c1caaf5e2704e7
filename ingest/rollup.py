"""Hourly energy kept up to date as readings arrive, in any order.

Each chain (register, power) of a meter contributes the energy of its consecutive pairs to the
UTC hours they span. A new reading between two stored ones replaces the pair (prev, next) by
(prev, new) and (new, next): subtract one contribution, add two. Everything is additive, so the
store only touches the hours around the new readings, and the result equals a recomputation
from all readings (a property test checks this).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ingest.intervals import power_pair_energy, register_pair_energy
from scoring.hourly import split_into_hours

REGISTER_MAX_GAP_S = 3900.0  # hourly registers (history, imports) still count as measured
POWER_MAX_GAP_S = 900.0  # power is integrated over at most 15 minutes between samples
MEASURED_FOR_SCALING_S = 1800.0


@dataclass(frozen=True, slots=True)
class Pair:
    """Two consecutive readings of one chain of one meter: ``kind`` is "reg" or "pow"."""

    meter_id: str
    kind: str
    t0_s: float
    v0: float
    t1_s: float
    v1: float


Cells = dict[tuple[str, float], list[float]]  # (meter, hour_s) → [reg_kwh, reg_s, pow_kwh, pow_s]


def new_cells() -> Cells:
    return defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])


def add_pairs(cells: Cells, pairs: list[Pair], sign: float = 1.0) -> None:
    """Add (sign=+1) or remove (sign=-1) the hourly contributions of ``pairs`` to ``cells``."""
    for kind, column in (("reg", 0), ("pow", 2)):
        chosen = [p for p in pairs if p.kind == kind and p.t1_s > p.t0_s]
        if not chosen:
            continue
        t0 = np.array([p.t0_s for p in chosen])
        t1 = np.array([p.t1_s for p in chosen])
        v0 = np.array([p.v0 for p in chosen])
        v1 = np.array([p.v1 for p in chosen])
        if kind == "reg":
            energy, measured = register_pair_energy(v0, v1, t1 - t0, REGISTER_MAX_GAP_S)
        else:
            energy, measured = power_pair_energy(v0, v1, t1 - t0, POWER_MAX_GAP_S)
        index, hour, kwh, seconds = split_into_hours(t0, t1, energy, measured)
        for i, h, e, s in zip(
            index.tolist(), hour.tolist(), kwh.tolist(), seconds.tolist(), strict=True
        ):
            cell = cells[(chosen[i].meter_id, h)]
            cell[column] += sign * e
            cell[column + 1] += sign * s


def chain_pairs(meter_id: str, kind: str, ts_s: list[float], values: list[float]) -> list[Pair]:
    """Consecutive pairs of one chain given in time order."""
    return [
        Pair(meter_id, kind, ts_s[i], values[i], ts_s[i + 1], values[i + 1])
        for i in range(len(ts_s) - 1)
    ]


def combine_chains(
    reg_kwh: np.ndarray, reg_s: np.ndarray, pow_kwh: np.ndarray, pow_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Energy [kWh] and measured time [s] of each hour from its two chains.

    The register wins where it measured at least as long as power did (its energy is exact);
    otherwise integrated power is used, scaled to the whole hour when at least half of it was
    measured, so an outage inside a counted hour does not show up as a saving.
    """
    use_reg = reg_s >= pow_s
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(pow_s >= MEASURED_FOR_SCALING_S, pow_kwh * 3600.0 / pow_s, pow_kwh)
    energy = np.where(use_reg, reg_kwh, scaled)
    measured = np.clip(np.where(use_reg, reg_s, pow_s), 0.0, 3600.0)
    return np.where(np.abs(energy) < 1e-12, 0.0, energy), measured


def cells_from_readings(readings: list[tuple[str, float, float | None, float | None]]) -> Cells:
    """Hourly cells recomputed from all (meter_id, ts_s, energy_kwh, power_w) readings."""
    by_meter: dict[str, list[tuple]] = defaultdict(list)
    for r in readings:
        by_meter[r[0]].append(r)
    cells = new_cells()
    for meter, rows in by_meter.items():
        rows.sort(key=lambda r: r[1])
        for kind, col in (("reg", 2), ("pow", 3)):
            chain = [(r[1], r[col]) for r in rows if r[col] is not None]
            add_pairs(cells, chain_pairs(meter, kind, [t for t, _ in chain],
                                         [v for _, v in chain]))
    return cells

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


Cells = dict[tuple[str, float], list[float]]  # (meter, hour_s) → [reg_kwh, reg_s, pow_kwh, pow_s]


def new_cells() -> Cells:
    return defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])


@dataclass(frozen=True)
class Pieces:
    """A chain's pairs cut at UTC hours: one row per (pair, hour) piece."""

    meter_ids: np.ndarray  # str per piece
    start_s: np.ndarray  # piece bounds [Unix s]
    end_s: np.ndarray
    hour_s: np.ndarray  # the piece's UTC hour [Unix s]
    energy_kwh: np.ndarray
    measured_s: np.ndarray


def chain_pieces(meter_ids: np.ndarray, ts_s: np.ndarray, values: np.ndarray, kind: str) -> Pieces:
    """Pairs of consecutive readings of the same meter (rows sorted by meter, then time),
    turned into energy per hour piece (see ``intervals`` for the rules of each kind).

    ``values`` are register values [kWh] for kind "reg" and power [W] for kind "pow".
    """
    meter_ids = np.asarray(meter_ids)
    ts_s = np.asarray(ts_s, dtype=float)
    values = np.asarray(values, dtype=float)
    pair = (meter_ids[:-1] == meter_ids[1:]) & (ts_s[1:] > ts_s[:-1])
    t0, t1 = ts_s[:-1][pair], ts_s[1:][pair]
    v0, v1 = values[:-1][pair], values[1:][pair]
    if kind == "reg":
        energy, measured = register_pair_energy(v0, v1, t1 - t0, REGISTER_MAX_GAP_S)
    else:
        energy, measured = power_pair_energy(v0, v1, t1 - t0, POWER_MAX_GAP_S)
    index, hour, kwh, seconds = split_into_hours(t0, t1, energy, measured)
    return Pieces(
        meter_ids[:-1][pair][index],
        np.maximum(t0[index], hour),
        np.minimum(t1[index], hour + 3600.0),
        hour,
        kwh,
        seconds,
    )


def add_chain(
    cells: Cells,
    meter_ids: np.ndarray,
    ts_s: np.ndarray,
    values: np.ndarray,
    kind: str,
    sign: float = 1.0,
    names: list[str] | None = None,
) -> None:
    """Add (sign=+1) or remove (sign=-1) the hourly contributions of a chain's pairs.

    Parameters
    ----------
    cells : Cells
        Accumulator, updated in place.
    meter_ids : array of str (or of int codes into ``names``)
        Meter of each reading; readings sorted by meter, then time. Consecutive readings of
        the same meter form the pairs.
    ts_s : array
        Reading times [Unix s].
    values : array
        Register values [kWh] for kind "reg", power [W] for kind "pow".
    names : list of str, optional
        Meter names when ``meter_ids`` are integer codes.
    """
    pieces = chain_pieces(meter_ids, ts_s, values, kind)
    if pieces.hour_s.size == 0:
        return
    column = 0 if kind == "reg" else 2
    # aggregate pieces per (meter, hour) before touching the dict: one entry per cell
    if names is None:
        names, meter_code = np.unique(pieces.meter_ids.astype(str), return_inverse=True)
    else:
        meter_code = pieces.meter_ids.astype(np.int64)
    hour_index = (pieces.hour_s // 3600.0).astype(np.int64)
    key = meter_code.astype(np.int64) * (1 << 40) + (hour_index - hour_index.min())
    unique_keys, inverse = np.unique(key, return_inverse=True)
    kwh_sum = np.bincount(inverse, weights=pieces.energy_kwh)
    seconds_sum = np.bincount(inverse, weights=pieces.measured_s)
    if not (np.isfinite(kwh_sum).all() and np.isfinite(seconds_sum).all()):
        # validation keeps every value plausible; if one still slips through, the store must
        # refuse the batch (its writer isolates the message) rather than keep inf or NaN
        raise ValueError(
            f"non-finite hourly energy from the {kind} chain of "
            f"{', '.join(sorted({str(names[c]) for c in meter_code.tolist()}))[:200]}"
        )
    first = np.zeros(unique_keys.size, dtype=np.int64)
    first[inverse[::-1]] = np.arange(inverse.size)[::-1]
    for j, (e, s) in enumerate(zip(kwh_sum.tolist(), seconds_sum.tolist(), strict=True)):
        cell = cells[(str(names[meter_code[first[j]]]), float(pieces.hour_s[first[j]]))]
        cell[column] += sign * e
        cell[column + 1] += sign * s


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
    rows = sorted(readings, key=lambda r: (r[0], r[1]))
    cells = new_cells()
    for kind, col in (("reg", 2), ("pow", 3)):
        chain = [r for r in rows if r[col] is not None]
        if chain:
            add_chain(
                cells,
                np.array([r[0] for r in chain], dtype=object),
                np.array([r[1] for r in chain]),
                np.array([r[col] for r in chain]),
                kind,
            )
    return cells

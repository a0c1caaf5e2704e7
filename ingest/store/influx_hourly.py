"""The InfluxDB store's hourly rollup: one ``hourly`` point per meter and UTC hour.

Schema: measurement ``hourly``, tag ``meter``; fields ``reg_kwh``, ``reg_s`` (the register
chain's energy [kWh] and measured time [s] in the hour) and ``pow_kwh``, ``pow_s`` (the power
chain's); time = the hour's start. Each value is the sum of the ``energy`` pieces of that
chain in that hour, so a read is one point per meter-hour whatever the meter's reading rate.

The writer (``InfluxStore``) writes, in the same request stream as the readings and pieces,
the new totals of every (meter, chain, hour) its pieces touch; only the chain's two fields are
written (InfluxDB merges the fields of a point written again at the same series and time).
A total is the sum of the chain's pieces in the hour after the write, worked out so that
writing a batch again (a replay after a partial write) gives the same totals:

- a chain extended after its tail: the stored pieces of the tail's hour (those before the
  tail: the batch's own lie after it) plus the batch's pieces. The stored part is remembered
  per chain (``OpenHours``) and used while the chain's tail is the one it was computed at and
  the hour's stored total is still the one written (one small read a batch: another process's
  late reading, or a partial write, changes it); else InfluxDB sums it (``tail_sums``);
- a meter with late readings: the stored pieces of the hours its batch pieces touch are read
  (``stored_pieces``) and the batch's pieces (zeros over replaced ones, the new ones) laid
  over them by time, as InfluxDB does.

A store written before the rollup existed has pieces but no ``hourly`` points: ``backfill``
sums the pieces per hour into it and then writes the ``schema`` marker; until that marker is
there, ``read_hourly`` reads the pieces as before (``wattleague deploy influx-rollup``).
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable

import numpy as np

from ingest.rollup import Pieces
from ingest.store.influx_http import InfluxHTTP, series_rows
from ingest.store.influxql import any_of, literal
from ingest.store.line_protocol import decode_tag, tag_value

ROLLUP_VERSION = 1  # the ``schema`` point's ``hourly_rollup`` once the rollup is complete
OPEN_HOURS_MAX = 200_000  # chains whose open hour is remembered (about 100 B each)
STATEMENTS_PER_QUERY = 50
METERS_PER_STATEMENT = 100
BACKFILL_METERS = 50  # meters a backfill step reads
BACKFILL_SPAN_S = 31 * 86400  # time a backfill step reads, at most [s]

Cell = tuple[str, str, float]  # (meter, chain "reg"/"pow", hour start [Unix s])


def piece_records(pieces: Pieces, kind: str, middle_ms: np.ndarray) -> list[tuple]:
    """(meter, kind, hour_s, middle_ms, kwh, measured_s) of each piece, as written."""
    return list(
        zip(
            pieces.meter_ids.tolist(),
            [kind] * pieces.hour_s.size,
            pieces.hour_s.astype(float).tolist(),
            middle_ms.tolist(),
            np.round(pieces.energy_kwh.astype(float), 12).tolist(),
            pieces.measured_s.astype(float).tolist(),
            strict=True,
        )
    )


class OpenHours:
    """Per chain (meter, kind): the sum of its stored pieces in the hour of its tail, as of
    that tail. Valid only while the chain's tail is still that reading (one writer per meter:
    the store's documented rule)."""

    def __init__(self, max_chains: int = OPEN_HOURS_MAX) -> None:
        self._sums: OrderedDict[tuple[str, str], tuple[int, float, float, float]] = OrderedDict()
        self._max = max_chains

    def get(self, meter: str, kind: str, tail_ms: int) -> tuple[float, float] | None:
        hit = self._sums.get((meter, kind))
        if hit is None or hit[0] != tail_ms:
            return None
        return hit[2], hit[3]

    def put(self, meter: str, kind: str, tail_ms: int, kwh: float, seconds: float) -> None:
        self._sums[(meter, kind)] = (tail_ms, _hour_of_ms(tail_ms), kwh, seconds)
        self._sums.move_to_end((meter, kind))
        while len(self._sums) > self._max:
            self._sums.popitem(last=False)

    def forget(self, meters: set[str]) -> None:
        for key in [k for k in self._sums if k[0] in meters]:
            del self._sums[key]


def _hour_of_ms(ts_ms: int) -> float:
    return float(ts_ms // 3_600_000 * 3600)


def stored_totals(
    http: InfluxHTTP, wanted: list[tuple[str, str, float]]
) -> dict[Cell, tuple[float, float]]:
    """The stored ``hourly`` totals [kWh, s] of (meter, kind, hour_s) cells: one statement per
    hour, ``METERS_PER_STATEMENT`` meters each, 50 statements a request."""
    by_hour: dict[float, set[str]] = defaultdict(set)
    for meter, _, hour_s in wanted:
        by_hour[hour_s].add(meter)
    statements = []
    for hour_s, meters in sorted(by_hour.items()):
        names = sorted(meters)
        for lo in range(0, len(names), METERS_PER_STATEMENT):
            statements.append(
                'SELECT "reg_kwh", "reg_s", "pow_kwh", "pow_s" FROM "hourly" WHERE '
                f"{any_of('meter', names[lo : lo + METERS_PER_STATEMENT])} AND "
                f'time = {int(hour_s) * 1000}ms GROUP BY "meter"'
            )
    out: dict[Cell, tuple[float, float]] = {}
    for lo in range(0, len(statements), STATEMENTS_PER_QUERY):
        for result in http.query(";".join(statements[lo : lo + STATEMENTS_PER_QUERY])):
            for tags, row in series_rows(result):
                meter, hour_s = decode_tag(tags["meter"]), float(row["time"] // 1000)
                for kind in ("reg", "pow"):
                    out[(meter, kind, hour_s)] = (
                        float(row.get(f"{kind}_kwh") or 0.0),
                        float(row.get(f"{kind}_s") or 0.0),
                    )
    return out


def _same(stored: tuple[float, float] | None, remembered: tuple[float, float]) -> bool:
    """Whether a stored total is the one written (as 12 significant digits)."""
    stored = stored or (0.0, 0.0)
    return all(
        abs(a - _clean(b)) <= 1e-9 * max(1.0, abs(b))
        for a, b in zip(stored, remembered, strict=True)
    )


def tail_sums(
    http: InfluxHTTP, wanted: list[tuple[str, str, int]]
) -> dict[tuple[str, str], tuple[float, float]]:
    """Sum [kWh, s] of each chain's stored pieces in its tail's hour before the tail, for
    (meter, kind, tail_ms) in ``wanted``: InfluxDB sums them, 50 chains a request."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for lo in range(0, len(wanted), STATEMENTS_PER_QUERY):
        group = wanted[lo : lo + STATEMENTS_PER_QUERY]
        statements = [
            f'SELECT sum("kwh"), sum("measured_s") FROM "energy" WHERE "meter" = {literal(m)} '
            f'AND "chain" = {literal(k)} AND time >= {int(_hour_of_ms(t)) * 1000}ms '
            f"AND time < {int(t)}ms"
            for m, k, t in group
        ]
        for (meter, kind, _), result in zip(group, http.query(";".join(statements)), strict=True):
            out[(meter, kind)] = (0.0, 0.0)
            for _, row in series_rows(result):
                out[(meter, kind)] = (float(row["sum"] or 0.0), float(row["sum_1"] or 0.0))
    return out


def stored_pieces(
    http: InfluxHTTP, spans: list[tuple[str, str, float, float]]
) -> dict[tuple[str, str], dict[int, tuple[float, float]]]:
    """The stored pieces {middle_ms: (kwh, measured_s)} of each (meter, kind, first hour_s,
    last hour_s) in ``spans``, 50 spans a request."""
    out: dict[tuple[str, str], dict[int, tuple[float, float]]] = {}
    for lo in range(0, len(spans), STATEMENTS_PER_QUERY):
        group = spans[lo : lo + STATEMENTS_PER_QUERY]
        statements = [
            f'SELECT "kwh", "measured_s" FROM "energy" WHERE "meter" = {literal(m)} '
            f'AND "chain" = {literal(k)} AND time >= {int(a) * 1000}ms '
            f"AND time < {int(b + 3600) * 1000}ms"
            for m, k, a, b in group
        ]
        for (meter, kind, _, _), result in zip(
            group, http.query(";".join(statements)), strict=True
        ):
            out[(meter, kind)] = {
                int(row["time"]): (float(row["kwh"]), float(row["measured_s"]))
                for _, row in series_rows(result)
            }
    return out


def rollup_cells(
    http: InfluxHTTP,
    open_hours: OpenHours,
    records: list[tuple],
    tails_before: dict[tuple[str, str], int],
    late_meters: set[str],
    extended: dict[tuple[str, str], dict[float, list[float]]],
) -> dict[Cell, tuple[float, float]]:
    """The totals [kWh, s] after a write of every (meter, kind, hour) its pieces touch.

    ``records`` are the batch's pieces (``piece_records``) in the order written (a later one
    at the same time replaces an earlier one, zeros included); ``tails_before`` each chain's
    tail [ms] before the batch; ``late_meters`` the meters with readings before their tail;
    ``extended`` the batch's pieces of the other meters' chains, summed per hour.
    """
    batch: dict[tuple[str, str], dict[int, tuple[float, float, float]]] = defaultdict(dict)
    for meter, kind, hour_s, middle_ms, kwh, seconds in records:
        batch[(meter, kind)][middle_ms] = (hour_s, kwh, seconds)
    cells: dict[Cell, list[float]] = defaultdict(lambda: [0.0, 0.0])
    # meters with late readings: stored pieces of the touched hours, the batch's laid over them
    late = [key for key in batch if key[0] in late_meters]
    spans = []
    for key in late:
        hours = [p[0] for p in batch[key].values()]
        spans.append((*key, min(hours), max(hours)))
    stored = stored_pieces(http, spans) if spans else {}
    for key in late:
        merged = {t: (_hour_of_ms(t), kwh, s) for t, (kwh, s) in stored.get(key, {}).items()}
        touched = {p[0] for p in batch[key].values()}
        merged.update(batch[key])
        for hour_s, kwh, seconds in merged.values():
            if hour_s in touched:
                cell = cells[(*key, hour_s)]
                cell[0] += kwh
                cell[1] += seconds
    # chains extended after their tail: the tail hour's stored sum, then the batch's pieces
    missing = []
    bases: dict[tuple[str, str], tuple[float, float]] = {}
    hits: dict[tuple[str, str], tuple[float, float]] = {}
    for key in extended:
        tail_ms = tails_before.get(key)
        if tail_ms is None:
            bases[key] = (0.0, 0.0)  # a new chain: nothing stored
            continue
        hit = open_hours.get(*key, tail_ms)
        if hit is None:
            missing.append((*key, tail_ms))
        else:
            hits[key] = hit
    # a remembered sum holds while the stored total of that hour is still the one this
    # process wrote: another process's late reading there, or a partial write of this batch,
    # changed it; then InfluxDB sums the pieces before the tail
    stored = stored_totals(http, [(*key, _hour_of_ms(tails_before[key])) for key in hits])
    for key, hit in hits.items():
        if _same(stored.get((*key, _hour_of_ms(tails_before[key]))), hit):
            bases[key] = hit
        else:
            missing.append((*key, tails_before[key]))
    bases.update(tail_sums(http, missing) if missing else {})
    for key in extended:
        tail_ms = tails_before.get(key)
        if tail_ms is not None:
            cell = cells[(*key, _hour_of_ms(tail_ms))]
            cell[0] += bases[key][0]
            cell[1] += bases[key][1]
        for hour_s, (kwh, seconds) in extended[key].items():
            cell = cells[(*key, hour_s)]
            cell[0] += kwh
            cell[1] += seconds
    return {key: (v[0], v[1]) for key, v in cells.items()}


def remember_tails(
    open_hours: OpenHours,
    cells: dict[Cell, tuple[float, float]],
    tails_after: dict[tuple[str, str], int],
) -> None:
    """After a write: each written chain's new tail and the sum of its pieces in its hour."""
    for (meter, kind), tail_ms in tails_after.items():
        kwh, seconds = cells.get((meter, kind, _hour_of_ms(tail_ms)), (0.0, 0.0))
        open_hours.put(meter, kind, tail_ms, kwh, seconds)


def hourly_lines(cells: dict[Cell, tuple[float, float]]) -> list[str]:
    """``hourly`` lines (ms precision) of the cells: the chain's two fields only."""
    return [
        f"hourly,meter={tag_value(meter)} {kind}_kwh={_clean(kwh):.12g},"
        f"{kind}_s={_clean(seconds):.12g} {int(hour_s) * 1000}"
        for (meter, kind, hour_s), (kwh, seconds) in cells.items()
    ]


def _clean(value: float) -> float:
    """Sums of pieces that cancel leave float dust: zero it (no meter measures 1e-9 kWh)."""
    return 0.0 if abs(value) < 1e-9 else value


def resum_lines(http: InfluxHTTP, meters: list[str], start_s: float, end_s: float) -> list[str]:
    """``hourly`` lines of ``meters`` over [start_s, end_s) summed from their pieces by
    InfluxDB (hours without pieces get no line)."""
    where = (
        f"{any_of('meter', meters)} AND time >= {int(start_s) * 1000}ms AND "
        f"time < {int(end_s) * 1000}ms"
    )
    (result,) = http.query(
        f'SELECT sum("kwh"), sum("measured_s") FROM "energy" WHERE {where} '
        'GROUP BY time(1h), "meter", "chain" fill(none)'
    )
    cells = {}
    for tags, row in series_rows(result):
        key = (decode_tag(tags["meter"]), tags["chain"], float(row["time"] // 1000))
        cells[key] = (float(row["sum"] or 0.0), float(row["sum_1"] or 0.0))
    return hourly_lines(cells)


def rollup_complete(http: InfluxHTTP) -> bool:
    """Whether the ``hourly`` rollup holds every piece's hour: the ``schema`` marker says so,
    or the database has no pieces yet (a new store: the marker is written then)."""
    (result,) = http.query('SELECT last("hourly_rollup") FROM "schema"')
    if any((row.get("last") or 0) >= ROLLUP_VERSION for _, row in series_rows(result)):
        return True
    (result,) = http.query('SHOW SERIES FROM "energy" LIMIT 1')
    if any(True for _ in series_rows(result)):
        return False
    mark_complete(http)
    return True


def mark_complete(http: InfluxHTTP) -> None:
    http.write([f"schema hourly_rollup={ROLLUP_VERSION}i 0"])


def backfill(
    http: InfluxHTTP,
    read_pieces: Callable[[list[str], float, float], dict],
    progress: Callable[[str], None] = lambda text: None,
) -> tuple[int, int]:
    """Sum every meter's pieces per hour into ``hourly`` (a store written before the rollup),
    ``BACKFILL_METERS`` meters over ``BACKFILL_SPAN_S`` at a time (bounded memory), then mark
    the rollup complete. ``read_pieces(meters, start_s, end_s)`` is the store's hourly read
    from the pieces (``MeterHours`` by meter). Safe to run again, and while ingest writes: the
    hours it writes are the sums of the pieces, which is what the writer keeps there too; the
    last two hours are summed again at the end, after any writes that raced with the first pass.

    Returns (meters, hourly points written)."""
    (known,) = http.query('SHOW TAG VALUES FROM "energy" WITH KEY = "meter"')
    meters = sorted(decode_tag(row["value"]) for _, row in series_rows(known))
    if not meters:
        mark_complete(http)
        return 0, 0
    (first,) = http.query('SELECT first("kwh") FROM "energy"')
    (last,) = http.query('SELECT last("kwh") FROM "energy"')
    first_s = min(row["time"] for _, row in series_rows(first)) // 1000 // 3600 * 3600
    last_s = max(row["time"] for _, row in series_rows(last)) // 1000 // 3600 * 3600 + 3600

    def copy(group: list[str], start_s: float, end_s: float) -> int:
        lines = []
        for meter, h in read_pieces(group, start_s, end_s).items():
            cells = {}
            for i, hour_s in enumerate(h.hour_s.tolist()):
                # a chain without pieces in the hour gets no fields (as the writer leaves it)
                if h.reg_kwh[i] or h.reg_s[i]:
                    cells[(meter, "reg", hour_s)] = (float(h.reg_kwh[i]), float(h.reg_s[i]))
                if h.pow_kwh[i] or h.pow_s[i]:
                    cells[(meter, "pow", hour_s)] = (float(h.pow_kwh[i]), float(h.pow_s[i]))
            lines += hourly_lines(cells)
        http.write(lines)
        return len(lines)

    written = 0
    for lo in range(0, len(meters), BACKFILL_METERS):
        group = meters[lo : lo + BACKFILL_METERS]
        for a in range(first_s, last_s, BACKFILL_SPAN_S):
            written += copy(group, a, min(a + BACKFILL_SPAN_S, last_s))
        progress(f"{min(lo + BACKFILL_METERS, len(meters))} of {len(meters)} meters")
    mark_complete(http)
    for lo in range(0, len(meters), BACKFILL_METERS):  # the hours ingest may have raced
        copy(meters[lo : lo + BACKFILL_METERS], last_s - 7200, last_s + 86400)
    return len(meters), written


def read_rollup(
    http: InfluxHTTP, meters: list[str] | None, start_s: float, end_s: float
) -> list[tuple[str, np.ndarray]]:
    """(meter, rows of hour_s, reg_kwh, reg_s, pow_kwh, pow_s) from ``hourly``, of ``meters``
    (None: every meter with hours in the span)."""
    which = "" if meters is None else f"{any_of('meter', meters)} AND "
    (result,) = http.query(
        f'SELECT "reg_kwh", "reg_s", "pow_kwh", "pow_s" FROM "hourly" WHERE {which}'
        f"time >= {int(start_s * 1000)}ms AND "
        f'time < {int(end_s * 1000)}ms GROUP BY "meter"'
    )
    out = []
    for series in result.get("series", []) or []:
        values = series["values"]
        if not values:
            continue
        a = np.array(values, dtype=float)  # None (a chain never written) -> nan
        a[:, 0] /= 1000.0
        out.append((decode_tag(series["tags"]["meter"]), np.nan_to_num(a)))
    return out

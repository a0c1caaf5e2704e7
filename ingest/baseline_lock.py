"""The baseline lock: which incoming data would change a locked baseline, and is held instead.

From a competition's first hour (local midnight of its first day, ``BaselineLock.first_hour_ms``)
its sites' baselines are locked (issue 19): data received from then on that falls in the history
a site's baseline reads is not applied but held for an organiser (``ingest.store.held``). What a
baseline reads comes from its method in the registry (``scoring.baselines``), exactly as the
scoreboard fetches it (``api.scoreboard``):

- **readings** of a site's meters over the competition method's ``history_days``. Every site
  reads that window, also one scored with a method it chose for itself (``per_site``, billing:
  its metered hours of the window shape its days);
- **bills** of a meter of a site whose method ``needs.bills``, that overlap its ``bill_days``;
- **temperatures** of a weather station over the history window of each site that uses it
  (``Competition.station_for``) with a method that needs history temperatures, and over the
  ``bill_days`` of each such site scored on bills: the union of those windows.

Each window is a UTC span ``[start_ms, end_ms)`` from local midnight of its first day to local
midnight after its last (the hours ``scoring.calendar.hour_grid`` gives). Data received before the
first hour is never held (history loaded before the start is the baseline); data in the
competition period is never held (late readings there are normal, see ``ingest.late_changes``).

This module is pure: competitions in, spans out (``baseline_lock``), and the held items that data
becomes (``held_items``). Ingest carries the spans on its routes (``ingest.routing.Route``), so
validation decides per reading with two integer comparisons.

Notes
-----
A reading's energy belongs to the pair of it and its neighbour: a late reading just outside a
window, next to one inside, moves the energy of the window's first or last hour a little
(at most one pair's energy, as any reading near the window's edges does). The lock is on the
readings' timestamps, so that live readings of the competition's first hour are never held.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from ingest.store.held import HELD_MAX_ROWS, HeldItem
from scoring import baselines
from scoring.baselines import Period
from scoring.calendar import local_midnight_utc_s
from scoring.competition import Competition

Span = tuple[int, int]  # [start_ms, end_ms) [Unix ms]
NEVER_MS = 2**62  # a lock that never starts (a route of no competition) [Unix ms]
ALL_SITES = "*"  # the site of a held item that concerns every site using a weather station


@dataclass(frozen=True)
class BaselineLock:
    """What one competition's locked baselines read.

    Attributes
    ----------
    competition : str
        The competition's id.
    first_hour_ms : int
        Start of the competition's first local hour [Unix ms]: data received from then on that
        falls in a span below is held.
    readings : dict of str to Span
        Meter id → the history window its site's baseline reads [Unix ms).
    bills : dict of str to Span
        Meter id → the days its bills must cover to count [Unix ms), for meters of sites scored
        on bills only.
    temperatures : dict of str to tuple of Span
        Weather station id → the union of the windows its temperatures are read over, sorted,
        disjoint [Unix ms); stations no baseline reads history temperatures of are absent.
    site_of_meter : dict of str to str
        Meter id → its site's id.
    station_sites : dict of str to tuple of str
        Weather station id → the sites whose baselines read its temperatures (file order).
    """

    competition: str
    first_hour_ms: int
    readings: dict[str, Span] = field(default_factory=dict)
    bills: dict[str, Span] = field(default_factory=dict)
    temperatures: dict[str, tuple[Span, ...]] = field(default_factory=dict)
    site_of_meter: dict[str, str] = field(default_factory=dict)
    station_sites: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def locked(self, at_ms: int) -> bool:
        """Data received (or applied) at ``at_ms`` [Unix ms] is subject to the lock."""
        return at_ms >= self.first_hour_ms


def baseline_lock(comp: Competition) -> BaselineLock:
    """The spans of ``comp``'s baselines (module docstring), from its methods' declarations.

    Parameters
    ----------
    comp : Competition
        The competition: start, time zone, each site's method
        (``Competition.baseline_method_of``) and weather station (``station_for``).

    Returns
    -------
    BaselineLock
    """
    info = comp.competition
    tz = info.tz
    period = Period(
        first_day=info.start, last_day=info.end, country=info.holidays, weeks=info.baseline.weeks
    )
    history = _span(*baselines.by_name(info.baseline.method).history_days(period), tz)
    readings: dict[str, Span] = {}
    bills: dict[str, Span] = {}
    site_of: dict[str, str] = {}
    station_spans: dict[str, list[Span]] = {}
    station_sites: dict[str, list[str]] = {}
    for site in comp.sites:
        method = baselines.by_name(comp.baseline_method_of(site))
        bill_span = None
        if method.needs.bills and method.bill_days is not None:
            bill_span = _span(*method.bill_days(period), tz)
        for meter in site.meters:
            readings[meter.id] = history
            site_of[meter.id] = site.id
            if bill_span is not None:
                bills[meter.id] = bill_span
        station = comp.station_for(site)
        spans = [history] if method.needs.history_temperature else []
        if bill_span is not None:
            spans.append(bill_span)  # bills are regressed on these days' temperatures
        if station and spans:
            station_spans.setdefault(station, []).extend(spans)
            station_sites.setdefault(station, []).append(site.id)
    return BaselineLock(
        competition=comp.id,
        first_hour_ms=_ms(local_midnight_utc_s(info.start, tz)),
        readings=readings,
        bills=bills,
        temperatures={s: merged(spans) for s, spans in station_spans.items()},
        site_of_meter=site_of,
        station_sites={s: tuple(sites) for s, sites in station_sites.items()},
    )


def baseline_locks(competitions: Iterable[Competition]) -> dict[str, BaselineLock]:
    """``baseline_lock`` of each competition, by competition id."""
    return {comp.id: baseline_lock(comp) for comp in competitions}


def _span(first_day_local: date, last_day_local: date, tz) -> Span:
    """Local days ``first_day_local`` to ``last_day_local`` (inclusive) as a UTC span."""
    return (
        _ms(local_midnight_utc_s(first_day_local, tz)),
        _ms(local_midnight_utc_s(last_day_local + timedelta(days=1), tz)),
    )


def _ms(ts_s: float) -> int:
    return round(ts_s * 1000)


def merged(spans: Iterable[Span]) -> tuple[Span, ...]:
    """The union of ``spans`` as sorted, disjoint spans (touching spans join)."""
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple((a, b) for a, b in out)


def in_spans(spans: Iterable[Span], ts_ms: int) -> bool:
    """``ts_ms`` [Unix ms] lies in one of ``spans``."""
    return any(start <= ts_ms < end for start, end in spans)


def overlaps(spans: Iterable[Span], start_ms: int, end_ms: int) -> bool:
    """The period ``[start_ms, end_ms)`` [Unix ms] shares time with one of ``spans``."""
    return any(start_ms < end and end_ms > start for start, end in spans)


def station_locks(
    locks: Iterable[BaselineLock], station: str
) -> list[tuple[BaselineLock, tuple[Span, ...]]]:
    """The competitions whose baselines read ``station``'s temperatures, with their spans."""
    return [(lock, lock.temperatures[station]) for lock in locks if station in lock.temperatures]


def held_items(
    lock: BaselineLock,
    site: str,
    meter: str,
    kind: str,
    rows: list[list],
    *,
    source: str,
    received_ms: int,
    topic: str = "",
) -> list[HeldItem]:
    """``rows`` (as ``held.HELD_KINDS`` says for ``kind``) held as items of ``lock``'s
    competition, ``HELD_MAX_ROWS`` at most each; the what-if is left empty for the API.

    ``site`` is the meter's site, or ``ALL_SITES`` for a weather station's temperatures: they
    are one record of the station, applied for every site that reads it or for none, so one
    item per station is what an organiser decides on (``affected_sites`` names the sites).
    """
    items = []
    for lo in range(0, len(rows), HELD_MAX_ROWS):
        part = rows[lo : lo + HELD_MAX_ROWS]
        if kind == "bills":
            first, last = min(r[0] for r in part), max(r[1] for r in part)
        else:
            first, last = min(r[0] for r in part), max(r[0] for r in part)
        items.append(
            HeldItem(
                competition=lock.competition,
                site=site,
                meter=meter,
                kind=kind,
                source=source,
                received_ms=received_ms,
                first_ts_ms=first,
                last_ts_ms=last,
                payload=part,
                what_if={},
                topic=topic,
            )
        )
    return items


def affected_sites(comp: Competition, item: HeldItem) -> list[str]:
    """The sites whose baselines a held item would change: its site, or for a weather
    station's temperatures (site ``ALL_SITES``) every site whose baseline reads the station."""
    if item.site != ALL_SITES:
        return [item.site]
    return list(baseline_lock(comp).station_sites.get(item.meter, ()))

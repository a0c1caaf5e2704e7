"""Wires store and scoring: the leaderboard and site figures of one competition, cached.

The history behind the baselines changes rarely: each method is fitted once on it and the fits
are kept, with the fingerprints of their inputs, not the history itself. They are checked
against the store every ``history_ttl_s`` (and at once when the store reports a write into the
history window): where the store keeps a log of its writes (InfluxDB) that check reads no
history at all; elsewhere the history is read again and a method whose fingerprints did not
change keeps its fit. With a ``FitCache`` the fits outlive the process (``api.fit_cache``): a
restarted ``serve`` reads only the competition period. After a change only the hours from the
earliest one it changed are re-read (both stores log where their writes changed data); the
whole period every ``FULL_READ_TTLS`` × ``history_ttl_s`` (an hour by default): at 10,000 sites
a full read of InfluxDB takes a minute.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from api.baseline_fits import load_fits
from api.fit_cache import FitCache, KeptFits, KeptPeriod, inputs_key
from ingest.hourly_energy import SiteHours, site_hours
from ingest.store.base import Store
from scoring import baselines
from scoring.baselines import BaselineMethod, Fit, History, Period, Target
from scoring.baselines.method import predicted
from scoring.calendar import LocalHours, hour_grid, local_hours, local_midnight_utc_s
from scoring.competition import Competition
from scoring.energy_traps import TrapChanges, action_effect, trap_changes
from scoring.fingerprint import baseline_fingerprint
from scoring.metrics import MEASURED_HOUR_S, SiteMetrics, site_metrics
from scoring.rank_history import RankHistory, rank_history
from scoring.ranking import league_ranks
from scoring.uncertainty import SavingsUncertainty, savings_uncertainty
from scoring.weather import daily_mean_temp_c, hourly_mean_temp_c

STALE_AFTER_S = 900.0  # a meter silent this long is marked stale on displays


@dataclass(frozen=True)
class Snapshot:
    """Everything the api serves about a competition at one moment."""

    as_of_s: float
    grid: LocalHours
    actual: SiteHours
    baseline_kwh: np.ndarray
    baseline_ok: np.ndarray
    elapsed: np.ndarray
    metrics: SiteMetrics
    rank_reduction: np.ndarray
    rank_intensity: np.ndarray
    live_power_w: np.ndarray
    last_reading_s: np.ndarray
    uncertainty: SavingsUncertainty
    traps: TrapChanges
    baseline_problem: list[list[str]]  # per site: why it has no baseline (sufficiency rules)
    # per site: SHA-256 of its locked baseline inputs (scoring.fingerprint), hex
    fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True)
class _MethodSites:
    """A baseline method and the sites it scores (``rows``; None: every site)."""

    method: BaselineMethod
    rows: np.ndarray | None

    def pick(self, values: np.ndarray) -> np.ndarray:
        """The rows of ``values`` (sites first) that this method scores."""
        return values if self.rows is None else values[self.rows]


@dataclass(frozen=True)
class _ActualHours:
    """The competition's measured hours as last read (``Scoreboard._actual_hours``)."""

    token: int  # the store's change token then
    until_s: float  # read up to [Unix s]
    read_all_at: float  # when the whole period was last read [monotonic s]
    hours: SiteHours


RECHECK_S = 0.25  # how long a frame may be served without asking the store for news [s]
FULL_READ_TTLS = 12  # the whole competition period is read again every this many history TTLs


class Scoreboard:
    """Computes and caches the snapshot of one competition."""

    def __init__(
        self,
        competition: Competition,
        store: Store,
        clock: Callable[[], float] = time.time,
        history_ttl_s: float = 300.0,
        fit_cache: FitCache | None = None,
    ) -> None:
        self.competition = competition
        self.store = store
        self.clock = clock
        self.history_ttl_s = history_ttl_s
        self.fit_cache = fit_cache
        info = competition.competition
        self.tz = info.tz
        self.site_ids = [s.id for s in competition.sites]
        self.meters_by_site = [[m.id for m in s.meters] for s in competition.sites]
        self.area_m2 = np.array([s.area_m2 for s in competition.sites], dtype=float)
        self.target_pct = np.array([s.target_pct for s in competition.sites], dtype=float)
        self.grid = local_hours(hour_grid(info.start, info.end, self.tz), self.tz, info.holidays)
        self.method = baselines.by_name(info.baseline.method)
        self.period = Period(
            first_day=info.start,
            last_day=info.end,
            country=info.holidays,
            weeks=info.baseline.weeks,
        )
        self.history_grid = local_hours(
            hour_grid(*self._history_days(), self.tz), self.tz, info.holidays
        )
        self._lock = threading.Lock()
        self._kept: KeptFits | None = None  # the fits in use
        self._kept_checked_at = -math.inf  # when they were last known current [monotonic s]
        self._actual: _ActualHours | None = None
        self._snapshot: Snapshot | None = None
        self._token: tuple[int, int] | None = None
        self._checked_at_s = -math.inf  # monotonic time of the last store change check
        self._history_ranks: tuple[Snapshot, RankHistory] | None = None
        self.site_methods = [competition.baseline_method_of(s) for s in competition.sites]
        methods = np.array(self.site_methods)
        self.billing_sites = np.flatnonzero(  # the sites scored on their bills
            [baselines.METHODS[name].needs.bills for name in self.site_methods]
        )
        # the competition's method scores every site, then each method sites chose for
        # themselves (per_site: billing) its own
        self._methods = [_MethodSites(method=self.method, rows=None)] + [
            _MethodSites(method=baselines.by_name(name), rows=np.flatnonzero(methods == name))
            for name in dict.fromkeys(self.site_methods)
            if name != self.method.name
        ]
        # the fitting modules (numba for the regressions) only for the methods in use; a
        # process that cannot run them stops here (api.baseline_fits)
        load_fits(competition.id, [m.method.name for m in self._methods])
        # the end of everything the fits read: the history window, and the bill days of a
        # method scored on bills [Unix s]; a write before it may change a fit
        self._locked_end_s = max(
            local_midnight_utc_s(last + timedelta(days=1), self.tz)
            for last in [self._history_days()[1]]
            + [m.method.bill_days(self.period)[1] for m in self._methods if m.method.needs.bills]
        )
        self._inputs_key = inputs_key(competition) if fit_cache is not None else ""

    def _history_days(self) -> tuple[date, date]:
        """The history window the competition's baseline method reads."""
        return self.method.history_days(self.period)

    def _daily_temps(self, grid: LocalHours) -> np.ndarray:
        """Daily mean outdoor temperature (sites, days of ``grid``) from each site's station."""
        return self._station_temps(grid, daily_mean_temp_c, np.unique(grid.day_ordinal).size)

    def _hourly_temps(self, grid: LocalHours) -> np.ndarray:
        """Hourly mean outdoor temperature (sites, hours of ``grid``) from each site's station."""
        return self._station_temps(grid, hourly_mean_temp_c, grid.hour_start_s.size)

    def _station_temps(
        self,
        grid: LocalHours,
        mean: Callable[[np.ndarray, np.ndarray, LocalHours], np.ndarray],
        size: int,
    ) -> np.ndarray:
        """``mean`` of each site's station samples over ``grid`` (sites, size); NaN without."""
        stations = [self.competition.station_for(s) for s in self.competition.sites]
        wanted = sorted({s for s in stations if s})
        start = grid.hour_start_s[0] if grid.hour_start_s.size else 0.0
        end = grid.hour_start_s[-1] + 3600.0 if grid.hour_start_s.size else 0.0
        samples = self.store.read_temperatures(wanted, start, end)
        by_station = {
            s: mean(*samples[s], grid) if s in samples else np.full(size, np.nan) for s in wanted
        }
        rows = [by_station[s] if s else np.full(size, np.nan) for s in stations]
        return np.array(rows, dtype=float).reshape(len(stations), size)

    def snapshot(self) -> Snapshot:
        """The current snapshot, recomputed when data changed or a new minute began."""
        now_s = self.clock()
        token = (self.store.change_token(), int(now_s // 60))
        with self._lock:
            if self._snapshot is None or token != self._token:
                self._snapshot = self._compute(now_s, token[0])
                self._token = token
            self._checked_at_s = time.monotonic()
            return self._snapshot

    def recent_snapshot(self, max_age_s: float = RECHECK_S) -> Snapshot | None:
        """The snapshot without asking the store, if its change check is under ``max_age_s``
        old and the minute has not turned; else None (call ``snapshot``). No I/O: safe to call
        on the event loop, which is what lets the display frames be served without a thread."""
        snap, token = self._snapshot, self._token
        if snap is None or token is None or time.monotonic() - self._checked_at_s > max_age_s:
            return None
        return snap if int(self.clock() // 60) == token[1] else None

    def forget_history(self) -> None:
        """Drop the cached history and snapshot (an import changed the past)."""
        with self._lock:
            self._kept = None  # read and fingerprinted again (kept fits whose prints match stay)
            self._kept_checked_at = -math.inf
            self._actual = None
            self._snapshot = None

    def _fits(self) -> dict[str, tuple[Fit, dict[int, str]]]:
        """Each method's fit and its sites' fingerprints (module docstring: kept, checked every
        ``history_ttl_s``, fitted again only when what they read changed)."""
        kept = self._kept
        if kept is not None and time.monotonic() - self._kept_checked_at <= self.history_ttl_s:
            return kept.fits
        if kept is None and self.fit_cache is not None:
            kept = self.fit_cache.load(self.competition.id, self._inputs_key)
        if kept is not None and self._unchanged_since(kept):
            self._kept = kept
            return kept.fits
        self._kept = self._fit_all(kept.fits if kept is not None else {})
        self._kept_checked_at = time.monotonic()
        if self.fit_cache is not None:
            self.fit_cache.save(self.competition.id, self._inputs_key, self._kept)
        return self._kept.fits

    def _unchanged_since(self, kept: KeptFits) -> bool:
        """Whether the store says no write since ``kept``'s mark touched what the fits read;
        if so ``kept`` takes the store's current mark (the next check starts there)."""
        if kept.mark is None:
            return False
        mark = self.store.write_mark()  # before the check: a write after it is seen next time
        if mark is None:
            return False
        since_s = self.store.changed_since_mark(kept.mark)
        if since_s is None or since_s < self._locked_end_s:
            return False
        kept.mark = mark
        self._kept_checked_at = time.monotonic()
        return True

    def _fit_all(self, kept: dict[str, tuple[Fit, dict[int, str]]]) -> KeptFits:
        """Read the history and fit each method on it, reusing a fit from ``kept`` whose sites'
        fingerprints are unchanged. The history is not kept: a fit of a method that predicts
        from the competition's calendar alone keeps only its prediction (``predicted``)."""
        mark = self.store.write_mark()  # before the read: a write during it is seen next time
        history = site_hours(self.store, self.meters_by_site, self.history_grid.hour_start_s)
        fits: dict[str, tuple[Fit, dict[int, str]]] = {}
        for part in self._methods:
            inputs = self._history_of(part, history)
            prints = self._fingerprints_of(part, inputs)
            name = part.method.name
            if name in kept and kept[name][1] == prints:
                fits[name] = (kept[name][0], prints)
                continue
            fitted = part.method.fit(inputs, self.period)
            needs = part.method.needs
            if needs.target_temperature is None and not needs.target_hours:
                fitted = predicted(fitted, Target(calendar=self.grid))
            fits[name] = (fitted, prints)
        return KeptFits(fits=fits, mark=mark)

    def _fingerprints_of(self, part: _MethodSites, inputs: History) -> dict[int, str]:
        """Site index → the fingerprint of what ``part``'s method fits on (``inputs``), for
        the sites that method scores (a site scored on its own method is not scored on the
        competition's, which fits every site)."""
        info = self.competition.competition
        method = part.method
        parameters = {
            "competition_method": info.baseline.method,
            "weeks": info.baseline.weeks,
            "holidays": info.holidays,
            "timezone": info.timezone,
        }
        first, last = self._history_days()
        bill_days = method.bill_days(self.period) if method.needs.bills else None
        rows = range(len(self.site_ids)) if part.rows is None else part.rows.tolist()
        out = {}
        for j, i in enumerate(rows):
            if self.site_methods[i] != method.name:
                continue
            out[i] = baseline_fingerprint(
                method.name,
                parameters,
                first,
                last,
                inputs.kwh[j],
                inputs.ok[j],
                bills=None if inputs.bills is None else inputs.bills[j],
                bill_days_local=bill_days,
                daily_temp_c=_row(inputs.daily_temp_c, j),
                hourly_temp_c=_row(inputs.hourly_temp_c, j),
                bill_temp_c=_row(inputs.bill_temp_c, j),
            )
        return out

    def _history_of(self, part: _MethodSites, history: SiteHours) -> History:
        """What ``part``'s method reads of the history (``BaselineMethod.needs``), for its
        sites."""
        method, grid, needs = part.method, self.history_grid, part.method.needs
        kwh, ok = part.pick(history.energy_kwh), part.pick(history.measured_s >= MEASURED_HOUR_S)
        daily = hourly = bills = bill_days = bill_temps = None
        if "daily" in needs.history_temperature:
            daily = part.pick(self._daily_temps(grid))
        if "hourly" in needs.history_temperature:
            hourly = part.pick(self._hourly_temps(grid))
        if needs.bills:
            info = self.competition.competition
            bill_grid = local_hours(
                hour_grid(*method.bill_days(self.period), self.tz), self.tz, info.holidays
            )
            bill_temps = part.pick(self._daily_temps(bill_grid))
            bill_days = np.unique(bill_grid.day_ordinal)
            sites = range(len(self.site_ids)) if part.rows is None else part.rows.tolist()
            bills = [self._site_bills(self.meters_by_site[i]) for i in sites]
        return History(
            kwh=kwh,
            ok=ok,
            calendar=grid,
            daily_temp_c=daily,
            hourly_temp_c=hourly,
            bills=bills,
            bill_day_ordinal=bill_days,
            bill_temp_c=bill_temps,
        )

    def _target_of(self, part: _MethodSites, actual: SiteHours, elapsed: np.ndarray) -> Target:
        """What ``part``'s method reads of the competition period to predict it."""
        needs = part.method.needs
        daily = hourly = kwh = ok = None
        if needs.target_temperature == "daily":
            daily = part.pick(self._daily_temps(self.grid))
        elif needs.target_temperature == "hourly":
            hourly = part.pick(self._hourly_temps(self.grid))
        if needs.target_hours:
            kwh = part.pick(actual.energy_kwh)
            ok = part.pick((actual.measured_s >= MEASURED_HOUR_S) & elapsed)
        return Target(calendar=self.grid, daily_temp_c=daily, hourly_temp_c=hourly, kwh=kwh, ok=ok)

    def _site_bills(self, meters: list[str]) -> np.ndarray:
        """A site's bills as (first day, day after the last, kWh) in local date ordinals: the
        periods every meter of the site was billed for, summed over its meters."""
        stored = self.store.read_bills(meters)
        sums: dict[tuple[int, int], list[float]] = {}
        for mid in meters:
            for start_s, end_s, kwh in stored.get(mid, np.zeros((0, 3))).tolist():
                first = datetime.fromtimestamp(start_s, UTC).astimezone(self.tz).toordinal()
                last = datetime.fromtimestamp(end_s - 1.0, UTC).astimezone(self.tz).toordinal()
                sums.setdefault((first, last + 1), []).append(kwh)
        rows = [(a, b, sum(v)) for (a, b), v in sums.items() if len(v) == len(meters)]
        return np.array(rows, dtype=float).reshape(-1, 3)

    def _actual_hours(self, now_s: float, store_token: int) -> SiteHours:
        """The competition's measured hours up to ``now_s``. After a change only the hours from
        the earliest one a write changed (the store says which, if it can) are read again,
        and everything at least every ``FULL_READ_TTLS`` × ``history_ttl_s`` (a safety net: a
        store's change log covers every write made through it)."""
        grid = self.grid.hour_start_s
        if self._actual is None and self.fit_cache is not None and grid.size:
            self._actual = self._kept_period(store_token)
        cached, since_s = self._actual, None
        full_every_s = FULL_READ_TTLS * self.history_ttl_s
        if cached is not None and time.monotonic() - cached.read_all_at <= full_every_s:
            if store_token == cached.token:
                since_s = cached.until_s
            else:
                since_s = self.store.changed_since_s(cached.token)
                if since_s is not None and since_s < self._locked_end_s <= now_s:
                    # a write into a past history window (another process's accepted change):
                    # check the fits now; a window still filling waits for ``history_ttl_s``
                    self._kept_checked_at = -math.inf
        if since_s is None or grid.size == 0:
            mark = self.store.write_mark() if self.fit_cache is not None else None
            hours = site_hours(self.store, self.meters_by_site, grid, until_s=now_s)
            self._actual = _ActualHours(
                token=store_token, until_s=now_s, read_all_at=time.monotonic(), hours=hours
            )
            if mark is not None and grid.size:  # a restart reads from here on, not all of it
                self.fit_cache.save_period(
                    self.competition.id,
                    self._inputs_key,
                    KeptPeriod(mark, now_s, hours.energy_kwh, hours.measured_s),
                )
            return hours
        # from the hour holding the last read's end on: it may have grown since
        since_s = min(since_s, cached.until_s, now_s)
        first = max(0, int(np.searchsorted(grid, since_s, side="right")) - 1)
        part = site_hours(self.store, self.meters_by_site, grid[first:], until_s=now_s)
        # in place, not a copy (at 10,000 sites a copy is 350 MB and half a second): only hours
        # from the changed one on move, and a view still holding the last snapshot sees those
        # hours' newer values, never a mix within one hour
        hours = cached.hours
        hours.energy_kwh[:, first:], hours.measured_s[:, first:] = part.energy_kwh, part.measured_s
        self._actual = _ActualHours(
            token=store_token, until_s=now_s, read_all_at=cached.read_all_at, hours=hours
        )
        return hours

    def _kept_period(self, store_token: int) -> _ActualHours | None:
        """The period kept by an earlier process, as if this one had read it then: the next
        read starts from the earliest hour the store changed since (``_actual_hours``)."""
        shape = (len(self.site_ids), self.grid.hour_start_s.size)
        kept = self.fit_cache.load_period(self.competition.id, self._inputs_key, shape)
        if kept is None:
            return None
        since_s = self.store.changed_since_mark(kept.mark)
        if since_s is None:
            return None
        # as if read at ``store_token`` up to the earliest change since the mark: the next read
        # starts there (a write after the token was taken moves the token)
        return _ActualHours(
            token=store_token,
            until_s=min(kept.until_s, since_s),
            read_all_at=time.monotonic(),
            hours=SiteHours(energy_kwh=kept.energy_kwh, measured_s=kept.measured_s),
        )

    def _compute(self, now_s: float, store_token: int) -> Snapshot:
        info = self.competition.competition
        actual = self._actual_hours(now_s, store_token)
        kept = self._fits()
        elapsed = self.grid.hour_start_s + 3600.0 <= now_s
        problems: list[list[str]] = [[] for _ in self.site_ids]
        fits = []
        for part in self._methods:  # the competition's method first: it sets every site
            fit = kept[part.method.name][0]
            kwh, ok = fit.predict(self._target_of(part, actual, elapsed))
            if part.rows is None:
                base_kwh, base_ok = kwh, ok
            else:
                base_kwh, base_ok = base_kwh.copy(), base_ok.copy()
                base_kwh[part.rows], base_ok[part.rows] = kwh, ok
            if part.method.needs.bills:  # why a site scored on bills has no baseline
                rows = range(len(self.site_ids)) if part.rows is None else part.rows.tolist()
                for i, names in zip(rows, fit.problems(), strict=True):
                    problems[i] = names
            fits.append((part, fit))
        prints: dict[int, str] = {}
        for part in self._methods:
            prints.update(kept[part.method.name][1])
        m = site_metrics(
            actual.energy_kwh,
            actual.measured_s,
            base_kwh,
            base_ok,
            elapsed,
            self.area_m2,
            self.target_pct,
            info.min_completeness_pct / 100.0,
            price_per_kwh=info.price_per_kwh,
            co2_g_per_kwh=info.co2_g_per_kwh,
        )
        # each method's own residuals: a regression's from its fitted model (the temperature
        # term explains what day-type residuals would count as noise), bills' per period
        uncertainty = None
        for part, fit in fits:
            part_u = savings_uncertainty(
                fit.residuals(),
                part.pick(m.hours_matched) / 24.0 / fit.days_per_point(),
                part.pick(m.baseline_kwh),
                part.pick(m.saved_kwh),
            )
            uncertainty = (
                part_u if part.rows is None else _with_rows(uncertainty, part.rows, part_u)
            )
        actual_ok = (actual.measured_s >= MEASURED_HOUR_S) & elapsed
        traps = trap_changes(actual.energy_kwh, actual_ok, base_kwh, base_ok & elapsed, self.grid)
        rank_reduction, rank_intensity = league_ranks(
            m.reduction_pct, m.kwh_per_m2, m.completeness, self.site_ids, m.eligible
        )
        # looked for back from the board's now (a live meter's is found in its last minutes)
        states = self.store.meter_states(now_s)
        live_w = np.full(len(self.site_ids), np.nan)
        last_s = np.full(len(self.site_ids), np.nan)
        for i, meters in enumerate(self.meters_by_site):
            known = [states[mid] for mid in meters if mid in states]
            powers = [s.power_w for s in known if s.power_w is not None]
            if known and len(powers) == len(meters):
                live_w[i] = sum(powers)
            if known:
                last_s[i] = (
                    min(s.last_ts_s for s in known) if len(known) == len(meters) else (np.nan)
                )
        return Snapshot(
            as_of_s=now_s,
            grid=self.grid,
            actual=actual,
            baseline_kwh=base_kwh,
            baseline_ok=base_ok,
            elapsed=elapsed,
            metrics=m,
            rank_reduction=rank_reduction,
            rank_intensity=rank_intensity,
            live_power_w=live_w,
            last_reading_s=last_s,
            uncertainty=uncertainty,
            traps=traps,
            baseline_problem=problems,
            fingerprints=tuple(prints[i] for i in range(len(self.site_ids))),
        )

    # -- views --------------------------------------------------------------------------

    def local_iso(self, ts_s: float) -> str:
        return datetime.fromtimestamp(ts_s, UTC).astimezone(self.tz).isoformat(timespec="seconds")

    def leaderboard(self, metric: str = "reduction") -> dict:
        snap = self.snapshot()
        m = snap.metrics
        ranks = snap.rank_reduction if metric == "reduction" else snap.rank_intensity
        entries = []
        for i, site in enumerate(self.competition.sites):
            entries.append(
                {
                    "rank": int(ranks[i]),
                    "site": site.id,
                    "municipality": site.municipality,
                    "name": site.name,
                    "reduction_pct": _num(m.reduction_pct[i], 2),
                    "saved_kwh": _num(m.saved_kwh[i], 1),
                    "actual_kwh": _num(m.actual_kwh[i], 1),
                    "baseline_kwh": _num(m.baseline_kwh[i], 1),
                    "kwh_per_m2": _num(m.kwh_per_m2[i], 3),
                    "target_pct": site.target_pct,
                    "target_progress": _num(m.target_progress[i], 3),
                    "kwh_per_m2_annual": _num(m.kwh_per_m2_annual[i], 2),
                    "saved_money": _num(m.saved_money[i], 2),
                    "saved_co2_kg": _num(m.saved_co2_kg[i], 2),
                    "baseline_method": self.site_methods[i],
                    "baseline_problem": snap.baseline_problem[i] or None,
                    "baseline_fingerprint": _fingerprint(snap, i),
                    "uncertainty_kwh": _num(snap.uncertainty.uncertainty_kwh[i], 1),
                    "uncertainty_pct_points": _num(snap.uncertainty.uncertainty_pct[i], 2),
                    "significant": bool(snap.uncertainty.significant[i]),
                    "completeness": _num(m.completeness[i], 4),
                    "hours_matched": int(m.hours_matched[i]),
                    "eligible": bool(m.eligible[i]),
                    "live_power_kw": _num(snap.live_power_w[i] / 1000.0, 2),
                    "last_reading": (
                        None
                        if np.isnan(snap.last_reading_s[i])
                        else self.local_iso(snap.last_reading_s[i])
                    ),
                    "stale": bool(
                        np.isnan(snap.last_reading_s[i])
                        or snap.as_of_s - snap.last_reading_s[i] > STALE_AFTER_S
                    ),
                }
            )
        entries.sort(key=lambda e: (e["rank"] == 0, e["rank"], e["site"]))
        info = self.competition.competition
        return {
            "competition": info.id,
            "name": info.name,
            "metric": metric,
            "as_of": self.local_iso(snap.as_of_s),
            "hours_elapsed": m.hours_elapsed,
            "baseline_method": info.baseline.method,
            "billing_sites": [self.site_ids[i] for i in self.billing_sites.tolist()],
            "entries": entries,
        }

    def site_index(self, site_id: str) -> int | None:
        try:
            return self.site_ids.index(site_id)
        except ValueError:
            return None

    def site_detail(self, i: int) -> dict:
        """Live power, today so far against its baseline, and period metrics of site ``i``."""
        snap = self.snapshot()
        board = {e["site"]: e for e in self.leaderboard()["entries"]}
        history = self.rank_history()
        site = self.competition.sites[i]
        today = datetime.fromtimestamp(snap.as_of_s, UTC).astimezone(self.tz).toordinal()
        in_today = self.grid.day_ordinal == today
        started = self.grid.hour_start_s <= snap.as_of_s
        fraction = np.clip((snap.as_of_s - self.grid.hour_start_s) / 3600.0, 0.0, 1.0)
        today_actual = float(snap.actual.energy_kwh[i][in_today & started].sum())
        base = np.nan_to_num(snap.baseline_kwh[i]) * fraction
        today_base = (
            float(base[in_today & started].sum()) if snap.baseline_ok[i][in_today].any() else None
        )
        today_pct = 100.0 * (today_base - today_actual) / today_base if today_base else None
        return {
            "competition": self.competition.id,
            "site": site.id,
            "name": site.name,
            "municipality": site.municipality,
            "area_m2": site.area_m2,
            "target_pct": site.target_pct,
            "meters": self.meters_by_site[i],
            "baseline_method": self.site_methods[i],
            "baseline_problem": snap.baseline_problem[i] or None,
            "baseline_fingerprint": _fingerprint(snap, i),
            "as_of": self.local_iso(snap.as_of_s),
            "live_power_kw": board[site.id]["live_power_kw"],
            "last_reading": board[site.id]["last_reading"],
            "stale": board[site.id]["stale"],
            "today": {
                "actual_kwh": round(today_actual, 2),
                "baseline_kwh": _num(today_base, 2),
                "reduction_pct": _num(today_pct, 2),
            },
            "period": board[site.id],
            "energy_traps": _traps_view(snap.traps, i),
            "actions": self._actions(snap, i),
            "sites_ranked": int(np.count_nonzero(snap.rank_reduction)),
            "rank_history": [
                {
                    "date": date.fromordinal(int(d)).isoformat(),
                    "rank": int(r),
                    "reduction_pct": _num(v, 2),
                }
                for d, r, v in zip(
                    history.day_ordinal.tolist(),
                    history.rank[:, i].tolist(),
                    history.reduction_pct[:, i].tolist(),
                    strict=True,
                )
            ],
        }

    def rank_history(self) -> RankHistory:
        """Standings at the end of each elapsed day (computed once per snapshot)."""
        snap = self.snapshot()
        with self._lock:
            if self._history_ranks is None or self._history_ranks[0] is not snap:
                info = self.competition.competition
                history = rank_history(
                    snap.actual.energy_kwh,
                    snap.actual.measured_s,
                    snap.baseline_kwh,
                    snap.baseline_ok,
                    snap.elapsed,
                    self.grid.day_ordinal,
                    self.area_m2,
                    self.site_ids,
                    info.min_completeness_pct / 100.0,
                )
                self._history_ranks = (snap, history)
            return self._history_ranks[1]

    def rank_history_view(self) -> dict:
        h = self.rank_history()
        return {
            "competition": self.competition.id,
            "days": [date.fromordinal(int(d)).isoformat() for d in h.day_ordinal],
            "sites": {
                sid: {
                    "rank": h.rank[:, i].tolist(),
                    "reduction_pct": [_num(v, 2) for v in h.reduction_pct[:, i].tolist()],
                }
                for i, sid in enumerate(self.site_ids)
            },
        }

    def _actions(self, snap: Snapshot, i: int) -> list[dict]:
        """The site's annotated actions with their measured effect: actual ÷ baseline in a
        week before against a week after (shorter near the ends of the data)."""
        out = []
        actual_ok = (snap.actual.measured_s[i : i + 1] >= MEASURED_HOUR_S) & snap.elapsed
        for a in self.store.organiser.list_annotations(self.competition.id, self.site_ids[i]):
            effect = action_effect(
                snap.actual.energy_kwh[i : i + 1],
                actual_ok,
                snap.baseline_kwh[i : i + 1],
                snap.baseline_ok[i : i + 1],
                self.grid,
                a["ts_ms"] / 1000.0,
                until_s=snap.as_of_s,
            )
            out.append(
                {
                    "id": a["id"],
                    "ts": self.local_iso(a["ts_ms"] / 1000.0),
                    "text": a["text"],
                    "author": a["author"],
                    "effect": {
                        "ratio_before": _num(effect.ratio_before[0], 4),
                        "ratio_after": _num(effect.ratio_after[0], 4),
                        "change_pct_points": _num(effect.change_pct_points[0], 2),
                        "hours_before": int(effect.hours_before[0]),
                        "hours_after": int(effect.hours_after[0]),
                    },
                }
            )
        return out

    def site_series(self, i: int, resolution: str) -> list[dict]:
        """Actual against baseline per elapsed hour or local day of site ``i``."""
        snap = self.snapshot()
        started = self.grid.hour_start_s < snap.as_of_s
        actual = np.where(snap.actual.measured_s[i] > 0, snap.actual.energy_kwh[i], np.nan)
        base = np.where(snap.baseline_ok[i], snap.baseline_kwh[i], np.nan)
        starts = self.grid.hour_start_s[started]
        actual, base = actual[started], base[started]
        if resolution == "day":
            days = self.grid.day_ordinal[started]
            unique, first = np.unique(days, return_index=True)
            starts = starts[first]
            if first.size:  # a day without one known hour stays unknown (null), never 0
                actual = _day_sums(actual, first)
                base = _day_sums(base, first)
            del unique
        return [
            {"start": self.local_iso(t), "actual_kwh": _num(a, 3), "baseline_kwh": _num(b, 3)}
            for t, a, b in zip(starts.tolist(), actual.tolist(), base.tolist(), strict=True)
        ]


def _day_sums(hourly: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Sums of the known hours of each day (``first``: each day's first index); NaN for a day
    with none."""
    known = np.add.reduceat(np.isfinite(hourly).astype(np.int64), first)
    return np.where(known > 0, np.add.reduceat(np.nan_to_num(hourly), first), np.nan)


def _with_rows(
    whole: SavingsUncertainty, rows: np.ndarray, part: SavingsUncertainty
) -> SavingsUncertainty:
    """``whole`` with the sites ``rows`` replaced by ``part``'s values."""
    fields = {}
    for name in SavingsUncertainty.__dataclass_fields__:
        values = np.array(getattr(whole, name), copy=True)
        values = values.astype(np.result_type(values, getattr(part, name)))
        values[rows] = getattr(part, name)
        fields[name] = values
    return SavingsUncertainty(**fields)


def _fingerprint(snap: Snapshot, i: int) -> str | None:
    """Site ``i``'s baseline fingerprint; None in a snapshot without them (one frozen before
    fingerprints were part of it)."""
    return snap.fingerprints[i] if i < len(snap.fingerprints) else None


def _row(values: np.ndarray | None, j: int) -> np.ndarray | None:
    """Row ``j`` of a (sites, n) array; a one-dimensional array serves every site."""
    if values is None:
        return None
    return values if values.ndim == 1 else values[j]


def _num(value: float | None, digits: int) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)


def _traps_view(traps: TrapChanges, i: int) -> dict:
    """Night and weekend base load and after-hours share of site ``i``, now and in the
    baseline, with the changes."""

    def one(t) -> dict:
        return {
            "night_base_kw": _num(t.night_base_kw[i], 2),
            "weekend_base_kw": _num(t.weekend_base_kw[i], 2),
            "after_hours_share_pct": _num(t.after_hours_share_pct[i], 1),
        }

    return {
        "competition": one(traps.actual),
        "baseline": one(traps.baseline),
        "night_base_change_pct": _num(traps.night_base_change_pct[i], 1),
        "weekend_base_change_pct": _num(traps.weekend_base_change_pct[i], 1),
        "after_hours_share_change_pct_points": _num(traps.after_hours_share_change_pp[i], 1),
    }

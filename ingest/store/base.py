"""The store interface: ingest writes through it, the api reads through it.

A store has two parts. ``ReadingStore`` (here) is what meters measure: readings, hourly energy,
outdoor temperatures, meter states, the quarantine, change tokens, and what imports write
(bills, a span of readings replaced). Ingest writes it on its hot path, scoring reads it.
``organiser.OrganiserStore`` is what organisers record (annotations, site edits). ``Store`` is
both: a ``ReadingStore`` whose ``organiser`` attribute is its ``OrganiserStore``.

Each backend implements each part in a module of its own: ``sqlite`` and ``sqlite_organiser``,
``influx`` and ``influx_organiser`` (the organiser part shares the readings part's connections).
Times cross this boundary as Unix time: ``*_ms`` integers in batches, ``ts_s`` float arrays in
series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from ingest.store.held import HeldItem
from ingest.store.organiser import OrganiserStore


class StoredReading(NamedTuple):
    """One validated reading ready to store (a named tuple: made once per reading)."""

    meter_id: str
    ts_ms: int
    energy_kwh: float | None
    power_w: float | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message (or part of one) that goes to the quarantine instead of the readings."""

    reason: str
    detail: str
    topic: str
    payload: bytes
    received_ms: int
    source: str = "mqtt"


@dataclass(frozen=True, slots=True)
class StoredTemperature:
    """One outdoor temperature of a weather station."""

    station: str
    ts_ms: int
    temp_c: float


@dataclass(slots=True)
class Message:
    """One received message: its readings, or the reasons it was rejected, stored together.

    ``payload`` is the message as received (empty for readings that never had one, such as
    imports): a store that refuses the message later (the InfluxDB spool's replay) quarantines
    it with these bytes, so that it can be reprocessed.
    """

    topic: str
    received_ms: int
    source: str = "mqtt"
    readings: list[StoredReading] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    temperatures: list[StoredTemperature] = field(default_factory=list)
    payload: bytes = b""
    held: list[HeldItem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    duplicates: int
    conflicts: int
    quarantined: int
    spooled: int = 0  # readings kept in a local spool until the remote store is back
    store_rejected: int = 0  # messages the store refused, quarantined (in ``quarantined`` too)
    held: int = 0  # held items kept (new, or the same data as a pending item; or spooled)


@dataclass(frozen=True, slots=True)
class MeterSeries:
    """Raw readings of one meter in time order; NaN where a reading lacks the value."""

    ts_s: np.ndarray
    energy_kwh: np.ndarray
    power_w: np.ndarray


@dataclass(frozen=True, slots=True)
class MeterHours:
    """Hourly energy of one meter per chain, on UTC hours (``hour_s``, Unix s)."""

    hour_s: np.ndarray
    reg_kwh: np.ndarray
    reg_s: np.ndarray
    pow_kwh: np.ndarray
    pow_s: np.ndarray


@dataclass(frozen=True, slots=True)
class MeterState:
    """The latest reading of a meter and when it arrived."""

    meter_id: str
    last_ts_s: float
    received_s: float
    power_w: float | None
    energy_kwh: float | None


class ReadingStore(Protocol):
    """What meters measure, and what imports add to it (module docstring)."""

    def write(self, messages: list[Message], release_ids: list[int] = ()) -> WriteResult:
        """Store messages in one durable transaction; exact duplicates are ignored, readings
        that contradict a stored one (same meter and time, other values) are quarantined.
        The messages' held items are kept in the same transaction (``Message.held``; an item
        the store refuses fails the write, ``ValueError``). ``release_ids`` are quarantine
        entries removed in the same transaction (reprocessing)."""

    def read_series(
        self, meter_ids: list[str], start_s: float, end_s: float
    ) -> dict[str, MeterSeries]:
        """Readings with start_s <= ts < end_s for each meter (meters without any are absent)."""

    def read_hourly(
        self, meter_ids: list[str], start_s: float, end_s: float
    ) -> dict[str, MeterHours]:
        """Hourly energy of each meter for UTC hours starting in [start_s, end_s)."""

    def late_readings(
        self, meter_ids: list[str], spans: list[tuple[int, int, int]]
    ) -> dict[str, list[tuple[int, float | None, float | None, int]]]:
        """Readings stored late: for each span ``(start_ms, end_ms, received_after_ms)``, the
        readings of ``meter_ids`` with start_ms <= ts < end_ms that were received after
        ``received_after_ms`` [Unix ms]. Meter → ``(ts_ms, energy_kwh, power_w, received_ms)``
        in time order (meters without any are absent); ``ingest.late_changes`` asks for each
        local day with the day's end plus 48 h."""

    def read_temperatures(
        self, stations: list[str], start_s: float, end_s: float
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(ts_s, temp_c) arrays per weather station for start_s <= ts < end_s."""

    def meter_states(self, now_s: float | None = None) -> dict[str, MeterState]:
        """Latest reading per meter; ``now_s`` [Unix s] (default: the clock) is where a store
        that looks back for it starts (InfluxDB); the answer is the same either way."""

    def quarantine_counts(self) -> dict[str, int]:
        """Number of quarantine entries per reason, less those released by reprocessing
        (SQLite keeps counting entries its retention dropped)."""

    def list_quarantine(
        self, limit: int = 100, reason: str | None = None, ids: list[int] | None = None
    ) -> list[dict]:
        """Most recent quarantine entries first (keys: id, received_ms, source, topic,
        reason, detail, payload, payload_bytes, payload_sha256, payload_truncated; see
        ``ingest/store/quarantine_rows.py``: the payload may be cut, or kept with another
        entry of its message, and the lengths are None where they were not recorded)."""

    def change_token(self) -> int:
        """A number that changes whenever anything was written (by any process)."""

    def changed_since_s(self, token: int) -> float | None:
        """The earliest time [Unix s] whose hourly energy may have changed since
        ``change_token`` answered ``token`` (inf: none did); None when the store cannot say,
        and a reader must read everything again."""

    def write_mark(self) -> tuple[int, int] | None:
        """A mark of every write so far that keeps its meaning across processes and restarts
        (``changed_since_mark`` compares with it): the store's last change record, by its
        position and a random id; None when the store cannot say now."""

    def changed_since_mark(self, mark: tuple[int, int]) -> float | None:
        """The earliest time [Unix s] whose hourly energy, bills or temperatures any write after
        ``mark`` (from ``write_mark``) may have changed (inf: none did); None when unknown (a
        change that does not say where, or the mark's record is gone: a restored backup)."""

    # -- imports: bills, replacing a span of readings --------------------------------------
    # Here and not in the organiser part: both change the energy that scoring reads, so they move
    # the change token like ingest's writes, and a replaced span mends hourly energy and the
    # meter's state in the same transaction as the readings.

    def delete_readings(self, meter_id: str, start_ms: int, end_ms: int) -> int:
        """Remove a meter's readings with start_ms <= ts <= end_ms (an import won an overlap)
        and mend its hourly energy: the readings around the range become one pair. Returns
        how many readings were removed."""

    def write_bills(self, meter_id: str, bills: list[tuple[int, int, float]]) -> None:
        """Store billing periods (start_ms, end_ms, energy_kwh) of a meter; a period with the
        same start and end again replaces the stored one."""

    def read_bills(self, meter_ids: list[str]) -> dict[str, np.ndarray]:
        """Billing periods per meter: an (n, 3) array of start_s, end_s, energy_kwh by start
        (meters without any are absent)."""

    def close(self) -> None:
        """Close the store, both parts (the organiser part shares its connections)."""


class Store(ReadingStore, Protocol):
    """What ``open_store`` gives: the readings part, and the organiser part as ``organiser``."""

    organiser: OrganiserStore

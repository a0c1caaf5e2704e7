"""Local wall-clock time stamps of a file → UTC, across both DST changes.

Exports from Swedish grid operators write local time without an offset. In autumn the hour
02:00–03:00 happens twice: a file in time order shows it twice, and the second time is read as
the later hour (standard time). In spring 02:00–03:00 does not exist: a row there is refused
with that reason. ``LocalClock`` reads one file's stamps in order and keeps notes of each DST
change it met, for the import report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


class NonexistentTime(ValueError):
    """A local time the clocks skipped (the spring DST change)."""


class LocalClock:
    """Reads a file's local time stamps in file order (see module docstring)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._last_utc_s: float | None = None
        self._notes: dict[str, dict] = {}

    def to_utc_s(self, local: datetime, count: bool = True) -> float:
        """Unix time [s] of ``local`` (naive: wall clock in the zone; aware: as it says).

        Raises NonexistentTime for a time the spring change skipped.
        """
        if local.tzinfo is not None:
            ts = local.timestamp()
            self._last_utc_s = ts
            return ts
        first = local.replace(tzinfo=self.tz, fold=0)
        second = local.replace(tzinfo=self.tz, fold=1)
        t0, t1 = first.timestamp(), second.timestamp()
        back = datetime.fromtimestamp(t0, UTC).astimezone(self.tz).replace(tzinfo=None)
        if back != local:
            if count:
                self._note(local, "spring")["rejected_rows"] += 1
            raise NonexistentTime(
                f"{local:%Y-%m-%d %H:%M} does not exist in {self.tz.key}: the clocks went "
                f"forward that night (DST); the row cannot be placed"
            )
        if t0 == t1:
            ts = t0
        else:  # the repeated autumn hour: the first time as summer time, again as winter time
            repeated = self._last_utc_s is not None and self._last_utc_s >= t0
            ts = t1 if repeated else t0
            if count:
                note = self._note(local, "autumn")
                note["second_occurrence_rows" if repeated else "first_occurrence_rows"] += 1
        self._last_utc_s = ts
        return ts

    def end_utc_s(self, start_local: datetime, start_s: float, end_local: datetime) -> float:
        """Unix time [s] of a row's end: a wall-clock length up to an hour is added to the
        start (so ``02:00–03:00`` of the first autumn 02:00 ends at the second 02:00); a longer
        row (a day) ends at its end's own local time."""
        if end_local.tzinfo is not None:
            return end_local.timestamp()
        length = end_local - start_local
        if timedelta(0) < length <= timedelta(hours=1):
            return start_s + length.total_seconds()
        saved = self._last_utc_s
        try:
            return self.to_utc_s(end_local, count=False)
        finally:
            self._last_utc_s = saved

    def notes(self) -> list[dict]:
        """How each DST change in the file was handled, in date order."""
        out = []
        for key in sorted(self._notes):
            note = dict(self._notes[key])
            if note["change"] == "autumn":
                note["handling"] = (
                    "02:00–03:00 happens twice: rows in file order are read first as summer "
                    "time, then as standard time"
                )
                if not note["second_occurrence_rows"]:
                    note["handling"] += "; this file shows the hour only once (the rest is a gap)"
            else:
                note["handling"] = "02:00–03:00 does not exist; rows stamped there are rejected"
            out.append(note)
        return out

    def _note(self, local: datetime, change: str) -> dict:
        key = f"{local:%Y-%m-%d}"
        return self._notes.setdefault(
            key,
            {
                "date": key,
                "change": change,
                "first_occurrence_rows": 0,
                "second_occurrence_rows": 0,
                "rejected_rows": 0,
            },
        )


def dst_changes(start_s: float, end_s: float, tz: ZoneInfo) -> list[dict]:
    """The DST changes in [start_s, end_s): date and which way (for reports of UTC files)."""
    out = []
    day = datetime.fromtimestamp(start_s, UTC).astimezone(tz).date()
    last = datetime.fromtimestamp(end_s, UTC).astimezone(tz).date()
    while day <= last:
        a = datetime.combine(day, datetime.min.time(), tzinfo=tz).utcoffset()
        b = datetime.combine(day + timedelta(1), datetime.min.time(), tzinfo=tz).utcoffset()
        if a != b:
            out.append({"date": day.isoformat(), "change": "spring" if b > a else "autumn"})
        day += timedelta(1)
    return out

"""What every import parser produces: rows with their line numbers, and rejected lines."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """Energy of one interval of a meter, from one line of a file."""

    line: int
    start_s: float  # Unix s (UTC)
    end_s: float
    energy_kwh: float


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """A cumulative register reading (the project's JSON), from one line of a file."""

    line: int
    ts_s: float
    energy_kwh: float | None
    power_w: float | None


@dataclass(frozen=True, slots=True)
class TemperatureRow:
    line: int
    ts_s: float
    temp_c: float


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str


@dataclass
class ParsedFile:
    """One file read: its rows, the lines it refused and how local time stamps were read."""

    name: str
    intervals: list[IntervalRow] = field(default_factory=list)
    registers: list[RegisterRow] = field(default_factory=list)
    temperatures: list[TemperatureRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    dst: list[dict] = field(default_factory=list)
    fmt: str = ""

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append(Rejection(line, reason))


class UnreadableFile(ValueError):
    """A file that cannot be read at all (no header found, not text, not JSON)."""

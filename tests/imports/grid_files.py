"""Grid-operator-style and SMHI-style files written by the tests (local time, DST, BOM)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.fixtures import TZ


def local_rows(first_utc: datetime, last_utc: datetime, step: timedelta):
    """(start local, end local, start utc) of each interval between two UTC times."""
    t = first_utc
    while t < last_utc:
        yield t.astimezone(TZ), (t + step).astimezone(TZ), t
        t += step


def grid_csv(rows: list[tuple[datetime, datetime, float]], header="Från;Till;kWh") -> bytes:
    """An Ellevio-like export: preamble, ``;``, decimal commas, UTF-8 with a BOM."""
    lines = ["Anläggnings-id;735999100000000001", "Mätpunkt;Söderhamns kommunhus", "", header]
    for start, end, kwh in rows:
        lines.append(f"{start:%Y-%m-%d %H:%M};{end:%Y-%m-%d %H:%M};{kwh:.3f}".replace(".", ","))
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def hourly_export(first_local: datetime, last_local: datetime, kw: float) -> bytes:
    """Hourly rows of constant power between two local midnights, in local wall time."""
    rows = [
        (a, b, kw)
        for a, b, _ in local_rows(
            first_local.astimezone(UTC), last_local.astimezone(UTC), timedelta(hours=1)
        )
    ]
    return grid_csv([(a.replace(tzinfo=None), b.replace(tzinfo=None), k) for a, b, k in rows])


def smhi_csv(first_utc: datetime, hours: int, temp_c) -> bytes:
    """SMHI open-data layout: station blocks, then Datum;Tid (UTC);Lufttemperatur;Kvalitet."""
    head = [
        "Stationsnamn;Stationsnummer;Stationsnät;Mäthöjd (meter över marken)",
        "Söderhamn;13410;SMHIs stationsnät;2.0",
        "",
        "Parameternamn;Beskrivning;Enhet",
        "Lufttemperatur;momentanvärde, 1 gång/tim;degree celsius",
        "",
        "Datum;Tid (UTC);Lufttemperatur;Kvalitet;;Tidsutsnitt:",
    ]
    rows = []
    for h in range(hours):
        t = first_utc + timedelta(hours=h)
        note = ";;Kvalitetskontrollerade historiska data" if h == 0 else ""
        rows.append(f"{t:%Y-%m-%d};{t:%H:%M:%S};{temp_c(t):.1f};G{note}")
    return ("\n".join(head + rows) + "\n").encode("utf-8")

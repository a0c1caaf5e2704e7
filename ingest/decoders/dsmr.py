"""Swedish/Nordic HAN (P1) ASCII telegrams (``format = "dsmr"``), the whole telegram per message.

A telegram is a header line ``/XXXZ<ident>``, an empty line, data lines ``OBIS(value*unit)`` and
a trailer ``!CRC``: CRC-16/ARC (polynomial 0x8005 reflected, initial value 0, no final XOR) over
the bytes from ``/`` up to and including ``!``, written as 1-4 hex digits (either case). Lines
may end in CRLF (as the meter sends them) or LF: the CRC is checked on the bytes as received,
and when that fails on a telegram whose gateway turned CRLF into LF, on the text with CRLF
restored.

Registers read: ``1-0:1.8.0`` cumulative import energy (``kWh`` or ``Wh``) → ``energy_kwh``;
``1-0:1.7.0`` import active power (``kW`` or ``W``) → ``power_w``. Units are case-insensitive
(``kwh``). A telegram without ``1-0:1.8.0`` but with tariff registers ``1-0:1.8.1``,
``1-0:1.8.2``... (Dutch-style meters) reads their sum. Export (``2.8.0``, ``2.7.0``), reactive,
per-phase (``21.7.0``, ``41.7.0``, ``61.7.0``...), voltage and current lines are ignored. The
header ident names the device, not a competition meter, so ``meter_id`` is None (the topic
decides).

Timestamp rule. ``0-0:1.0.0(YYMMDDhhmmssX)`` is by the Swedish recommendation always Swedish
standard time (UTC+1) and the ``X`` flag (``S``/``W``) is to be ignored, but real meters
disagree (some follow DST, flags are wrong in both directions). Gateways forward telegrams live,
every 10 s, so the receive time decides which reading is right:

1. the telegram time read as UTC+1, if it is within 120 s of the receive time;
2. else the telegram time read as UTC+2 (a meter that follows summer time), if within 120 s;
3. else the receive time (a meter with a wrong clock, an invalid date such as
   ``250000000000W``, or no ``0-0:1.0.0`` line at all).

The flag is never used. The two readings are an hour apart, so at most one can match; the rule
holds through both DST changes (the skipped and the repeated hour) without knowing the zone.

Bounds. A telegram is at most ``MAX_PAYLOAD_BYTES``; parsing is one pass over its lines, and
values are split at ``*`` and checked by patterns without adjacent unbounded quantifiers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from fastcrc import crc16

from ingest.decoders.bounds import SHOWN_CHARS, shown, shown_keys
from ingest.decoders.values import energy_register, finite, import_power
from ingest.readings import DecodeError, Reading

# A Swedish HAN telegram is 600-900 B, a DSMR 5 one with per-phase lines, M-Bus devices and a
# full text message (0-0:96.13.0, 1,024 characters hex-coded) about 3.5 KB: 8 KiB leaves room.
MAX_PAYLOAD_BYTES = 8 * 1024
MATCH_WINDOW = timedelta(seconds=120)  # telegram time vs receive time [s]
_OFFSETS = (timezone(timedelta(hours=1)), timezone(timedelta(hours=2)))


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (a.k.a. CRC-16/IBM, LHA): reflected poly 0x8005, init 0, no final XOR.

    fastcrc computes it in Rust: a pure-Python table loop costs ~45 ns a byte, which a telegram
    padded to its cap (or checked twice, as received and with CRLF restored) would pay in full.
    """
    return crc16.arc(data)


_HEADER = re.compile(r"/[A-Za-z]{3}\S")
_CRC_FIELD = re.compile(rb"([0-9A-Fa-f]{1,4})\s*")
# the start of a data line (anywhere in the telegram, so that the lines that are not data
# lines cost the regex engine's scan, not a Python loop each)
_DATA_LINE = re.compile(
    r"^[ \t]*(\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3})(?:\.255)?(?=\()", re.MULTILINE
)
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_UNIT = re.compile(r"[A-Za-z0-9]*")
_TIME = re.compile(r"(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([SWsw]?)")
_ENERGY_UNITS = {"kwh": 1.0, "wh": 0.001}  # → kWh
_POWER_UNITS = {"kw": 1000.0, "w": 1.0}  # → W
IMPORT_ENERGY, IMPORT_POWER, CLOCK = "1-0:1.8.0", "1-0:1.7.0", "0-0:1.0.0"
_TARIFF = re.compile(r"1-0:1\.8\.[1-9]")


def _registers(text: str) -> dict[str, list[str]]:
    """OBIS code → its values, of every data line ``OBIS(v1)(v2)...`` (the first of a code
    wins); other lines (empty, text, malformed registers nobody reads) are skipped.

    Values are split by hand: a pattern for the repeated groups would nest unbounded repeats.
    """
    registers: dict[str, list[str]] = {}
    for match in _DATA_LINE.finditer(text):
        end = text.find("\n", match.end())
        rest = text[match.end() : end if end >= 0 else len(text)].strip()
        if len(rest) < 2 or rest[-1] != ")":
            continue
        values = rest[1:-1].split(")(")
        if any("(" in v or ")" in v for v in values):
            continue
        registers.setdefault(match.group(1), values)
    return registers


def _check_crc(body: bytes, field: bytes) -> None:
    got = int(field, 16)
    computed = crc16_arc(body)
    if got == computed:
        return
    detail = f"{computed:04X} over the telegram as received"
    if re.search(rb"(?<!\r)\n", body):  # LF line endings: the meter sent CRLF
        restored = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        computed_crlf = crc16_arc(restored)
        if got == computed_crlf:
            return
        detail += f" or {computed_crlf:04X} with CRLF line endings restored"
    raise DecodeError(
        "bad_crc",
        f"CRC mismatch: expected {detail}, got {field.decode()!r} after '!'; the telegram "
        "was corrupted on the way",
    )


def _frame(payload: bytes) -> bytes:
    """The checked telegram from '/' up to and including '!'."""
    data = payload.lstrip(b" \t\r\n\x00")
    if not data.startswith(b"/"):
        head = data[:24]
        raise DecodeError(
            "undecodable",
            f"not a P1 telegram: it must start with a '/XXXZ<ident>' header line, got {head!r}",
        )
    bang = data.find(b"!")
    if bang < 0:
        raise DecodeError(
            "truncated",
            f"telegram truncated: no '!' end marker in {len(data)} bytes (last bytes "
            f"{data[-24:]!r})",
        )
    body, tail = data[: bang + 1], data[bang + 1 :]
    if not tail.strip():
        raise DecodeError("truncated", "telegram truncated: no CRC after the '!' end marker")
    match = _CRC_FIELD.fullmatch(tail)
    if match is None:
        raise DecodeError(
            "bad_crc",
            f"after '!' expected 1-4 hex CRC digits and the end of the telegram, got {tail[:24]!r}",
        )
    _check_crc(body, match.group(1))
    return body


def _quantity(registers: dict[str, list[str]], obis: str, units: dict[str, float]) -> float:
    raw = registers[obis][0]
    where = f"{obis}({raw})" if len(raw) <= SHOWN_CHARS else f"{obis}({shown(raw)})"
    number, star, unit = raw.partition("*")
    number, unit = number.strip(), unit.strip()
    if _NUMBER.fullmatch(number) is None or (star and _UNIT.fullmatch(unit) is None):
        raise DecodeError("non_numeric", f"{where}: expected value*unit, e.g. 0001.727*kW")
    if not unit:
        raise DecodeError("unsupported", f"{where}: no unit; expected one of {', '.join(units)}")
    scale = units.get(unit.lower())
    if scale is None:
        raise DecodeError(
            "unsupported",
            f"{where}: unit {unit!r} is not one of {', '.join(units)} (any case)",
        )
    return finite(float(number) * scale, where)


def _clock(registers: dict[str, list[str]]) -> datetime | None:
    """The telegram's wall time (naive), or None when absent or not a valid date."""
    values = registers.get(CLOCK)
    match = _TIME.fullmatch(values[0].strip()) if values else None
    if match is None:
        return None
    yy, mo, dd, hh, mi, ss = (int(g) for g in match.groups()[:6])
    try:
        return datetime(2000 + yy, mo, dd, hh, mi, ss)
    except ValueError:  # e.g. 250000000000W: a meter without a valid clock
        return None


def telegram_time(wall: datetime | None, received_utc: datetime) -> datetime:
    """The reading's UTC time by the rule in the module docstring."""
    received = received_utc.astimezone(UTC)
    if wall is not None:
        for offset in _OFFSETS:
            ts = wall.replace(tzinfo=offset).astimezone(UTC)
            if abs(ts - received) <= MATCH_WINDOW:
                return ts
    return received


def decode_dsmr(
    payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Decode one HAN/P1 telegram into one reading (see module docstring).

    Parameters
    ----------
    payload : bytes
        The whole telegram, ``/`` to ``!CRC``.
    topic : str
        MQTT topic; unused (the topic decides the meter).
    received_utc : datetime
        Arrival time, tz-aware; decides between the UTC+1 and UTC+2 readings of the telegram
        time, and is the reading's time when neither is within 120 s.
    tz : tzinfo or None
        Unused: the telegram time rule does not depend on the site's zone.

    Returns
    -------
    list of Reading
        One reading: ``energy_kwh`` [kWh] from 1-0:1.8.0 and/or ``power_w`` [W] from 1-0:1.7.0.

    Raises
    ------
    DecodeError
        ``undecodable`` (no header), ``truncated`` (no ``!`` or no CRC), ``bad_crc``,
        ``non_numeric``, ``non_finite``, ``unsupported`` (unknown unit) or ``no_value``.
    """
    body = _frame(payload)
    # every line break as \n, so that data lines start after one (as splitlines would split)
    text = body[:-1].decode("latin-1").replace("\r", "\n")
    header = text[: text.find("\n") if "\n" in text else len(text)].strip()
    if _HEADER.match(header) is None:
        raise DecodeError(
            "undecodable",
            f"header line {header[:40]!r} is not '/XXXZ<ident>' (3-letter maker, a baud "
            "character and the meter ident)",
        )
    registers = _registers(text[len(header) :])
    energy_kwh = power_w = None
    if IMPORT_ENERGY in registers:
        energy_kwh = _quantity(registers, IMPORT_ENERGY, _ENERGY_UNITS)
    else:
        tariffs = sorted(obis for obis in registers if _TARIFF.fullmatch(obis))
        if tariffs:
            energy_kwh = sum(_quantity(registers, t, _ENERGY_UNITS) for t in tariffs)
            energy_kwh = finite(energy_kwh, "+".join(tariffs))
    if IMPORT_POWER in registers:
        power_w = _quantity(registers, IMPORT_POWER, _POWER_UNITS)
    if energy_kwh is None and power_w is None:
        raise DecodeError(
            "no_value",
            f"telegram has neither {IMPORT_ENERGY} (import energy) nor {IMPORT_POWER} "
            f"(import power); registers: {shown_keys(registers)}",
        )
    ts = telegram_time(_clock(registers), received_utc)
    return [Reading(None, ts, energy_register(energy_kwh, IMPORT_ENERGY), import_power(power_w))]

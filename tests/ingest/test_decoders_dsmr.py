"""Tests for the Swedish/Nordic HAN (P1) telegram decoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.decoders.dsmr import crc16_arc, decode_dsmr
from ingest.readings import DecodeError, Reading

TOPIC = "han/soderhamn/p1"


def crc_reference(data: bytes) -> int:
    """CRC-16/ARC written out bit by bit, independent of the decoder's table."""
    crc = 0x0000
    for byte in data:
        for bit in range(8):
            feedback = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if feedback:
                crc ^= 0xA001  # 0x8005 bit-reversed
    return crc


# The example telegram of hanporten.se (docs/svenska/protokollet.md), CRC 7945 per the page.
HANPORTEN_LINES = [
    "0-0:1.0.0(210217184019W)",
    "1-0:1.8.0(00006678.394*kWh)",
    "1-0:2.8.0(00000000.000*kWh)",
    "1-0:3.8.0(00000021.988*kvarh)",
    "1-0:4.8.0(00001020.971*kvarh)",
    "1-0:1.7.0(0001.727*kW)",
    "1-0:2.7.0(0000.000*kW)",
    "1-0:3.7.0(0000.000*kvar)",
    "1-0:4.7.0(0000.309*kvar)",
    "1-0:21.7.0(0001.023*kW)",
    "1-0:41.7.0(0000.350*kW)",
    "1-0:61.7.0(0000.353*kW)",
    "1-0:22.7.0(0000.000*kW)",
    "1-0:42.7.0(0000.000*kW)",
    "1-0:62.7.0(0000.000*kW)",
    "1-0:23.7.0(0000.000*kvar)",
    "1-0:43.7.0(0000.000*kvar)",
    "1-0:63.7.0(0000.000*kvar)",
    "1-0:24.7.0(0000.009*kvar)",
    "1-0:44.7.0(0000.161*kvar)",
    "1-0:64.7.0(0000.138*kvar)",
    "1-0:32.7.0(240.3*V)",
    "1-0:52.7.0(240.1*V)",
    "1-0:72.7.0(241.3*V)",
    "1-0:31.7.0(004.2*A)",
    "1-0:51.7.0(001.6*A)",
    "1-0:71.7.0(001.7*A)",
]
HEADER = "/ELL5\\253833635_A"
HANPORTEN_BODY = ("\r\n".join([HEADER, "", *HANPORTEN_LINES]) + "\r\n!").encode()
# 18:40:19 Swedish standard time (UTC+1), received 6 s later
HANPORTEN_TIME = datetime(2021, 2, 17, 17, 40, 19, tzinfo=UTC)


def telegram(lines: list[str], header: str = HEADER, eol: str = "\r\n", crc: str | None = None):
    """A telegram with the given data lines; its CRC computed by ``crc_reference``."""
    body = (eol.join([header, "", *lines]) + eol + "!").encode()
    return body + (crc if crc is not None else f"{crc_reference(body):04X}").encode() + b"\r\n"


def with_clock(stamp: str, *lines: str) -> bytes:
    return telegram(
        [f"0-0:1.0.0({stamp})", "1-0:1.8.0(00012345.678*kWh)", "1-0:1.7.0(0002.500*kW)", *lines]
    )


def decode(payload: bytes, received: datetime = HANPORTEN_TIME + timedelta(seconds=6)):
    return decode_dsmr(payload, TOPIC, received)


def error(payload: bytes, received: datetime = HANPORTEN_TIME) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(payload, received)
    return info.value


# --- CRC -----------------------------------------------------------------------------------


def test_crc16_arc_check_value_and_the_hanporten_example():
    assert crc16_arc(b"123456789") == crc_reference(b"123456789") == 0xBB3D
    assert crc16_arc(HANPORTEN_BODY) == crc_reference(HANPORTEN_BODY) == 0x7945


@given(st.binary(max_size=200))
def test_crc16_arc_matches_the_bitwise_reference(data):
    assert crc16_arc(data) == crc_reference(data)


# --- the hanporten example and line endings ------------------------------------------------


def test_hanporten_example_telegram():
    [reading] = decode(HANPORTEN_BODY + b"7945\r\n")
    assert reading == Reading(None, HANPORTEN_TIME, 6678.394, 1727.0)


@pytest.mark.parametrize(
    "payload",
    [
        HANPORTEN_BODY + b"7945",  # no final line break
        HANPORTEN_BODY + b"7945\n",
        HANPORTEN_BODY + b"7945\r\n\r\n",
        b"\r\n" + HANPORTEN_BODY + b"7945\r\n",  # leading line break from the gateway
        HANPORTEN_BODY.replace(b"\r\n", b"\n") + b"7945\n",  # gateway turned CRLF into LF
    ],
)
def test_line_endings_as_gateways_forward_them(payload):
    assert decode(payload)[0].energy_kwh == 6678.394


def test_lf_telegram_with_its_crc_over_lf_is_accepted():
    assert decode(telegram(HANPORTEN_LINES, eol="\n"))[0].power_w == 1727.0


def test_crc_is_case_insensitive_and_may_drop_leading_zeros():
    lines = list(HANPORTEN_LINES)
    for watts in range(10_000):  # find a telegram whose CRC is below 0x100
        lines[5] = f"1-0:1.7.0({watts / 1000:08.3f}*kW)"
        crc = crc_reference(telegram(lines, crc="")[:-2])
        if crc < 0x100:
            break
    short = telegram(lines, crc=f"{crc:x}")
    assert len(short.rsplit(b"!", 1)[1].strip()) <= 2
    assert decode(short)[0].power_w == pytest.approx(watts)
    assert decode(telegram(lines, crc=f"{crc:04x}"))[0].power_w == pytest.approx(watts)


# --- registers and units -------------------------------------------------------------------


def test_units_are_case_insensitive_and_wh_and_w_are_converted():
    lines = ["0-0:1.0.0(210217184019W)", "1-0:1.8.0(6678394*wh)", "1-0:1.7.0(1727*w)"]
    assert decode(telegram(lines)) == [Reading(None, HANPORTEN_TIME, 6678.394, 1727.0)]
    lines = ["0-0:1.0.0(210217184019W)", "1-0:1.8.0(00006678.394*kwh)", "1-0:1.7.0(1.727*KW)"]
    assert decode(telegram(lines)) == [Reading(None, HANPORTEN_TIME, 6678.394, 1727.0)]


def test_export_and_per_phase_registers_are_ignored():
    lines = [
        "0-0:1.0.0(210217184019W)",
        "1-0:1.8.0(00006678.394*kWh)",
        "1-0:2.8.0(00001234.000*kWh)",
        "1-0:1.7.0(0000.000*kW)",
        "1-0:2.7.0(0003.200*kW)",  # exporting: import power is 0
        "1-0:21.7.0(0000.000*kW)",
        "1-0:22.7.0(0001.100*kW)",
    ]
    assert decode(telegram(lines)) == [Reading(None, HANPORTEN_TIME, 6678.394, 0.0)]


def test_energy_only_and_power_only_telegrams():
    energy = decode(telegram(["0-0:1.0.0(210217184019W)", "1-0:1.8.0(00000001.500*kWh)"]))
    assert energy == [Reading(None, HANPORTEN_TIME, 1.5, None)]
    power = decode(telegram(["1-0:1.7.0(0000.250*kW)"]))  # no clock: the receive time
    assert power == [Reading(None, HANPORTEN_TIME + timedelta(seconds=6), None, 250.0)]


def test_tariff_registers_are_summed_without_1_8_0():
    lines = ["1-0:1.8.1(001000.500*kWh)", "1-0:1.8.2(000200.250*kWh)", "1-0:2.8.1(5.0*kWh)"]
    assert decode(telegram(lines))[0].energy_kwh == pytest.approx(1200.75)


def test_obis_with_trailing_255_group_is_read():
    lines = ["1-0:1.8.0.255(00000010.000*kWh)"]
    assert decode(telegram(lines))[0].energy_kwh == 10.0


# --- errors --------------------------------------------------------------------------------


def test_bad_crc_names_expected_and_got():
    corrupted = HANPORTEN_BODY.replace(b"6678.394", b"6678.395") + b"7945\r\n"
    exc = error(corrupted)
    assert exc.reason == "bad_crc"
    expected = f"{crc_reference(corrupted.split(b'!')[0] + b'!'):04X}"
    assert f"expected {expected}" in str(exc) and "got '7945'" in str(exc)


def test_bad_crc_on_an_lf_telegram_names_both_computations():
    exc = error(HANPORTEN_BODY.replace(b"\r\n", b"\n") + b"1234\n")
    assert exc.reason == "bad_crc"
    assert "as received" in str(exc) and "7945 with CRLF line endings restored" in str(exc)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (HANPORTEN_BODY + b"ZZZZ\r\n", "1-4 hex"),
        (HANPORTEN_BODY + b"79450\r\n", "1-4 hex"),
        (HANPORTEN_BODY + b"7945\r\n/ELL5 second telegram", "1-4 hex"),
    ],
)
def test_malformed_crc_field_is_bad_crc(payload, says):
    exc = error(payload)
    assert exc.reason == "bad_crc" and says in str(exc)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (HANPORTEN_BODY[:300], "no '!'"),
        (HANPORTEN_BODY[:-1], "no '!'"),
        (HANPORTEN_BODY, "no CRC"),
        (HANPORTEN_BODY + b"\r\n", "no CRC"),
    ],
)
def test_truncated_telegram(payload, says):
    exc = error(payload)
    assert exc.reason == "truncated" and says in str(exc)


@pytest.mark.parametrize(
    "payload",
    [
        HANPORTEN_BODY.split(b"\r\n", 2)[2] + b"7945\r\n",  # header and blank line cut off
        b"1-0:1.8.0(00006678.394*kWh)\r\n!7945\r\n",
        b"",
        b'{"ts": 1}',
    ],
)
def test_missing_header_is_undecodable(payload):
    exc = error(payload)
    assert exc.reason == "undecodable" and "'/XXXZ<ident>' header" in str(exc)


def test_header_that_is_not_a_meter_ident_is_undecodable():
    exc = error(telegram(["1-0:1.8.0(1*kWh)"], header="/12"))
    assert exc.reason == "undecodable" and "is not '/XXXZ<ident>'" in str(exc)


@pytest.mark.parametrize(
    ("line", "reason", "says"),
    [
        ("1-0:1.8.0(abc*kWh)", "non_numeric", "1-0:1.8.0(abc*kWh)"),
        ("1-0:1.8.0(00006678.394*kvarh)", "unsupported", "unit 'kvarh'"),
        ("1-0:1.8.0(00006678.394)", "unsupported", "no unit"),
        ("1-0:1.7.0(1.727*kWh)", "unsupported", "unit 'kWh'"),
        ("1-0:1.8.0(" + "9" * 400 + "*kWh)", "non_finite", "not a finite number"),
        ("1-0:32.7.0(240.3*V)", "no_value", "neither 1-0:1.8.0"),
    ],
)
def test_bad_registers(line, reason, says):
    exc = error(telegram(["0-0:1.0.0(210217184019W)", line]))
    assert exc.reason == reason and says in str(exc)


# --- the timestamp rule across DST ---------------------------------------------------------
# Sweden: DST starts 2025-03-30 01:00 UTC (02:00 → 03:00), ends 2025-10-26 01:00 UTC (03:00 →
# 02:00). "UTC+1" meters keep standard time all year; "UTC+2" meters follow summer time. The
# S/W flag is ignored: flags below are sometimes deliberately wrong.


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamp", "received", "expected"),
    [
        # late March, before the change: both kinds of meter show standard time
        ("250330015950W", utc(2025, 3, 30, 0, 59, 58), utc(2025, 3, 30, 0, 59, 50)),
        # just after the change: UTC+1 meter shows 02:30 (a wall time that does not exist)
        ("250330023000W", utc(2025, 3, 30, 1, 30, 5), utc(2025, 3, 30, 1, 30)),
        ("250330023000S", utc(2025, 3, 30, 1, 30, 5), utc(2025, 3, 30, 1, 30)),  # wrong flag
        ("250330033000S", utc(2025, 3, 30, 1, 30, 5), utc(2025, 3, 30, 1, 30)),  # UTC+2 meter
        ("250330033000W", utc(2025, 3, 30, 1, 30, 5), utc(2025, 3, 30, 1, 30)),  # wrong flag
        # the week after
        ("250402110000W", utc(2025, 4, 2, 10, 0, 9), utc(2025, 4, 2, 10, 0)),
        ("250402120000S", utc(2025, 4, 2, 10, 0, 9), utc(2025, 4, 2, 10, 0)),
        # late October, first 02:30 (still summer time)
        ("251026013000W", utc(2025, 10, 26, 0, 30, 4), utc(2025, 10, 26, 0, 30)),
        ("251026023000S", utc(2025, 10, 26, 0, 30, 4), utc(2025, 10, 26, 0, 30)),
        # the repeated 02:30, now standard time: both meters agree
        ("251026023000W", utc(2025, 10, 26, 1, 30, 4), utc(2025, 10, 26, 1, 30)),
        ("251026023000S", utc(2025, 10, 26, 1, 30, 4), utc(2025, 10, 26, 1, 30)),  # wrong flag
        # an hour later: 03:30 on both meters
        ("251026033000W", utc(2025, 10, 26, 2, 30, 4), utc(2025, 10, 26, 2, 30)),
        # the week before the October change, both flavours
        ("251020120000W", utc(2025, 10, 20, 11, 0, 3), utc(2025, 10, 20, 11, 0)),
        ("251020130000S", utc(2025, 10, 20, 11, 0, 3), utc(2025, 10, 20, 11, 0)),
        # no flag at all
        ("251020120000", utc(2025, 10, 20, 11, 0, 3), utc(2025, 10, 20, 11, 0)),
    ],
)
def test_telegram_time_as_utc_plus_1_or_plus_2_whichever_matches_the_receive_time(
    stamp, received, expected
):
    [reading] = decode(with_clock(stamp), received)
    assert reading.ts_utc == expected and reading.ts_utc.tzinfo is UTC


@pytest.mark.parametrize(
    ("stamp", "received"),
    [
        ("250000000000W", utc(2025, 3, 30, 1, 30, 5)),  # invalid date of a meter without clock
        ("251332250000W", utc(2025, 3, 30, 1, 30, 5)),
        ("garbage", utc(2025, 3, 30, 1, 30, 5)),
        ("250330024000W", utc(2025, 3, 30, 1, 30, 5)),  # 10 min off either way
        ("250330004000W", utc(2025, 3, 30, 1, 30, 5)),
        ("200101000000W", utc(2025, 3, 30, 1, 30, 5)),  # clock reset to 2020
    ],
)
def test_telegram_time_falls_back_to_the_receive_time(stamp, received):
    [reading] = decode(with_clock(stamp), received)
    assert reading.ts_utc == received


def test_match_window_is_120_seconds():
    received = utc(2025, 1, 15, 12, 0, 0)
    [inside] = decode(with_clock("250115125800W"), received)  # 120 s before
    assert inside.ts_utc == utc(2025, 1, 15, 11, 58)
    [outside] = decode(with_clock("250115125759W"), received)  # 121 s before
    assert outside.ts_utc == received
    [ahead] = decode(with_clock("250115130200W"), received)  # 120 s ahead
    assert ahead.ts_utc == utc(2025, 1, 15, 12, 2)


def test_receive_time_in_another_zone_is_normalised_to_utc():
    from zoneinfo import ZoneInfo

    received = datetime(2021, 2, 17, 18, 40, 25, tzinfo=ZoneInfo("Europe/Stockholm"))
    [reading] = decode(with_clock("210217184019W"), received)
    assert reading.ts_utc == HANPORTEN_TIME and reading.ts_utc.tzinfo is UTC
    [fallback] = decode(with_clock("250000000000W"), received)
    assert fallback.ts_utc == received and fallback.ts_utc.tzinfo is UTC

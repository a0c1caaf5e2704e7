"""Any text survives InfluxDB exactly, and no text can inject a line or a statement.

Unit tests of ``line_protocol`` and ``influxql`` for known tricky cases (no server), then
property tests against the real server: meter ids, topics, sources, reasons, details and
payloads drawn from all of Unicode (spaces, commas, ``=``, both quotes, backslashes also at
the end, newlines, ``%``, å ä ö, emoji, NUL) go through write → read_series / meter_states /
read_hourly / list_quarantine unchanged, and nothing but the intended points exists afterwards.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.store.base import Message, Rejected, StoredReading
from ingest.store.influx import InfluxStore
from ingest.store.influxql import any_of, ident, literal
from ingest.store.line_protocol import decode_tag, decode_text, encode_point, encode_text

T0_MS = 1_300_000_000_000

# all of Unicode, with the characters line protocol and InfluxQL treat specially drawn often
_chars = st.one_of(st.sampled_from(list(" ,=\"'\\\n\r\t%#åäöÅÄÖ😀⚡\x00\x7f;/*")), st.characters())
any_text = st.text(_chars)
texts = st.text(_chars, min_size=1)

TRICKY = [
    "plain",
    "with space",
    "comma,equals=quote\"apostrophe'",
    "trailing backslash\\",
    "\\",
    "\\\\",
    "\\,\\=\\ ",
    "new\nline\r\n",
    "100%",
    "%25 is not decoded twice",
    "Älvdalen åäö ÅÄÖ",
    "emoji 🔌⚡",
    "nul\x00byte",
    "tab\tdel\x7f",
    "x\nreading,meter=evil energy_kwh=1 1",
    "'; DROP DATABASE x; --",
    '"; DROP DATABASE "x"; --',
    "a' OR \"meter\" = 'm2",
    "/.*/",
]


# -- no server ---------------------------------------------------------------------------


def test_encode_point_escapes_tags_and_fields():
    line = encode_point(
        "reading",
        {"meter": "a b,c=d", "chain": "reg"},
        {"energy_kwh": 1.5, "received_ms": 7, "ok": True, "topic": 'say "hi" \\', "none": None},
        123,
    )
    assert line == (
        r"reading,chain=reg,meter=a\ b\,c\=d "
        r'energy_kwh=1.5,received_ms=7i,ok=true,topic="say \"hi\" \\" 123'
    )


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("x\\", "x%5C"),  # a trailing backslash would escape the space after it
        ("a\nb", "a%0Ab"),
        ("a\rb", "a%0Db"),
        ("100%", "100%25"),
        ("nul\x00", "nul%00"),
        ("åäö🔌", "åäö🔌"),
        ('"quoted"', '"quoted"'),  # quotes need no escape in a tag value
    ],
)
def test_tag_values_are_percent_encoded_where_line_protocol_cannot_carry_them(value, encoded):
    assert encode_point("reading", {"meter": value}, {"v": 1.0}, 1) == (
        f"reading,meter={encoded} v=1.0 1"
    )
    assert decode_tag(encoded) == value


def test_string_fields_escape_quotes_and_backslashes_and_encode_newlines():
    line = encode_point("q", {}, {"detail": 'a"b\\c\nd%'}, 1)
    assert line == 'q detail="a\\"b\\\\c%0Ad%25" 1'


def test_encode_point_refuses_what_it_cannot_write():
    with pytest.raises(ValueError, match="at least one field"):
        encode_point("reading", {"meter": "m"}, {"energy_kwh": None}, 1)
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ValueError, match="cannot carry"):
            encode_point("reading", {"meter": "m"}, {"energy_kwh": bad}, 1)


def test_empty_tag_values_are_left_out_and_tags_sorted():
    assert encode_point("m", {"z": "1", "a": "", "b": None, "c": "2"}, {"v": 1}, 5) == (
        "m,c=2,z=1 v=1i 5"
    )


def test_floats_keep_every_digit():
    for value in (0.1, 1e-300, 5e-324, 123456789.123456789, 1e16, -0.0):
        line = encode_point("m", {}, {"v": value}, 1)
        assert float(line.split("v=")[1].split(" ")[0]) == value


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ("a\\b", "'a%5Cb'"),
        ("trailing\\", "'trailing%5C'"),
        ("a\nb", "'a%0Ab'"),
        ("x%y", "'x%25y'"),
        ("'; DROP DATABASE x; --", "'\\'; DROP DATABASE x; --'"),
        ("åäö", "'åäö'"),
    ],
)
def test_influxql_literal(text, quoted):
    assert literal(text) == quoted


def test_influxql_ident_and_any_of():
    assert ident("meter") == '"meter"'
    assert ident('we"ird\\') == '"we\\"ird\\\\"'
    assert any_of("meter", []) == "false"
    assert any_of("meter", ["a", "b'c"]) == "(\"meter\" = 'a' OR \"meter\" = 'b\\'c')"


@given(any_text)
def test_encode_text_round_trips_and_leaves_no_control_character(text):
    encoded = encode_text(text)
    assert decode_text(encoded) == text
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in encoded)


@given(meter=texts, detail=any_text, topic=any_text)
def test_a_point_is_always_one_line(meter, detail, topic):
    line = encode_point("reading", {"meter": meter}, {"detail": detail, "topic": topic}, 1)
    assert "\n" not in line and "\r" not in line
    # a literal is one quoted string: every quote inside it is escaped
    quoted = literal(meter)
    assert quoted.startswith("'") and quoted.endswith("'")
    assert "'" not in quoted[1:-1].replace("\\'", "")
    assert "\\" not in quoted[1:-1].replace("\\'", "")


# -- against the server --------------------------------------------------------------------


def _write_everything(store, meter, topic, source, reason, detail, payload) -> None:
    readings = [
        StoredReading(meter, T0_MS, 10.0, 1000.0),
        StoredReading(meter, T0_MS + 60_000, 10.25, 1100.0),
    ]
    rejected = [Rejected(reason, detail, topic, payload, T0_MS + 61_000, source)]
    result = store.write([Message(topic, T0_MS + 61_000, source, readings, rejected)])
    assert (result.inserted, result.quarantined, result.spooled) == (2, 1, 0)


def _check_exactly_what_was_written(
    influxd, db, store, meter, topic, source, reason, detail, payload
):
    series = store.read_series([meter], T0_MS / 1000, T0_MS / 1000 + 3600)
    assert list(series) == [meter]
    assert series[meter].energy_kwh.tolist() == [10.0, 10.25]
    assert series[meter].power_w.tolist() == [1000.0, 1100.0]
    assert list(store.meter_states()) == [meter]
    hours = store.read_hourly([meter], 0, 2e9)
    assert list(hours) == [meter]
    assert hours[meter].reg_kwh.sum() == pytest.approx(0.25)
    assert store.count_readings() == 2
    assert store.quarantine_counts() == {reason: 1}
    (row,) = store.list_quarantine()
    assert row == {
        "id": row["id"],
        "received_ms": T0_MS + 61_000,
        "source": source,
        "topic": topic,
        "reason": reason,
        "detail": detail,
        "payload": payload,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "payload_truncated": False,
    }
    assert store.list_quarantine(reason=reason) == [row]
    assert store.list_quarantine(ids=[row["id"]]) == [row]
    # nothing but the intended points: 2 readings, energy pieces of two chains, 1 quarantine
    assert db in influxd.databases()
    assert sorted(influxd.measurements(db)) == [
        "energy",
        "hourly",
        "quarantine",
        "reading",
        "schema",
        "writes",
    ]
    # reading; energy reg and pow; hourly; quarantine; writes; schema (the rollup's mark)
    assert len(influxd.series(db)) == 7
    assert influxd.count_points(db, "reading") == 2
    assert influxd.count_points(db, "quarantine") == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    meter=texts,
    topic=any_text,
    source=any_text,
    reason=texts,
    detail=any_text,
    payload=st.binary(),
)
@example(
    meter="x\nreading,meter=evil energy_kwh=1 1",
    topic='"; DROP DATABASE "x"; --',
    source="mqtt\\",
    reason="a' OR \"reason\" = 'b",
    detail="'; DROP DATABASE x; --",
    payload=b"\x00\xff",
)
@example(
    meter="\\",
    topic="\\",
    source="\\",
    reason="\\",
    detail="\\",
    payload=b"",
)
@example(meter=" ,=", topic="%25", source="%", reason="%0A", detail="\n", payload=b"\n")
@example(
    meter="Älvdalen kommunhus 🔌",
    topic="wattleague/ä/ö/🔌",
    source="nul\x00",
    reason="åäö",
    detail="emoji ⚡ \"quoted\" 'single'",
    payload="ö".encode(),
)
def test_any_text_round_trips_exactly_and_injects_nothing(
    influxd, influx_database, meter, topic, source, reason, detail, payload
):
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    try:
        _write_everything(store, meter, topic, source, reason, detail, payload)
        _check_exactly_what_was_written(
            influxd, db, store, meter, topic, source, reason, detail, payload
        )
        # the same readings again are duplicates, found by a query that quotes the meter id
        again = store.write(
            [Message(topic, 1, source, [StoredReading(meter, T0_MS, 10.0, 1000.0)])]
        )
        assert (again.inserted, again.duplicates) == (0, 1)
    finally:
        store.close()


def test_tricky_meter_ids_side_by_side_stay_apart(influxd, influx_database):
    """Every tricky id in one database: each reads back only its own readings."""
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    try:
        readings = [
            StoredReading(meter, T0_MS + 1000 * k, float(i), None)
            for i, meter in enumerate(TRICKY)
            for k in range(2)
        ]
        assert store.write([Message("t", T0_MS, "mqtt", readings)]).inserted == 2 * len(TRICKY)
        # a late reading for each: found by queries that quote the id (neighbours, stored_at)
        late = [StoredReading(m, T0_MS + 500, float(i), None) for i, m in enumerate(TRICKY)]
        assert store.write([Message("t", T0_MS, "mqtt", late)]).inserted == len(TRICKY)
        series = store.read_series(TRICKY, 0, 2e9)
        assert sorted(series) == sorted(TRICKY)
        for i, meter in enumerate(TRICKY):
            assert series[meter].energy_kwh.tolist() == [float(i)] * 3, meter
        assert sorted(store.meter_states()) == sorted(TRICKY)
        assert store.count_readings() == 3 * len(TRICKY)
        assert sorted(influxd.measurements(db)) == [
            "energy",
            "hourly",
            "reading",
            "schema",
            "writes",
        ]
        assert db in influxd.databases()
    finally:
        store.close()

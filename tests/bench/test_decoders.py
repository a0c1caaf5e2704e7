"""The decoder benchmark's payloads are what they claim: exactly their size, and each ends as it
says (a DSMR telegram's CRC is valid, an adversarial payload reaches the part it targets); a
payload that reaches a bound reaches the one the decoder modules enforce."""

from __future__ import annotations

import orjson
import pytest

from bench.decoders import KIB, MIB, _deep, _list, all_cases, cap_bytes, decoding, expected
from ingest.decoders.bounds import (
    MAX_CHANNELS,
    MIN_BYTES_PER_CONTAINER,
    SENML_BYTES_PER_CONTAINER,
    check_density,
)
from ingest.decoders.shelly import MAX_METERING_COMPONENTS
from ingest.decoders.tasmota import MAX_TASMOTA_CHANNELS
from ingest.decoders.weather import MAX_TEMPERATURES
from ingest.readings import DecodeError

CASES = [
    (fmt, group, case)
    for fmt, groups in all_cases().items()
    for group, (normal, adversarial) in groups.items()
    for case in (normal, *adversarial)
    if case.expect is not None  # auto's copies of the other formats' adversarial payloads
]


@pytest.mark.parametrize(
    ("fmt", "group", "case"), CASES, ids=[f"{fmt}: {c.name}" for fmt, _, c in CASES]
)
def test_payload_is_its_size_and_ends_as_it_says(fmt, group, case):
    # as the bench runs them: the size as cap, then the group's own cap by default (for auto,
    # the detected format's cap applies too)
    for size, cap in ((KIB, KIB), (cap_bytes(group), None)):
        payload = case.build(size)
        assert len(payload) == size
        outcome = decoding(fmt, payload, case.topic, cap)()
        assert expected(case, outcome), f"{size:,} bytes: {outcome}"


def test_every_format_has_a_normal_and_adversarial_payloads():
    per_format = all_cases()
    assert {"json", "senml", "dsmr", "tasmota", "shelly", "emon", "auto"} <= set(per_format)
    for fmt, groups in per_format.items():
        assert set(groups) == (
            {"json", "senml", "dsmr", "tasmota", "shelly", "emon"} if fmt == "auto" else {fmt}
        )
        for normal, adversarial in groups.values():
            assert normal.expect == {"ok"} and len(adversarial) >= 5


def _named(fmt: str, bound: int) -> list:
    """``fmt``'s adversarial cases whose name starts with ``bound`` (the bound reached)."""
    _, adversarial = all_cases()[fmt][fmt]
    prefixes = (f"{bound} ", f"{bound:,} ", f"{bound}-")
    cases = [case for case in adversarial if case.name.startswith(prefixes)]
    assert cases, f"{fmt}: no payload reaches {bound}"
    return cases


@pytest.mark.parametrize("density", [MIN_BYTES_PER_CONTAINER, SENML_BYTES_PER_CONTAINER])
def test_nesting_at_a_density_bound_is_exactly_at_it(density):
    # accepted at the bound, refused one byte a level denser
    at_bound = _list(_deep(b"%n", density=density))(MIB)
    check_density(at_bound, density)
    denser = _list(_deep(b"%n", density=density - 1))(MIB)
    with pytest.raises(DecodeError) as refused:
        check_density(denser, density)
    assert refused.value.reason == "too_complex"


def test_nesting_payloads_follow_their_formats_density_bound():
    bounds = {"json": MIN_BYTES_PER_CONTAINER, "senml": SENML_BYTES_PER_CONTAINER}
    bounds |= {fmt: MIN_BYTES_PER_CONTAINER for fmt in ("tasmota", "shelly", "emon")}
    for fmt, density in bounds.items():
        _, adversarial = all_cases()[fmt][fmt]
        names = [case.name for case in adversarial if "B a container" in case.name]
        assert names == [name for name in names if f"at {density} B a container" in name], fmt
        assert names, fmt


def test_tasmota_payloads_reach_the_channel_bound():
    for case in _named("tasmota", MAX_TASMOTA_CHANNELS):
        doc = orjson.loads(case.build(cap_bytes("tasmota")))
        assert len(doc["ENERGY"]["Power"]) == MAX_TASMOTA_CHANNELS, case.name


def test_shelly_payloads_reach_the_component_bounds():
    metering_keys = {"apower", "aenergy", "total_act_power", "total_act"}
    for case in _named("shelly", MAX_METERING_COMPONENTS):
        params = orjson.loads(case.build(cap_bytes("shelly")))["params"]
        metering = [
            key
            for key, status in params.items()
            if isinstance(status, dict) and metering_keys & status.keys()
        ]
        assert len(metering) == MAX_METERING_COMPONENTS, case.name
        if "skipped" in case.name:
            assert len(params) == MAX_CHANNELS, case.name


@pytest.mark.parametrize("fmt", ["weather-json", "weather-senml"])
def test_weather_payloads_reach_the_temperature_bound(fmt):
    for case in _named(fmt, MAX_TEMPERATURES):
        assert len(orjson.loads(case.build(MIB))) == MAX_TEMPERATURES, case.name

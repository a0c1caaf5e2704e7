"""The decoder benchmark's payloads are what they claim: exactly their size, and each ends as it
says (a DSMR telegram's CRC is valid, an adversarial payload reaches the part it targets)."""

from __future__ import annotations

import pytest

from bench.decoders import KIB, all_cases, cap_bytes, decoding, expected

CASES = [
    (fmt, case)
    for fmt, (normal, adversarial) in all_cases().items()
    for case in (normal, *adversarial)
    if case.expect is not None  # auto's copies of the other formats' payloads
]


@pytest.mark.parametrize(("fmt", "case"), CASES, ids=[f"{fmt}: {c.name}" for fmt, c in CASES])
def test_payload_is_its_size_and_ends_as_it_says(fmt, case):
    for size in (KIB, cap_bytes(fmt)):
        payload = case.build(size)
        assert len(payload) == size
        # the size as cap: auto's own cap row refuses a 1 MiB senml pack as too large
        outcome = decoding(fmt, payload, case.topic, size)()
        assert expected(case, outcome), f"{size:,} bytes: {outcome}"


def test_every_format_has_a_normal_and_adversarial_payloads():
    per_format = all_cases()
    assert {"json", "senml", "dsmr", "tasmota", "shelly", "emon", "auto"} <= set(per_format)
    for normal, adversarial in per_format.values():
        assert normal.expect == {"ok"} and len(adversarial) >= 5

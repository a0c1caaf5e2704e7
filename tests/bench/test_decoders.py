"""The decoder benchmark's payloads are what they claim: exactly their size, and each ends as it
says (a DSMR telegram's CRC is valid, an adversarial payload reaches the part it targets)."""

from __future__ import annotations

import pytest

from bench.decoders import KIB, all_cases, cap_bytes, decoding, expected

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

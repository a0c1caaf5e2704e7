"""Decoder benchmark: ns per byte of every payload decoder, normal against adversarial payloads.

Usage (from the repository root):

    python -m bench.decoders [--quick] [--only dsmr,senml] [--all] [--gc-off]

For every format in ``ingest.decoders.FORMATS`` (and the weather decoder's json and senml
formats) and every size (1 KiB, 100 KiB, 1 MiB, then the format's own cap) it builds a NORMAL
payload of exactly that size (well-formed content the decoder reads: a list of readings, a
telegram padded with more OBIS lines, a SenML pack, a node object of many inputs...) and a set of
ADVERSARIAL payloads of the same size (whitespace, digit and line-break floods, duplicated
lines and keys, deep nesting, huge strings, the densest valid readings, an error only at the
very end...). Every payload goes through ``ingest.decoders.decode``: the size rows pass
``max_payload_bytes=<size>`` so that payloads above the format's cap are still decoded (that is
how linearity shows; the weather decoder has no override, so its module cap is raised for the
run), the cap row uses the default cap. Each time is the best of a few runs
(``time.perf_counter``) divided by the payload's size. Python's cyclic GC stays on, as in the
worker (``--gc-off`` switches it off around each decode, to tell its share apart).

The decoders' bounds shape both kinds of payload. The bench imports each from the module that
enforces it (``bounds``, ``tasmota``, ``shelly``, ``weather``), so that a payload built to reach
a bound reaches the bound in force, and its name gives the figure:

- a bounded count (``MAX_TASMOTA_CHANNELS`` channels of a Tasmota device; a Shelly message's
  ``MAX_METERING_COMPONENTS`` metering components among ``MAX_CHANNELS`` components in all;
  ``MAX_TEMPERATURES`` of a weather message): a normal payload holds at most that many, and
  above it carries other content or more fields per item (Tasmota: more sensors beside ENERGY;
  Shelly: inputs after the switches, then more fields each); an adversarial idea that goes past
  it ends ``too_many_readings``, and its worst accepted form is added: exactly the bound, then
  the costliest content the decoders accept (below) where it adds no item;
- the density bound (one JSON object or array per ``MIN_BYTES_PER_CONTAINER`` bytes; SenML's
  ``SENML_BYTES_PER_CONTAINER``; weather SenML ``MAX_TEMPERATURES`` containers more): the old
  ``[[...]]`` nesting ends ``too_complex``; the costliest content accepted is objects nested
  at exactly the format's bound, ``{"kk":{"kk":...}}`` (objects cost orjson and the GC more
  than arrays or flat lists do). ``auto`` parses a payload that starts with ``[`` at SenML's
  bound before it knows the format: its groups add payloads nested at that bound that another
  format refuses (or none recognises) after that parse.

``auto`` compares like with like: a group per format it detects, each with that format's normal
payload and its adversarial payloads (with the payloads that look like one format until their
end, in the group of the format they are detected as), all decoded by ``decode("auto", ...)``;
auto's row is the group with the largest ratio, named in its worst payload, and its cap row
takes each group at that format's own cap.

Prints one row per format and size: normal ns/B, the worst adversarial ns/B and its payload,
how that payload ended (``ok ×N`` readings or the DecodeError reason), the ratio worst/normal and
the verdict against the goal (issue 16: adversarial <= 3x normal per byte at every size); then,
per format, the payload whose ns/B grew most from 100 KiB to 1 MiB (a quadratic decoder grows
10x there, a linear one stays near 1x; one that grew more than 2x is measured again with the GC
off); then one summary line. Each payload states how it must
end (e.g. ``ok`` for a DSMR telegram: its CRC is valid and the parser ran), and any other ending
is printed as a warning. ``--all`` prints every payload's figure.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ingest.decoders import FORMATS, decode, weather
from ingest.decoders.bounds import (
    MAX_CHANNELS,
    MAX_READINGS_PER_MESSAGE,
    MIN_BYTES_PER_CONTAINER,
    SENML_BYTES_PER_CONTAINER,
)
from ingest.decoders.dsmr import crc16_arc
from ingest.decoders.shelly import MAX_METERING_COMPONENTS
from ingest.decoders.tasmota import MAX_TASMOTA_CHANNELS
from ingest.decoders.weather import MAX_TEMPERATURES
from ingest.readings import DecodeError

KIB = 1024
MIB = 1024 * 1024
SIZES_BYTES = (KIB, 100 * KIB, MIB)
QUICK_SIZES_BYTES = (KIB, 100 * KIB)
GOAL_RATIO = 3.0  # adversarial / normal ns per byte
GROWTH_FLAG = 2.0  # ns/B growth between the two largest sizes flagged (quadratic: their ratio)
RECEIVED_UTC = datetime(2024, 1, 15, 12, 0, 5, tzinfo=UTC)
TS0 = 1_705_320_000  # 2024-01-15 12:00:00 UTC [Unix s]
TZ = ZoneInfo("Europe/Stockholm")
WEATHER = ("weather-json", "weather-senml")

Fill = Callable[[int], bytes]  # a byte budget → at most that many bytes of payload


class Case(NamedTuple):
    name: str
    build: Callable[[int], bytes]  # size [bytes] → a payload of exactly that size
    topic: str
    expect: frozenset[str] | None  # "ok" and/or DecodeError reasons; None: anything (auto)


Group = tuple[Case, list[Case]]  # (normal, adversarial cases): compared with each other


class Result(NamedTuple):
    ns_per_byte: float
    outcome: str  # "ok ×N" or a DecodeError reason


# ---- building blocks: every payload is exactly its size -------------------------------------


def _pad(size: int, fill: Fill) -> bytes:
    """``fill(size)`` padded with trailing spaces (white space every format allows)."""
    data = fill(size)
    if len(data) > size:
        raise ValueError(f"payload of {len(data):,} bytes does not fit in {size:,}")
    return data + b" " * (size - len(data))


def _wrap(before: bytes, fill: Fill, after: bytes = b"") -> Fill:
    return lambda budget: before + fill(budget - len(before) - len(after)) + after


def _rep(item: bytes, sep: bytes = b",", most: int | None = None) -> Fill:
    """As many copies of ``item`` as fit (at least one, at most ``most``), joined by ``sep``."""

    def fill(budget: int) -> bytes:
        count = max(1, (budget + len(sep)) // (len(item) + len(sep)))
        return sep.join([item] * min(count, most or count))

    return fill


def _seq(
    items: bytes | Callable[[], Iterator[bytes]],
    start: int = 0,
    sep: bytes = b",",
    most: int | None = None,
) -> Fill:
    """Items while they fit (at least one, at most ``most``), joined by ``sep``: ``items % i``
    for i = start, start + 1... (every ``%d`` in the pattern gets i), or those of a fresh
    ``items()``."""

    def fill(budget: int) -> bytes:
        if isinstance(items, bytes):
            slots = items.count(b"%d")
            stream = (items % ((i,) * slots) for i in itertools.count(start))
        else:
            stream = items()
        parts: list[bytes] = []
        used = -len(sep)
        for item in itertools.islice(stream, most):
            used += len(item) + len(sep)
            if used > budget and parts:
                break
            parts.append(item)
        return sep.join(parts)

    return fill


def _run(prefix: bytes, run: bytes, suffix: bytes = b"") -> Fill:
    """``prefix``, then ``run`` repeated to fill the budget, then ``suffix``."""

    def fill(budget: int) -> bytes:
        return prefix + run * max(0, (budget - len(prefix) - len(suffix)) // len(run)) + suffix

    return fill


def _level(density: int) -> tuple[bytes, bytes, bytes]:
    """(opening, innermost value, closing) of a nesting level of exactly ``density`` bytes,
    ``{"kk":...}``: the densest nesting that a density bound of ``density`` bytes a container
    accepts (objects cost orjson and the GC more than arrays do)."""
    if density < len(b'{"":}'):
        raise ValueError(f"no object nesting level fits in {density} bytes")
    return b'{"' + b"k" * (density - len(b'{"":}')) + b'":', b"0", b"}"


def _deep(pattern: bytes, start: int = 0, density: int | None = None) -> Fill:
    """Items ``pattern % (i, nesting)``, nesting 1,000 levels deep (orjson's limit: 1,024):
    ``[[...]]`` (a container per 2 bytes: ``too_complex`` since the density bound), or at a
    ``density`` bound, ``{"kk":{"kk":...0}}`` (a container per ``density`` bytes)."""
    opening, inner, closing = (b"[", b"", b"]") if density is None else _level(density)

    def fill(budget: int) -> bytes:
        depth = max(1, min(1000, (budget - 100) // (len(opening) + len(closing))))
        nest = (opening * depth + inner + closing * depth).replace(b"%", b"%%")
        return _seq(pattern.replace(b"%n", nest), start)(budget)

    return fill


def _tail(head: bytes, fill: Fill, end: bytes = b"", least: int = 40) -> Fill:
    """``head``, ``fill`` and ``end`` in the budget, or nothing when it is under ``least``."""
    return lambda budget: (
        head + fill(budget - len(head) - len(end)) + end if budget >= least else b""
    )


def _then(first: Fill, rest: Fill) -> Fill:
    """``first``, then ``rest`` in the bytes it left."""

    def fill(budget: int) -> bytes:
        data = first(budget)
        return data + rest(budget - len(data))

    return fill


def _largest(size: int, build: Callable[[int], bytes], most: int | None = None) -> bytes:
    """``build(n)`` for the largest n (of fixed-width items; at most ``most``) that fits."""
    one = len(build(1))
    unit = len(build(2)) - one
    n = max(1, min(1 + (size - one) // unit, most or size))
    data = build(n)
    while len(data) > size and n > 1:
        n = max(1, n - 1 - (len(data) - size) // unit)
        data = build(n)
    return data


def _fit(size: int, build: Callable[[int], bytes]) -> bytes:
    """``build(n)`` for the largest n (of fixed-width items) that fits, padded to ``size``."""
    return _pad(size, lambda _: _largest(size, build))


def _at_most(most: int, build: Callable[[int], bytes], rest: Fill) -> Fill:
    """``build(n)`` for the largest n <= ``most`` that fits, with ``rest`` (in the bytes left)
    inside its closing bracket: a bound reached, then other content."""

    def fill(budget: int) -> bytes:
        data = _largest(budget, build, most)
        return data[:-1] + rest(budget - len(data)) + data[-1:]

    return fill


def _widened(items: Callable[[bytes], Iterator[bytes]], most: int) -> Fill:
    """At most ``most`` of ``items(extra)``: when that many do not fill the budget, ``extra``
    gives each as many more fields (``_MORE_FIELDS``) as make them fill it (all ``most`` of
    them: what is left is under one field per item)."""

    def fill(budget: int) -> bytes:
        bare = sum(len(item) + 1 for item in itertools.islice(items(b""), most)) - 1
        gain = (budget - bare) // most  # bytes each item may gain
        fields = max(0, gain // len(_MORE_FIELDS % 0))
        extra = b"".join(_MORE_FIELDS % j for j in range(fields))
        return _seq(lambda: items(extra), most=most)(budget)

    return fill


def _dense(size: int, item_overhead: int, lists: int = 1) -> bytes:
    """The shortest JSON integer (1, 10, 100...) with which ``lists`` lists of items of
    ``item_overhead`` bytes besides the number, filling ``size``, stay within the item limit."""
    for width in itertools.count(1):
        if size // (lists * (width + item_overhead)) <= MAX_READINGS_PER_MESSAGE:
            return b"1" + b"0" * (width - 1)
    raise AssertionError


def _list(fill: Fill, last: bytes = b"") -> Fill:
    """A JSON array of ``fill``'s items, then ``last`` (``,<item>``) as its last item."""
    return _wrap(b"[", fill, last + b"]")


def _fitted(build: Callable[[int], bytes]) -> Fill:
    return lambda budget: _fit(budget, build)


# the content that costs the most per byte among what load_json accepts by default: objects
# nested 1,000 deep at the density bound, as many as fit, as one JSON array
_FILLER = _list(_deep(b"%n", density=MIN_BYTES_PER_CONTAINER))
_MORE_FIELDS = b',"f%03d":1.5'  # (fixed width: j < 1,000) a field a decoder does not read


def _beside(key: bytes) -> Fill:
    """``,"<key>":<_FILLER>`` in the budget: padding after a bound is reached."""
    return _tail(b',"%s":' % key, _FILLER)


def _specs(topic: str, *specs: tuple) -> list[Case]:
    """Cases from ``(name, fill, "outcome outcome...", [topic])`` tuples."""
    return [
        Case(
            name,
            lambda size, fill=fill: _pad(size, fill),
            own_topic[0] if own_topic else topic,
            frozenset(expect.split()),
        )
        for name, fill, expect, *own_topic in specs
    ]


# ---- json: the project's own payload --------------------------------------------------------

JSON_TOPIC = "wattleague/bench/site/meter"
_TINY = b'{"ts":0,"power_w":0}'  # the shortest reading
_ISO = b'{"ts":"2024-01-15T12Z","power_w":0}'
_OFFSET = b'{"ts":"2024-01-15T13:00:00+01:00","energy_kwh":1,"meter":"m"}'


def _json_readings() -> Iterator[bytes]:
    for i in itertools.count():
        yield b'{"ts":%d,"energy_kwh":%d.%03d,"power_w":%d.5}' % (
            TS0 + i,
            10_000 + i // 8,
            i % 8 * 125,
            100 + i % 900,
        )


def _json_cases() -> tuple[Case, list[Case]]:
    readings = _seq(_json_readings)

    def past_limit(budget: int) -> bytes:  # 1,100 levels; at 1 KiB (no room) 460: too_complex
        depth = min(1100, (budget - 100) // 2)
        return _list(_rep(_TINY), b"," + b"[" * depth + b"]" * depth)(budget)

    deep = b'{"ts":0,"power_w":0,"x":%n}'
    normal, *adversarial = _specs(
        JSON_TOPIC,
        ("readings (Unix ts, floats)", _list(readings), "ok"),
        ("tiny readings, int values", _list(_rep(_TINY)), "ok"),
        ("tiny readings, ISO ts", _list(_rep(_ISO)), "ok"),
        ("ISO ts with offset, meter names", _list(_rep(_OFFSET)), "ok"),
        ("1e308 values", _list(_rep(b'{"ts":0,"energy_kwh":1e308,"power_w":-1e308}')), "ok"),
        ("tiny readings, bad last item", _list(_rep(_TINY), b",{}"), "missing_timestamp"),
        ("[0,0,0...]", _list(_rep(b"0")), "undecodable too_many_readings"),
        ("1,000-deep nesting in every reading", _list(_deep(deep)), "too_complex"),
        (
            f"1,000-deep nesting at {MIN_BYTES_PER_CONTAINER} B a container, every reading",
            _list(_deep(deep, density=MIN_BYTES_PER_CONTAINER)),
            "ok",
        ),
        ("readings, then nesting past 1,024", past_limit, "too_deep too_complex"),
        ("readings, invalid UTF-8 last", _list(readings, b',"\xff"'), "bad_encoding"),
        ("readings, NUL last", _list(readings, b',"\x00"'), "bad_encoding"),
        ("readings, lone surrogate last", _list(readings, b',"\\ud800"'), "bad_encoding"),
        ("huge meter string", _run(b'[{"ts":0,"power_w":0,"meter":"', b"m", b'"}]'), "ok"),
        ("huge escaped string", _run(b'[{"ts":0,"power_w":0,"m":"', b"\\u00e9", b'"}]'), "ok"),
        ("ts: spaces, then ISO", _run(b'[{"ts":"', b" ", b'2024-01-15T12Z","power_w":0}]'), "ok"),
        ("ts: .<digits>", _run(b'[{"power_w":0,"ts":"2024-01-15T12:00:00.', b"1", b'Z"}]'), "ok"),
        ("power_w: digit run", _run(b'[{"ts":0,"power_w":0.', b"1", b"}]"), "ok"),
        ("many keys in one reading", _wrap(b'{"ts":0,"power_w":0,', _seq(b'"k%d":0'), b"}"), "ok"),
        ("one key duplicated", _wrap(b'{"ts":0,', _rep(b'"power_w":0'), b"}"), "ok"),
        ("white space between tokens", _run(b"[", b" \t\r\n", _TINY + b"]"), "ok"),
    )
    return normal, adversarial


# ---- senml ----------------------------------------------------------------------------------

SENML_TOPIC = "senml/gateway"
_SENML_TINY = b'{"u":"W","v":0,"t":%d}'  # from 100,000: relative times (bt 0), "now" + t
_SENML_HEAD = b'[{"bn":"urn:dev:mac:0024befffe804ff1:","bt":%d,"bu":"W"},' % TS0


def _senml_records() -> Iterator[bytes]:
    for i in itertools.count():
        t = 100_000 + i
        yield b'{"n":"energy","u":"kWh","v":%d.%03d,"t":%d},{"n":"power","v":%d.5,"t":%d}' % (
            10_000 + i // 8,
            i % 8 * 125,
            t,
            100 + i % 900,
            t,
        )


def _long_bn(fill: Fill) -> Fill:
    """A first record whose ``bn`` is half the payload, then ``fill``."""
    return lambda budget: _wrap(b'{"bn":"' + b"x" * (budget // 2) + b':"},', fill)(budget)


def _senml_cases() -> tuple[Case, list[Case]]:
    tiny = _seq(_SENML_TINY, 100_000)
    pairs = _seq(_SENML_TINY + b"," + _SENML_TINY.replace(b'"W"', b'"Wh"'), 100_000)

    def bn_1000(budget: int) -> bytes:  # (a quarter of the payload at 1 KiB)
        bn = b"b" * min(1000, budget // 4)
        return _list(_seq(b'{"bn":"' + bn + b'%d/","u":"W","v":0}'))(budget)

    bases = b'{"bver":10,"bt":0,"bu":"W","bv":0,"v":0,"t":%d}'
    keys = b'{"u":"W","v":0,"t":%d' + b"".join(b',"a%d":0' % k for k in range(50)) + b"}"
    deep = b'{"u":"W","v":0,"t":%d,"x":%n}'
    again = b"," + _SENML_TINY % 100_000  # the first tiny record's meter and time
    normal, *adversarial = _specs(
        SENML_TOPIC,
        ("pack: energy+power records", _wrap(_SENML_HEAD, _seq(_senml_records), b"]"), "ok"),
        ("bn of size/2, then tiny records", _list(_long_bn(tiny)), "ok"),
        ("bn of size/2, ambiguous last", _list(_long_bn(tiny), again), "ambiguous"),
        ("tiny records, relative times", _list(tiny), "ok"),
        ("tiny records, absolute times", _list(_seq(_SENML_TINY, TS0)), "ok"),
        ("tiny energy+power records merged", _list(pairs), "ok"),
        ("bn on every record (a meter each)", _list(_seq(b'{"bn":"m%d:","u":"W","v":0}')), "ok"),
        ("1,000-char bn on every record", bn_1000, "ok"),
        ("bt, bu, bv, bver on every record", _list(_seq(bases, 100_000)), "ok"),
        ("50 unknown keys per record", _list(_seq(keys, 100_000)), "ok"),
        ("distinct units (no_value lists them)", _list(_seq(b'{"u":"X%d","v":0}')), "no_value"),
        ("tiny records, must-understand last", _list(tiny, b',{"x_":1}'), "unsupported"),
        ("tiny records, 1e308 kW last", _list(tiny, b',{"u":"kW","v":1e308}'), "non_finite"),
        ("1,000-deep nesting in every record", _list(_deep(deep, 100_000)), "too_complex"),
        (
            f"1,000-deep nesting at {SENML_BYTES_PER_CONTAINER} B a container, every record",
            _list(_deep(deep, 100_000, density=SENML_BYTES_PER_CONTAINER)),
            "ok",
        ),
        ("tiny records, invalid UTF-8 last", _list(tiny, b',{"n":"\xff"}'), "bad_encoding"),
        ("huge name string", _run(b'[{"u":"W","v":0,"n":"', b"n", b'"}]'), "ok"),
        ("v: digit run", _run(b'[{"u":"W","v":0.', b"1", b"}]"), "ok"),
    )
    return normal, adversarial


# ---- dsmr -----------------------------------------------------------------------------------

DSMR_TOPIC = "han/site/p1"
CRLF, LF = b"\r\n", b"\n"
_HEADER = b"/ELL5\\253833635_A"
_DSMR_LINES = [
    b"0-0:1.0.0(240115130000W)",  # 13:00 UTC+1, 5 s before the receive time
    b"1-0:1.8.0(00006678.394*kWh)",
    b"1-0:2.8.0(00000000.000*kWh)",
    b"1-0:1.7.0(0001.727*kW)",
    b"1-0:2.7.0(0000.000*kW)",
    b"1-0:21.7.0(0001.023*kW)",
    b"1-0:32.7.0(240.3*V)",
    b"1-0:31.7.0(004.2*A)",
]


def _lines(*lines: bytes, eol: bytes = CRLF) -> bytes:
    return b"".join(line + eol for line in lines)


def _telegram(size: int, body: Fill, crc_over_crlf: bool = False) -> bytes:
    """``body`` (header and data lines), '!', a valid CRC and CRLF, padded to ``size``.
    ``crc_over_crlf``: the CRC is over the body with CRLF line ends restored (a gateway turned
    the meter's CRLF into LF), so that the decoder computes two."""
    data = body(size - len(b"!0000\r\n")) + b"!"
    crc_data = data.replace(CRLF, LF).replace(LF, CRLF) if crc_over_crlf else data
    return _pad(size, lambda _: data + b"%04X\r\n" % crc16_arc(crc_data))


def _dsmr_specs(*specs: tuple) -> list[Case]:
    """Cases from ``(name, body, "outcome...", [crc_over_crlf])`` tuples."""
    return [
        Case(
            name,
            lambda size, body=body, crlf=bool(crlf): _telegram(size, body, crlf),
            DSMR_TOPIC,
            frozenset(expect.split()),
        )
        for name, body, expect, *crlf in specs
    ]


def _obis_lines(value: bytes, eol: bytes = CRLF) -> Fill:
    """Distinct registers ``1-0:C.D.0`` with C, D >= 100: none that the decoder reads."""
    line = b"1-0:%d.%d.0(" + value + b")" + eol
    return _seq(
        lambda: (line % (100 + i // 900, 100 + i % 900) for i in itertools.count()), sep=b""
    )


def _dsmr_cases() -> tuple[Case, list[Case]]:
    head = _HEADER + CRLF * 2
    base = head + _lines(*_DSMR_LINES)
    base_lf = _HEADER + LF * 2 + _lines(*_DSMR_LINES, eol=LF)
    tariffs = _lines(*(b"1-0:1.8.%d(00001000.000*kWh)" % k for k in range(1, 10)))
    duplicate = b"1-0:1.8.0(00006678.394*kWh)\r\n"
    lines_lf = _obis_lines(b"0001.234*kW", LF)

    def first(prefix: bytes, run: bytes, suffix: bytes = b"") -> Fill:  # a line before the rest
        return _wrap(head, _run(prefix, run, suffix), CRLF + _lines(*_DSMR_LINES))

    def leading_space(budget: int) -> bytes:
        telegram = _telegram(len(base) + 7, lambda _: base)
        return b" " * (budget - len(telegram)) + telegram

    normal, *adversarial = _dsmr_specs(
        ("telegram + more OBIS lines", _wrap(base, _obis_lines(b"0001.234*kW")), "ok"),
        ("LF flood, CRC over CRLF", _wrap(base_lf, _run(b"", LF)), "ok", True),
        ("LF line ends, CRC over CRLF", _wrap(base_lf, lines_lf), "ok", True),
        ("CR flood", _wrap(base, _run(b"", b"\r")), "ok"),
        ("NEL (0x85) flood", _wrap(base, _run(b"", b"\x85")), "ok"),
        ("empty CRLF lines", _wrap(base, _run(b"", CRLF)), "ok"),
        ("space-only lines", _wrap(base, _run(b"", b" \r\n")), "ok"),
        ("1.7.0 value: 1<spaces>x", first(b"1-0:1.7.0(1", b" ", b"x*kW)"), "non_numeric"),
        ("1.7.0 value: <spaces>1.727", first(b"1-0:1.7.0(", b" ", b"1.727 *kW)"), "ok"),
        ("1.8.0 value: 0.<digits>", first(b"1-0:1.8.0(0.", b"1", b"*kWh)"), "ok"),
        ("1.8.0 value: <digits> past 1e308", first(b"1-0:1.8.0(", b"9", b"*kWh)"), "non_finite"),
        ("1.8.0 value: <digits>x", first(b"1-0:1.8.0(", b"1", b"x*kWh)"), "non_numeric"),
        ("1.7.0 unit: k<letters>", first(b"1-0:1.7.0(1*", b"k", b")"), "unsupported"),
        ("duplicated 1.8.0 lines", _wrap(base, _rep(duplicate, b"")), "ok"),
        ("1.8.0 with ()()() groups", first(duplicate[:-2], b"()"), "ok"),
        ("near-miss line (x)(x)...y", first(b"1-0:2.8.0", b"(x)", b"y"), "ok"),
        ("many near-miss lines", _wrap(base, _rep(b"1-0:1.8.0(1*kWh)(\r\n", b"")), "ok"),
        ("distinct registers (no_value lists them)", _wrap(head, _obis_lines(b"1*kW")), "no_value"),
        ("9 tariffs among distinct registers", _wrap(head + tariffs, _obis_lines(b"1*kW")), "ok"),
        ("text message 0-0:96.13.0", first(b"0-0:96.13.0(", b"4A", b")"), "ok"),
        ("NUL run in a line", _wrap(base, _run(b"", b"\x00", CRLF)), "ok"),
        ("long header line", _run(_HEADER, b"x", CRLF * 2 + _lines(*_DSMR_LINES)), "ok"),
    )
    return normal, [
        *adversarial,
        *_specs(DSMR_TOPIC, ("white space before '/'", leading_space, "ok")),
    ]


# ---- tasmota --------------------------------------------------------------------------------

TASMOTA_TOPIC = "tele/plug/SENSOR"
_TIME = b'"Time":"2024-01-15T13:00:00"'  # naive local time: read in TZ
_ONE = b'"ENERGY":{"Total":1.5,"Power":5}'


def _channels(n: int) -> bytes:
    """A SENSOR message of an ``n``-channel device: every ENERGY field a list."""
    fields = {
        b"Total": [b"%d.%03d" % (1000 + i // 1000, i % 1000) for i in range(n)],
        b"Yesterday": [b"1.234"] * n,
        b"Today": [b"0.567"] * n,
        b"Power": [b"%d" % (100 + i % 900) for i in range(n)],
        b"ApparentPower": [b"130"] * n,
        b"ReactivePower": [b"40"] * n,
        b"Factor": [b"0.95"] * n,
        b"Voltage": [b"230"] * n,
        b"Current": [b"0.535"] * n,
    }
    body = b",".join(b'"%s":[%s]' % (key, b",".join(values)) for key, values in fields.items())
    return b'{%s,"ENERGY":{"TotalStartTime":"2023-01-01T00:00:00",%s}}' % (_TIME, body)


def _lists(
    total: bytes | None, power: bytes, more_power: int = 0, tail: bytes = b"", whole: bytes = b""
) -> Callable[[int], bytes]:
    """n → ``{"Time", "ENERGY": {"Total": [total × n], "Power": [power × (n + more_power)]}}``;
    ``whole``: the device's one Total beside them."""

    def build(n: int) -> bytes:
        fields = [b'"Total":' + whole] if whole else []
        if total is not None:
            fields.append(b'"Total":[%s]' % b",".join([total] * n))
        fields.append(b'"Power":[%s]' % b",".join([power] * (n + more_power)))
        return b'{%s,"ENERGY":{%s}%s}' % (_TIME, b",".join(fields), tail)

    return build


def _dense_lists(total: bool = True, **kw) -> Fill:
    """``_lists`` of the shortest numbers with which they stay within the item limit."""

    def fill(budget: int) -> bytes:
        number = _dense(budget, 1, 2 if total else 1)
        return _fit(budget, _lists(number if total else None, number, **kw))

    return fill


def _tasmota_cases() -> tuple[Case, list[Case]]:
    sensors = _seq(b'"S%d":{"Temperature":21.5}')
    zeros = _fitted(_lists(b"0", b"0"))
    spaces = _run(b'{"Time":"', b" ", b'2024-01-15T13:00:00",' + _ONE + b"}")
    most = MAX_TASMOTA_CHANNELS  # channels of a device: lists past it end too_many_readings

    def deep(density: int | None = None) -> Fill:
        return _wrap(b"{" + _ONE + b",", _deep(b'"X%d":%n', density=density), b"}")

    def full(build: Callable[[int], bytes], most: int = most) -> Fill:
        """``most`` channels (or as many as fit), then the densest nesting accepted beside."""
        return _at_most(most, build, _beside(b"X"))

    normal, *adversarial = _specs(
        TASMOTA_TOPIC,
        (
            f"multi-channel lists, all fields (at most {most} channels, then sensors)",
            _at_most(most, _channels, _tail(b",", sensors)),
            "ok",
        ),
        ("dense Total/Power lists", _dense_lists(), "ok too_many_readings"),
        (f"{most} dense channels, then nesting beside", full(_lists(b"1", b"1")), "ok"),
        (
            f"{most} dense channels, then sensors beside",
            _at_most(most, _lists(b"1", b"1"), _tail(b",", sensors)),
            "ok",
        ),
        (
            "dense Power list, one Total",
            _dense_lists(total=False, whole=b"1.5"),
            "ok too_many_readings",
        ),
        (
            f"{most}-channel Power list, one Total, then nesting",
            full(_lists(None, b"1", whole=b"1.5")),
            "ok",
        ),
        ("0 lists", zeros, "ok too_many_readings"),
        (
            "dense lists, lengths differ",
            _dense_lists(more_power=1),
            "undecodable too_many_readings",
        ),
        (
            f"lengths {most - 1}/{most}, then nesting",
            full(_lists(b"1", b"1", more_power=1), most - 1),
            "undecodable",
        ),
        ("dense lists, invalid UTF-8 last", _dense_lists(tail=b',"Z":"\xff"'), "bad_encoding"),
        ("1e308 in every channel", _fitted(_lists(b"1e308", b"1e308")), "ok too_many_readings"),
        (f"{most} channels of 1e308, then nesting", full(_lists(b"1e308", b"1e308")), "ok"),
        ("no ENERGY, many sensors", _wrap(b"{%s," % _TIME, sensors, b"}"), "no_value"),
        ("many sensors beside ENERGY", _wrap(b"{%s,%s," % (_TIME, _ONE), sensors, b"}"), "ok"),
        ("Time: spaces, then ISO", spaces, "ok"),
        ("Time: Unix s, digit run", _run(b'{"Time":1705320000.', b"1", b"," + _ONE + b"}"), "ok"),
        ("1,000-deep nesting beside ENERGY", deep(), "too_complex"),
        (
            f"1,000-deep nesting at {MIN_BYTES_PER_CONTAINER} B a container beside ENERGY",
            deep(MIN_BYTES_PER_CONTAINER),
            "ok",
        ),
    )
    return normal, adversarial


# ---- shelly ---------------------------------------------------------------------------------

SHELLY_DEVICE = b"shellypro4pm-a8032ab12345"
SHELLY_TOPIC = SHELLY_DEVICE.decode() + "/events/rpc"
SHELLY_STATUS_TOPIC = SHELLY_DEVICE.decode() + "/status/switch:0"
_FULL = b'{"src":"%s","dst":"%s/events","method":"NotifyFullStatus","params":{"ts":%d.12,' % (
    SHELLY_DEVICE,
    SHELLY_DEVICE,
    TS0,
)
_STATUS = b'{"method":"NotifyStatus","params":{'
_SYS = (
    b'"sys":{"mac":"A8032AB12345","restart_required":false,"time":"13:00","unixtime":%d,'
    b'"uptime":123456,"ram_size":246680,"ram_free":147588,"fs_size":524288,"fs_free":176128,'
    b'"cfg_rev":12,"kvs_rev":0,"schedule_rev":0,"webhook_rev":0,"available_updates":{}},'
    b'"wifi":{"sta_ip":"192.168.1.50","status":"got ip","ssid":"net","rssi":-60},' % TS0
)


def _switches(extra: bytes = b"") -> Iterator[bytes]:
    """Switch components as a Pro 4PM reports them, each with ``extra`` fields."""
    for i in itertools.count(10_000):
        yield (
            b'"switch:%d":{"id":%d,"source":"init","output":true,"apower":%d.5,"voltage":230.1,'
            b'"freq":50.0,"current":0.512,"pf":0.91,"aenergy":{"total":%d.%03d,'
            b'"by_minute":[123.456,234.567,345.678],"minute_ts":%d},"ret_aenergy":{"total":0.0,'
            b'"by_minute":[0.0,0.0,0.0],"minute_ts":%d},"temperature":{"tC":41.2,"tF":106.2}%s}'
        ) % (i, i, 100 + i % 900, i, i % 1000, TS0, TS0, extra)


def _components(extra: bytes = b"") -> Iterator[bytes]:
    """A NotifyFullStatus's components, each with ``extra`` fields: as many switches as the
    decoder reads (``MAX_METERING_COMPONENTS``), then inputs (components it skips)."""
    yield from itertools.islice(_switches(extra), MAX_METERING_COMPONENTS)
    for i in itertools.count(10_000):
        yield b'"input:%d":{"id":%d,"state":false%s}' % (i, i, extra)


def _shelly_cases() -> tuple[Case, list[Case]]:
    metering = MAX_METERING_COMPONENTS  # of a message: past it, too_many_readings
    tiny_item = b'"%d":{"apower":0}'
    tiny = _seq(tiny_item, 100_000)
    # "10000":{"k":0}, components without apower or aenergy (skipped): with its comma, one
    # object per MIN_BYTES_PER_CONTAINER bytes (16 at the least)
    skipped_item = b'"%d":{"' + b"k" * max(1, MIN_BYTES_PER_CONTAINER - 15) + b'":0}'
    skipped = _seq(skipped_item, 10_000)
    huge = _seq(b'"%d":{"apower":1e308,"aenergy":{"total":1e308}}', 100_000)
    em = _seq(b'"em:%d":{"total_act_power":0},"emdata:%d":{"total_act":0}')
    one = b'"switch:0":{"apower":1},'
    bad = b',"x:1":{"aenergy":1}'

    def params(head: bytes, fill: Fill, last: bytes = b"") -> Fill:
        return _wrap(head, fill, last + b"}}")

    def full(pattern: bytes | Callable[[], Iterator[bytes]], most: int, last: bytes = b"") -> Fill:
        """``most`` components of ``pattern`` (or as many as fit), then the densest nesting
        accepted as "sys" (a component the decoder skips)."""
        return params(_FULL, _then(_seq(pattern, 100_000, most=most), _beside(b"sys")), last)

    def both() -> Iterator[bytes]:  # every metering component allowed, then skipped ones
        yield from (b'"m%d":{"apower":0}' % i for i in range(metering))
        yield from (skipped_item % i for i in itertools.count(10_000))

    others = MAX_CHANNELS - metering - 2  # with "ts" and "sys": MAX_CHANNELS components
    normal, *adversarial = _specs(
        SHELLY_TOPIC,
        (
            f"NotifyFullStatus: {metering} switches, then inputs (at most {MAX_CHANNELS} "
            "components, then more fields each)",
            params(_FULL + _SYS, _widened(_components, MAX_CHANNELS - 3)),
            "ok",
        ),
        ("tiny components", params(_FULL, tiny), "ok too_many_readings"),
        (f"{metering} tiny components, then nesting", full(tiny_item, metering), "ok"),
        ("skipped components", params(_FULL, skipped), "no_value too_many_readings"),
        (
            f"{metering} tiny and {others} skipped components, then nesting",
            full(both, metering + others),
            "ok",
        ),
        ("tiny em/emdata pairs", params(_FULL, em), "ok too_many_readings"),
        (
            f"{metering // 2} tiny em/emdata pairs, then nesting",
            full(b'"em:%d":{"total_act_power":0},"emdata:%d":{"total_act":0}', metering // 2),
            "ok",
        ),
        ("tiny components, 1e308", params(_FULL, huge), "ok too_many_readings"),
        (
            f"{metering} tiny components of 1e308, then nesting",
            full(b'"%d":{"apower":1e308,"aenergy":{"total":1e308}}', metering),
            "ok",
        ),
        ("tiny, bad aenergy last", params(_FULL, tiny, bad), "non_numeric too_many_readings"),
        (
            f"{metering - 1} tiny, nesting, bad aenergy last",
            full(tiny_item, metering - 1, bad),
            "non_numeric",
        ),
        (
            "NotifyStatus, scalars only",
            params(_STATUS, _seq(b'"k%d":0')),
            "no_value too_many_readings",
        ),
        ("long component key", _run(_FULL + b'"switch:', b"0", b'":{"apower":1}}}'), "ok"),
        ("long method string", _run(b'{"method":"', b"N", b'","params":{}}'), "no_value"),
        ("1,000-deep nesting in params", params(_FULL + one, _deep(b'"x%d":%n')), "too_complex"),
        (
            f"1,000-deep nesting at {MIN_BYTES_PER_CONTAINER} B a container in params",
            params(_FULL + one, _deep(b'"x%d":%n', density=MIN_BYTES_PER_CONTAINER)),
            "ok",
        ),
        ("tiny, invalid UTF-8 last", params(_FULL, tiny, b',"z":"\xff"'), "bad_encoding"),
        ("params.ts: digit run", _run(_STATUS + one + b'"ts":1705320000.', b"1", b"}}"), "ok"),
        (
            "status topic: one component, many keys",
            _wrap(b'{"id":0,"apower":1.5,', _seq(b'"k%d":0'), b"}"),
            "ok",
            SHELLY_STATUS_TOPIC,
        ),
    )
    return normal, adversarial


# ---- emon -----------------------------------------------------------------------------------

EMON_TOPIC = "emon/emontx4"
EMON_BARE_TOPIC = "emon/emontx4/P1"


def _emon_inputs() -> Iterator[bytes]:
    """P1..P99 and E1..E99, then other inputs (temperatures, voltages) the decoder skips."""
    for n in range(1, 100):
        yield b'"P%d":%d.5' % (n, 100 + n)
        yield b'"E%d":%d' % (n, 100_000 + n)
    for i in itertools.count(100):
        yield b'"T%d":21.5,"vrms%d":230.1' % (i, i)


def _metering_keys() -> Iterator[bytes]:
    """Every distinct key the decoder reads (case and zero-padding variants), over and over."""
    words = [
        bytes(c - 32 if up else c for c, up in zip(word, ups, strict=True))
        for word in (b"p", b"e", b"power", b"energy")
        for ups in itertools.product((False, True), repeat=len(word))
    ]
    numbers = [b"%d" % n for n in range(1, 100)] + [b"%02d" % n for n in range(1, 10)]
    return itertools.cycle([b'"%s%s":1' % key for key in itertools.product(words, numbers)])


def _emon_cases() -> tuple[Case, list[Case]]:
    bare = EMON_BARE_TOPIC
    keys = _seq(_metering_keys)

    def digits_spaces_x(budget: int) -> bytes:
        return b"1" * (budget // 2) + b" " * (budget - budget // 2 - 1) + b"x"

    def node(fill: Fill, last: bytes = b"", head: bytes = b"{") -> Fill:
        return _wrap(head, fill, last + b"}")

    normal, *adversarial = _specs(
        EMON_TOPIC,
        ("node object of inputs", node(_seq(_emon_inputs), head=b'{"time":%d,' % TS0), "ok"),
        ("bare: <spaces>1", _run(b"", b" ", b"1"), "ok", bare),
        ("bare: 0.<digits>", _run(b"0.", b"1"), "ok", bare),
        ("bare: <digits> past 1e308", _run(b"", b"9"), "non_finite", bare),
        ("bare: <digits>x", _run(b"", b"1", b"x"), "non_numeric", bare),
        ("bare: <digits><spaces>x", digits_spaces_x, "non_numeric", bare),
        ("bare: 1e<digits>x", _run(b"1e", b"1", b"x"), "non_numeric", bare),
        ("every metering key variant, repeated", node(keys), "ok"),
        ("metering keys, negative register last", node(keys, b',"e0":-1'), "negative_value"),
        ("one key duplicated", node(_rep(b'"P1":1')), "ok"),
        ("no metering input (no_value lists them)", node(_seq(b'"T%d":21.5', 100)), "no_value"),
        ("1e308 inputs", node(_seq(b'"P%d":1e308', 1)), "ok"),
        ("long key name", _run(b'{"P1":1,"P', b"1", b'":1}'), "ok"),
        ("1,000-deep nesting in inputs", node(_deep(b'"x%d":%n'), head=b'{"P1":1,'), "too_complex"),
        (
            f"1,000-deep nesting at {MIN_BYTES_PER_CONTAINER} B a container in inputs",
            node(_deep(b'"x%d":%n', density=MIN_BYTES_PER_CONTAINER), head=b'{"P1":1,'),
            "ok",
        ),
        ("inputs, invalid UTF-8 last", node(keys, b',"z":"\xff"'), "bad_encoding"),
        ("time: spaces, then ISO", _run(b'{"time":"', b" ", b'2024-01-15T12Z","P1":1}'), "ok"),
    )
    return normal, adversarial


# ---- weather --------------------------------------------------------------------------------

WEATHER_TOPIC = "weather/station"


def _in_last(item: bytes, most: int, first: bytes = b"") -> Fill:
    """``first``, copies of ``item`` (a JSON object) up to ``most`` items in all, the last with
    the densest nesting accepted as an extra field: a bound reached, then other content."""
    last = _tail(b"," + item[:-1] + b',"x":', _FILLER, b"}", least=len(item) + 20)
    count = most - 1 - (1 if first else 0)
    return _wrap(first, _then(_rep(item, most=count), last))


def _weather_json_cases() -> tuple[Case, list[Case]]:
    readings = _seq(b'{"ts":%d,"temp_c":-3.25}', TS0)
    tiny, iso = b'{"ts":0,"temp_c":0}', b'{"ts":"2024-01-15T12Z","temp_c":0}'
    most = MAX_TEMPERATURES

    def stations(extra: bytes) -> Iterator[bytes]:
        return (b'{"ts":%d,"temp_c":-3.25%s}' % (TS0 + i, extra) for i in itertools.count())

    normal, *adversarial = _specs(
        WEATHER_TOPIC,
        (
            f"readings (at most {most:,}, then more fields each)",
            _list(_widened(stations, most)),
            "ok",
        ),
        ("tiny readings", _list(_rep(tiny)), "ok too_many_readings"),
        (f"{most:,} tiny readings, nesting in the last", _list(_in_last(tiny, most)), "ok"),
        ("tiny readings, ISO ts", _list(_rep(iso)), "ok too_many_readings"),
        (f"{most:,} tiny ISO readings, nesting in the last", _list(_in_last(iso, most)), "ok"),
        ("readings, bad last item", _list(readings, b',{"ts":0}'), "no_value too_many_readings"),
        (
            f"{most:,} tiny readings, nesting, bad last item",
            _list(_in_last(tiny, most - 1), b',{"ts":0}'),
            "no_value",
        ),
        ("readings, invalid UTF-8 last", _list(readings, b',{"ts":"\xff"}'), "bad_encoding"),
        ("ts: spaces, then ISO", _run(b'[{"ts":"', b" ", b'2024-01-15T12Z","temp_c":0}]'), "ok"),
        ("many keys", _wrap(b'{"ts":0,"temp_c":0,', _seq(b'"k%d":0'), b"}"), "ok"),
    )
    return normal, adversarial


def _weather_senml_cases() -> tuple[Case, list[Case]]:
    head = b'[{"bn":"station-1:","bt":%d,"bu":"Cel"},' % TS0
    records = _seq(b'{"n":"temp","v":-3.25,"t":%d}', 100_000)
    bases = _seq(b'{"bt":0,"bu":"Cel","bv":0,"v":0,"t":%d}', 100_000)
    most = MAX_TEMPERATURES

    def temps(extra: bytes) -> Iterator[bytes]:
        return (
            b'{"n":"temp","v":-3.25,"t":%d%s}' % (100_000 + i, extra) for i in itertools.count()
        )

    def densest(budget: int) -> bytes:  # {"v":N}: the shortest N within the item limit
        item = b'{"v":%s}' % _dense(budget, len(b'{"v":},'))
        return _wrap(b'[{"bu":"Cel"},', _rep(item), b"]")(budget)

    normal, *adversarial = _specs(
        WEATHER_TOPIC,
        (
            f"pack of Cel records (at most {most:,}, then more fields each)",
            _wrap(head, _widened(temps, most - 1), b"]"),
            "ok",
        ),
        ("densest records {v:N}", densest, "ok too_many_readings too_complex"),
        (
            f"{most:,} densest records {{v:1}}, nesting in the last",
            _list(_in_last(b'{"v":1}', most, b'{"bu":"Cel"},')),
            "ok",
        ),
        ("K records", _list(_seq(b'{"u":"K","v":273,"t":%d}', 100_000)), "ok too_many_readings"),
        (
            f"{most:,} K records, nesting in the last",
            _list(_in_last(b'{"u":"K","v":273,"t":100000}', most)),
            "ok",
        ),
        ("bt, bu, bv on every record", _list(bases), "ok too_many_readings"),
        (
            "records, non-numeric last",
            _wrap(head, records, b',{"v":"x"}]'),
            "non_numeric too_many_readings",
        ),
        ("huge unit string", _run(b'[{"v":0,"u":"', b"C", b'"}]'), "no_value"),
    )
    return normal, adversarial


# ---- auto -----------------------------------------------------------------------------------


def _auto_groups(per_format: dict[str, Group]) -> dict[str, Group]:
    """Detected format → (its normal payload, its adversarial payloads), all decoded by auto:
    each format's own (how an adversarial one ends may differ: detection comes first), and
    payloads that look like one format until their end, with the format they are detected as.
    """
    groups = {
        fmt: (
            Case(f"{fmt}: {normal.name}", normal.build, normal.topic, frozenset({"ok"})),
            [Case(f"{fmt}: {c.name}", c.build, c.topic, None) for c in adversarial],
        )
        for fmt, (normal, adversarial) in per_format.items()
    }
    readings = _seq(_json_readings)
    # auto parses a payload that starts with "[" at SenML's density bound before it knows the
    # format: such nesting is parsed, then refused by a format with a stricter bound
    senml_deep = SENML_BYTES_PER_CONTAINER
    nested = f"at {senml_deep} B a container"
    extra = _specs(
        JSON_TOPIC,
        (
            "senml: json readings, SenML key in the last",
            _list(readings, b',{"ts":0,"n":"x"}'),
            "no_value",
        ),
        (
            f"senml: objects nested {nested}, no format's keys (parsed twice)",
            _list(_deep(b'{"x%d":%n}', density=senml_deep)),
            "unknown_format",
        ),
        (
            f"json: readings nested {nested} (auto's bound for '[')",
            _list(_deep(b'{"ts":0,"power_w":0,"x":%n}', density=senml_deep)),
            "too_complex",
        ),
        ("emon: json readings on an emon topic", _list(readings), "undecodable", EMON_TOPIC),
        (
            f"emon: an array nested {nested} on an emon topic",
            _list(_deep(b'{"P%d":%n}', density=senml_deep)),
            "too_complex",
            EMON_TOPIC,
        ),
        ("dsmr: '/' then 'x', '!' last", _run(b"/", b"x", b"!"), "truncated"),
    )
    for case in extra:
        groups[case.name.split(":")[0]][1].append(case)
    return groups


def all_cases() -> dict[str, dict[str, Group]]:
    """format → group → (normal case, adversarial cases). A format is its own one group, except
    auto: a group per format it detects, whose ratio compares like with like. Weather's two
    formats come last."""
    per_format = {
        "json": _json_cases(),
        "senml": _senml_cases(),
        "dsmr": _dsmr_cases(),
        "tasmota": _tasmota_cases(),
        "shelly": _shelly_cases(),
        "emon": _emon_cases(),
    }
    missing = set(FORMATS) - set(per_format) - {"auto"}
    if missing:
        raise RuntimeError(f"bench.decoders has no payloads for {', '.join(sorted(missing))}")
    cases = {fmt: {fmt: group} for fmt, group in per_format.items()}
    cases["auto"] = _auto_groups(per_format)
    cases["weather-json"] = {"weather-json": _weather_json_cases()}
    cases["weather-senml"] = {"weather-senml": _weather_senml_cases()}
    return cases


def cap_bytes(fmt: str) -> int:
    """The format's default payload cap [bytes]."""
    return weather.MAX_PAYLOAD_BYTES if fmt in WEATHER else FORMATS[fmt].max_payload_bytes


# ---- measuring ------------------------------------------------------------------------------


def decoding(fmt: str, payload: bytes, topic: str, cap: int | None) -> Callable[[], str]:
    """A call that decodes ``payload`` and says how it ended: ``ok ×N`` or the DecodeError's
    reason (``cap`` [bytes] is ``max_payload_bytes``, None for the default)."""
    kind = fmt.removeprefix("weather-")

    def call() -> str:
        try:
            if fmt in WEATHER:
                readings = weather.decode_temperature(kind, payload, RECEIVED_UTC)
            else:
                readings = decode(fmt, payload, topic, RECEIVED_UTC, TZ, cap)
        except DecodeError as exc:
            return exc.reason
        return f"ok ×{len(readings)}"

    return call


def measure(fmt: str, case: Case, size: int, at_cap: bool, gc_off: bool = False) -> Result:
    """Best decode time of ``case`` at ``size`` bytes per byte [ns/B]; ``max_payload_bytes`` is
    ``size`` unless ``at_cap`` (for the weather decoder its module cap is raised instead)."""
    payload = case.build(size)
    if len(payload) != size:
        raise RuntimeError(f"{fmt} {case.name!r}: built {len(payload):,} bytes, not {size:,}")
    cap = None if at_cap else size
    saved_cap = weather.MAX_PAYLOAD_BYTES
    if fmt in WEATHER and cap is not None:
        weather.MAX_PAYLOAD_BYTES = max(cap, saved_cap)
    try:
        call = decoding(fmt, payload, case.topic, cap)
        outcome = call()  # a warm-up, and how the payload ends
        gc.collect()
        best_s, spent_s, runs = float("inf"), 0.0, 0
        while runs < 3 or (spent_s < 0.1 and runs < 200):
            if gc_off:
                gc.disable()
            t0 = time.perf_counter()
            call()
            elapsed_s = time.perf_counter() - t0
            gc.enable()
            best_s, spent_s, runs = min(best_s, elapsed_s), spent_s + elapsed_s, runs + 1
    finally:
        weather.MAX_PAYLOAD_BYTES = saved_cap
    return Result(best_s * 1e9 / size, outcome)


def _label(size: int) -> str:
    return f"{size // MIB} MiB" if size % MIB == 0 else f"{size // KIB} KiB"


def expected(case: Case, outcome: str) -> bool:
    """Whether ``outcome`` is one of those ``case`` says its payload ends with."""
    return case.expect is None or outcome.split(" ")[0] in case.expect


class Row(NamedTuple):
    normal: Result
    worst: Result
    worst_case: Case
    ratio: float  # worst / normal ns per byte


def _row(
    fmt: str, groups: dict[str, Group], size_of: Callable[[str], int], at_cap: bool, gc_off: bool
) -> tuple[Row, dict[str, dict[Case, Result]]]:
    """Every case's Result per group (at ``size_of(group)`` bytes) and the row: the group whose
    worst adversarial payload is furthest above its own normal one."""
    results = {
        group: {
            case: measure(fmt, case, size_of(group), at_cap, gc_off)
            for case in (normal, *adversarial)
        }
        for group, (normal, adversarial) in groups.items()
    }
    rows = []
    for group, (normal, adversarial) in groups.items():
        worst_case = max(adversarial, key=lambda c: results[group][c].ns_per_byte)
        worst, base = results[group][worst_case], results[group][normal]
        rows.append(Row(base, worst, worst_case, worst.ns_per_byte / base.ns_per_byte))
    return max(rows, key=lambda row: row.ratio), results


def _growth(
    fmt: str, figures: dict[Case, dict[int, float]], sizes: tuple[int, ...], gc_off: bool
) -> tuple[float, str]:
    """Print ``fmt``'s payload whose ns/B grew most between the two largest sizes; a flagged one
    is measured again with the cyclic GC off, to tell the GC's share from the decoder's."""
    small, large = sizes[-2], sizes[-1]
    case, by_size = max(figures.items(), key=lambda kv: kv[1][large] / kv[1][small])
    growth = by_size[large] / by_size[small]
    trail = " → ".join(f"{by_size[size]:.1f}" for size in sizes)
    note = ""
    if growth > GROWTH_FLAG:
        note = "  (flagged"
        if not gc_off:
            off = [measure(fmt, case, size, False, gc_off=True).ns_per_byte for size in sizes]
            note += f"; GC off: {' → '.join(f'{v:.1f}' for v in off)}, {off[-1] / off[-2]:.2f}x"
        note += ")"
    print(f"  {fmt:<14}{growth:>5.2f}x  {case.name} ({trail}){note}")
    return growth, case.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 1 KiB and 100 KiB only")
    parser.add_argument("--only", help="comma-separated formats, e.g. dsmr,senml,weather-json")
    parser.add_argument("--all", action="store_true", help="print every payload's figure")
    parser.add_argument("--gc-off", action="store_true", help="cyclic GC off during each decode")
    args = parser.parse_args()
    per_format = all_cases()
    only = [f.strip() for f in args.only.split(",")] if args.only else list(per_format)
    unknown = set(only) - set(per_format)
    if unknown:
        parser.error(
            f"--only: unknown {', '.join(sorted(unknown))}; known: {', '.join(per_format)}"
        )
    sizes = QUICK_SIZES_BYTES if args.quick else SIZES_BYTES

    started = time.perf_counter()
    rows = []  # (format, size label, worst case name, ratio)
    figures: dict[str, dict[Case, dict[int, float]]] = {}  # format → case → size → ns/B
    surprises = []
    gc_state = "off during each decode" if args.gc_off else "on"
    print(f"ns per byte, best of >= 3 runs, cyclic GC {gc_state}; goal: worst <= {GOAL_RATIO:g}x")
    title = f"{'format':<14}{'size':>11}{'normal':>9}{'worst':>9}{'ratio':>8}  goal  worst payload"
    print(f"{title}\n{'-' * len(title)}")
    for fmt in only:
        groups = per_format[fmt]
        steps: list[tuple[str, Callable[[str], int], bool]] = [
            (_label(size), lambda _, size=size: size, False) for size in sizes
        ]
        if not args.quick:  # auto: each detected format at its own cap
            caps = {cap_bytes(group) for group in groups}
            label = f"cap {_label(caps.pop())}" if len(caps) == 1 else "own caps"
            steps.append((label, cap_bytes, True))
        for label, size_of, at_cap in steps:
            row, results = _row(fmt, groups, size_of, at_cap, args.gc_off)
            for group, by_case in results.items():
                for case, result in by_case.items():
                    if not at_cap:
                        by_size = figures.setdefault(fmt, {}).setdefault(case, {})
                        by_size[size_of(group)] = result.ns_per_byte
                    # at its own cap, auto may detect another format with a smaller cap
                    if not expected(case, result.outcome) and not (
                        at_cap and result.outcome == "too_large"
                    ):
                        surprises.append(f"{fmt} {label} {case.name!r}: {result.outcome}")
            rows.append((fmt, label, row.worst_case.name, row.ratio))
            verdict = "PASS" if row.ratio <= GOAL_RATIO else "FAIL"
            print(
                f"{fmt:<14}{label:>11}{row.normal.ns_per_byte:>9.1f}{row.worst.ns_per_byte:>9.1f}"
                f"{row.ratio:>7.2f}x  {verdict}  {row.worst_case.name} → {row.worst.outcome}"
            )
            if args.all:
                everything = [kv for by_case in results.values() for kv in by_case.items()]
                for case, result in sorted(everything, key=lambda kv: -kv[1].ns_per_byte):
                    mark = "" if expected(case, result.outcome) else "  (unexpected)"
                    print(
                        f"{'':<25}{result.ns_per_byte:>9.1f}  {case.name} → {result.outcome}{mark}"
                    )

    print(
        f"\nlargest growth of ns/B per format, {_label(sizes[-2])} → {_label(sizes[-1])} (linear "
        f"≈ 1x, quadratic ≈ {sizes[-1] // sizes[-2]}x; flagged above {GROWTH_FLAG:g}x); ns/B at "
        f"{', '.join(map(_label, sizes))}:"
    )
    growths = [(*_growth(fmt, figures[fmt], sizes, args.gc_off), fmt) for fmt in only]
    if surprises:
        print("\nunexpected outcomes (a payload that did not reach what it targets):")
        print("\n".join(f"  {line}" for line in surprises))

    failed = sorted({row[0] for row in rows if row[3] > GOAL_RATIO})
    top = max(rows, key=lambda row: row[3])
    growth, growth_name, growth_fmt = max(growths)
    print(
        f"\nsummary: {sum(row[3] <= GOAL_RATIO for row in rows)} of {len(rows)} rows within "
        f"{GOAL_RATIO:g}x (FAIL: {', '.join(failed) or 'none'}); worst ratio {top[3]:.1f}x "
        f"({top[0]} {top[1]}: {top[2]}); largest growth {growth:.2f}x ({growth_fmt}: "
        f"{growth_name}); {len(surprises)} unexpected outcomes; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()

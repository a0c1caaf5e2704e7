"""No regular expression that reads payload text can backtrack: none has an unbounded repeat
inside another unbounded repeat, or two unbounded repeats side by side (the shapes that made
DSMR's value pattern quadratic). Every pattern of every decoder module is checked, so a new one
is too."""

from __future__ import annotations

import importlib
import pkgutil
import re
import re._constants as c
import re._parser as parser

import pytest

import ingest.decoders

UNBOUNDED = c.MAXREPEAT
REPEATS = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)


def _edges(item) -> tuple[bool, bool, bool]:
    """(starts with an unbounded repeat, ends with one, may match nothing) of one item."""
    op, arg = item
    if op in REPEATS:
        low, high, body = arg
        first, last, empty = _seq_edges(body)
        unbounded = high == UNBOUNDED
        return unbounded or first, unbounded or last, low == 0 or empty
    if op == c.SUBPATTERN:
        return _seq_edges(arg[-1])
    if op == c.BRANCH:
        edges = [_seq_edges(b) for b in arg[1]]
        return any(e[0] for e in edges), any(e[1] for e in edges), any(e[2] for e in edges)
    if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
        return False, False, True
    return False, False, False


def _seq_edges(items) -> tuple[bool, bool, bool]:
    edges = [_edges(i) for i in items]
    first = last = False
    for e in edges:  # an item that may match nothing lets the next one be the first
        first = first or e[0]
        if not e[2]:
            break
    for e in reversed(edges):
        last = last or e[1]
        if not e[2]:
            break
    return first, last, all(e[2] for e in edges)


def _problems(items, inside_unbounded: bool = False) -> list[str]:
    out = []
    open_end = False  # an unbounded repeat may end right before the next item
    for item in items:
        op, arg = item
        first, last, empty = _edges(item)
        if open_end and first:
            out.append("two unbounded repeats side by side")
        if op in REPEATS:
            unbounded = arg[1] == UNBOUNDED
            if unbounded and inside_unbounded:
                out.append("an unbounded repeat inside another")
            out += _problems(arg[2], inside_unbounded or unbounded)
        elif op == c.SUBPATTERN:
            out += _problems(arg[-1], inside_unbounded)
        elif op == c.BRANCH:
            for branch in arg[1]:
                out += _problems(branch, inside_unbounded)
        elif op in (c.ASSERT, c.ASSERT_NOT):
            out += _problems(arg[1], inside_unbounded)
        open_end = last or (open_end and empty)
    return out


def _decoder_patterns() -> list[tuple[str, re.Pattern]]:
    found = []
    for info in pkgutil.iter_modules(ingest.decoders.__path__):
        module = importlib.import_module(f"ingest.decoders.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found.append((f"{info.name}.{name}", value))
    return found


def test_the_check_finds_what_it_looks_for():
    assert _problems(parser.parse(r"\s*(\d+)\s*(?:\*\s*(\w*))?\s*"))  # the old DSMR value
    assert _problems(parser.parse(r"((?:\([^()]*\))+)"))  # the old DSMR line
    assert _problems(parser.parse(rb"\s*[+-]?(?:\d+)\s*"))  # the old emon number
    assert not _problems(parser.parse(r"\d+(?:\.\d*)?|\.\d+"))


@pytest.mark.parametrize(("name", "pattern"), _decoder_patterns(), ids=lambda v: str(v)[:40])
def test_decoder_patterns_cannot_backtrack(name, pattern):
    assert _problems(parser.parse(pattern.pattern, pattern.flags)) == [], name

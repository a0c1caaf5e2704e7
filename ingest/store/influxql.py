"""InfluxQL quoting: identifiers in double quotes, strings in single quotes, escaped."""

from __future__ import annotations

from ingest.store.line_protocol import encode_text


def ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(text: str) -> str:
    """A string literal for a tag value as stored (percent-encoded like line protocol)."""
    stored = encode_text(text).replace("\\", "%5C")
    return "'" + stored.replace("'", "\\'") + "'"


def any_of(tag: str, values: list[str]) -> str:
    """``("tag" = 'a' OR "tag" = 'b')``: no regular expression, so nothing to escape there."""
    if not values:
        return "false"
    return "(" + " OR ".join(f"{ident(tag)} = {literal(v)}" for v in values) + ")"

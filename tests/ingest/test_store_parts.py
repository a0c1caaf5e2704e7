"""Both parts of the store interface, implemented by each backend with the protocols' signatures:
a kind of data added to a protocol and forgotten in one backend fails here, not in production."""

from __future__ import annotations

import inspect

from ingest.store.base import ReadingStore
from ingest.store.organiser import OrganiserStore


def _methods(protocol: type) -> dict[str, list[str]]:
    """Public method name → its parameter names (without ``self``), over the protocol's bases."""
    out = {}
    for cls in protocol.__mro__:
        if not cls.__module__.startswith("ingest.store."):
            continue
        for name, member in vars(cls).items():
            if callable(member) and not name.startswith("_"):
                out.setdefault(name, list(inspect.signature(member).parameters)[1:])
    return out


def test_each_backend_implements_both_parts(any_store):
    parts = ((ReadingStore, any_store), (OrganiserStore, any_store.organiser))
    for protocol, part in parts:
        methods = _methods(protocol)
        assert methods  # the protocol was read
        for name, parameters in methods.items():
            method = getattr(part, name, None)
            assert callable(method), f"{type(part).__name__} has no {name}"
            assert list(inspect.signature(method).parameters) == parameters, (
                f"{type(part).__name__}.{name}"
            )


def test_the_organiser_part_is_not_on_the_readings_part(any_store):
    """Organiser data is reached through ``store.organiser`` only: the readings part (the ingest
    path's modules) has none of its methods."""
    for name in _methods(OrganiserStore):
        assert not hasattr(any_store, name), name

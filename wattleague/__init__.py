"""Watt League command-line application: demo, simulator and helpers.

The version is written once, in ``pyproject.toml``; everything else reads it from the installed
package's metadata (``importlib.metadata``): ``wattleague --version``, the API's ``/healthz``
and OpenAPI document, and ``wattleague.__version__`` here. After changing it, reinstall
(``bash scripts/setup.sh``) so the metadata follows.
"""


def __getattr__(name: str) -> str:
    # looked up on first use, so importing any wattleague module costs no metadata read
    if name == "__version__":
        from importlib.metadata import version

        return version("wattleague")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

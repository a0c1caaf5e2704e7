"""`wattleague example`: print a competition file that ships inside the package.

The files live in ``wattleague/examples/`` (package data, so an installed wheel has them);
``deploy/examples/`` in the checkout links to the same files. A new ``.toml`` there is a new
example: this command lists whatever the folder holds.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

import click

DEFAULT_EXAMPLE = "kommunhus-2011"


def _examples() -> dict[str, Traversable]:
    folder = resources.files("wattleague").joinpath("examples")
    return {
        f.name.removesuffix(".toml"): f
        for f in folder.iterdir()
        if f.is_file() and f.name.endswith(".toml")
    }


@click.command("example")
@click.argument("name", default=DEFAULT_EXAMPLE)
@click.option("--list", "list_names", is_flag=True, help="List the shipped examples and exit.")
def example(name: str, list_names: bool) -> None:
    """Print the shipped example competition file NAME (default: kommunhus-2011), to start
    your own from.

    \b
    wattleague example > competition.toml
    wattleague check-config competition.toml
    """
    examples = _examples()
    if list_names:
        click.echo("\n".join(sorted(examples)))
        return
    if name not in examples:
        raise click.BadParameter(
            f"no example {name!r}; shipped: {', '.join(sorted(examples))}", param_hint="NAME"
        )
    click.echo(examples[name].read_text("utf-8"), nl=False)

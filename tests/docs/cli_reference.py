"""Writes docs/cli.md from the ``--help`` of every ``wattleague`` command and subcommand.

    .venv/bin/python -m tests.docs.cli_reference        # rewrite docs/cli.md
    .venv/bin/python -m tests.docs.cli_reference --check  # exit 1 when it is out of date

``tests/docs/test_docs.py`` fails when the committed page differs from what this produces, so
a changed option or help text is one command away from its reference page.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "cli.md"
REGENERATE = ".venv/bin/python -m tests.docs.cli_reference"
# help is wrapped at this width whatever the terminal, so the page is the same everywhere
WIDTH = 88


def commands(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """The command and every subcommand below it, depth first, subcommands by name."""
    yield command, ctx
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            sub = command.commands[name]
            if not sub.hidden:
                yield from commands(sub, click.Context(sub, info_name=name, parent=ctx))


def render() -> str:
    """The page: each command's own ``--help`` text under a heading of its full name."""
    from wattleague.cli import main
    from wattleague.settings import settings_table

    root = click.Context(
        main,
        info_name="wattleague",
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        **main.context_settings,  # -h as well as --help; subcommands inherit it
    )
    out = [
        "# CLI reference",
        "",
        f"<!-- Generated from the commands' own --help by `{REGENERATE}`: do not edit by hand. -->",
        "",
        "Every `wattleague` command's `--help`, exactly as the command prints it. "
        "[Commands and settings](commands.md) says what each one is for, with examples; "
        "`python -m wattleague …` works the same.",
        "",
    ]
    for command, ctx in commands(main, root):
        name = ctx.command_path
        out += [f"## {name}", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    out += [
        "## wattleague --help-settings",
        "",
        "Every setting, its default and its environment variable "
        "([Settings](commands.md#settings) explains them):",
        "",
        "```text",
        settings_table().rstrip(),
        "```",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

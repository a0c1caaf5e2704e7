"""The docs: built strictly, and checked against the code they describe.

A broken link, a missing anchor or a page left out of the navigation fails the build; a
command, option, setting, request limit, route or competition-file key that the code has and
the pages do not name fails a test here, saying where it belongs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
import typing
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from tests.docs import cli_reference

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
EXAMPLE = ROOT / "deploy" / "examples" / "kommunhus-2011.toml"
README_MAX_BYTES = 8 * 1024


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _prose() -> str:
    """Every hand-written page (not the generated CLI reference), with GitHub's escaped table
    pipes read as pipes."""
    pages = [p for p in sorted(DOCS.rglob("*.md")) if p != cli_reference.PAGE]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages).replace("\\|", "|")


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    nxt = re.search(rf"\n#{{1,{len(level)}}} ", text[start + len(heading) + 2 :])
    return text[start : start + len(heading) + 2 + nxt.start()] if nxt else text[start:]


def _table_rows(text: str) -> list[list[str]]:
    """Cells of each body row of the Markdown tables in ``text``, code marks stripped."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip("|"))
        rows.append([c.strip().replace("\\|", "|").strip("`") for c in cells])
    return rows


# -- the site ---------------------------------------------------------------------------------


def test_docs_build_strictly(tmp_path):
    # what a broken link, a missing #anchor, an unlisted page or a missing include does to CI
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, (
        "mkdocs build --strict failed (run `.venv/bin/mkdocs build --strict` to see it):\n"
        + "\n".join(
            line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line
        )
        or result.stderr
    )
    assert (tmp_path / "scoring" / "index.html").exists()
    changelog = (tmp_path / "changelog" / "index.html").read_text(encoding="utf-8")
    assert "Unreleased" in changelog  # CHANGELOG.md included, not copied


def test_every_page_is_in_the_navigation():
    # mkdocs --strict says so too; this names the page and the file to edit
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    missing = [p for p in pages if f" {p}\n" not in nav]
    assert missing == [], f"pages missing from the nav of mkdocs.yml: {missing}"


# -- commands and options ---------------------------------------------------------------------


def test_cli_reference_is_current():
    committed = cli_reference.PAGE.read_text(encoding="utf-8")
    assert committed == cli_reference.render(), (
        f"docs/cli.md differs from the commands' --help: run `{cli_reference.REGENERATE}` "
        "and commit docs/cli.md"
    )


def _all_commands() -> list[tuple[str, click.Command]]:
    from wattleague.cli import main

    root = click.Context(main, info_name="wattleague")
    return [(ctx.command_path, cmd) for cmd, ctx in cli_reference.commands(main, root)]


def test_every_command_is_documented():
    prose = _prose()
    missing = [path for path, _ in _all_commands() if path not in prose]
    assert missing == [], (
        f"commands no page names: {missing}; add a row to the table in docs/commands.md "
        "(and describe it on the page of its subject)"
    )


def test_every_option_is_documented():
    prose = _prose()
    missing = []
    for path, command in _all_commands():
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            if set(param.opts) & {"--help", "-h"}:
                continue
            flag = max(param.opts + param.secondary_opts, key=len)
            if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", prose):
                missing.append(f"{path} {flag}")
    assert missing == [], (
        f"options no page names: {missing}; describe each where its command is documented "
        "(docs/commands.md says which page that is)"
    )


def test_every_command_has_help_text():
    # the generated reference is only as good as the help it is generated from
    missing = []
    for path, command in _all_commands():
        if not (command.help or command.short_help):
            missing.append(path)
    assert missing == [], f"commands without a docstring: {missing}"


# -- settings ---------------------------------------------------------------------------------


def _settings_rows() -> dict[str, list[str]]:
    table = _section(_page("commands.md"), "## Settings")
    return {row[0]: row for row in _table_rows(table)}


def test_docs_document_every_setting():
    from wattleague.settings import SETTINGS

    rows = _settings_rows()
    missing = [s.flag for s in SETTINGS.values() if s.flag not in rows]
    assert missing == [], f"settings missing from the table in docs/commands.md: {missing}"


def test_settings_table_has_the_code_defaults_and_variables():
    from wattleague.settings import SETTINGS

    rows = _settings_rows()
    wrong = []
    for s in SETTINGS.values():
        _, default, env, _ = rows[s.flag]
        if env != (s.env or ""):
            wrong.append(f"{s.flag}: environment {env!r}, the code says {s.env!r}")
        if s.default == "":
            ok = default == "(none)"
        elif isinstance(s.default, int | float):
            ok = float(default) == float(s.default)
        else:
            ok = default == str(s.default)
        if not ok:
            wrong.append(f"{s.flag}: default {default!r}, the code says {s.default!r}")
    assert wrong == [], "docs/commands.md, Settings: " + "; ".join(wrong)


def test_docs_document_every_request_limit():
    from api.request_limits import ENVIRONMENT, RequestLimits

    rows = {row[0]: row for row in _table_rows(_section(_page("http-api.md"), "## Request limits"))}
    defaults = RequestLimits()
    wrong = []
    for name, var in ENVIRONMENT.items():
        if var not in rows:
            wrong.append(f"{var} is missing")
            continue
        value = getattr(defaults, name)
        shown = rows[var][1]
        if value == () and shown == "(none)":
            continue
        if value == () or float(shown) != float(value):
            wrong.append(f"{var}: default {shown!r}, the code says {value!r}")
    assert wrong == [], "docs/http-api.md, Request limits: " + "; ".join(wrong)


# -- routes -----------------------------------------------------------------------------------


def _route_pattern(method: str, path: str) -> re.Pattern[str]:
    # a path parameter may be written by another name ({id}) or as its values (summary.csv|.pdf)
    parts = re.split(r"\{[^}]+\}", path)
    param = r"(?:\{[\w]+\}|[\w.|-]+)"
    body = param.join(re.escape(p) for p in parts)
    return re.compile(rf"{method} {body}(?![\w/{{-])")


def test_every_route_is_documented(tmp_path):
    from api.app import create_app
    from ingest.store.sqlite import SQLiteStore
    from scoring.competition_file import load_competition

    store = SQLiteStore(tmp_path / "routes.db")
    try:
        app = create_app([load_competition(EXAMPLE)], store)
        paths = app.openapi()["paths"]
    finally:
        store.close()
    prose = _prose()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method in operations
        if not _route_pattern(method.upper(), path).search(prose)
    ]
    assert paths and missing == [], (
        f"routes no page names: {missing}; add them to docs/http-api.md or the page of their "
        "subject, as `METHOD /path`"
    )


# -- registries: one home per concept, one place in the docs each ----------------------------


def test_every_baseline_method_has_a_section():
    from scoring.baselines import METHODS

    page = _page("scoring.md")
    missing = [name for name in METHODS if f"\n### `{name}`\n" not in page]
    assert missing == [], (
        f"baseline methods without a section in docs/scoring.md: {missing}; add "
        "'### `NAME`' under Baselines saying what the method computes"
    )


def test_every_payload_format_is_described():
    from ingest.decoders import DECODERS

    page = _page("meters-and-mqtt.md")
    missing = [name for name in DECODERS if f'- `format = "{name}"`' not in page]
    assert missing == [], (
        f"payload formats not described in docs/meters-and-mqtt.md: {missing}; add a "
        "'- `format = \"NAME\"`' item under Payload formats"
    )


def test_every_display_kind_is_named():
    from scoring.competition import DisplayKind

    page = _section(_page("competition-file.md"), "## Keys")
    missing = [kind for kind in typing.get_args(DisplayKind) if f"`{kind}`" not in page]
    assert missing == [], f"display kinds missing from docs/competition-file.md: {missing}"


# -- competition file -------------------------------------------------------------------------


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    if isinstance(annotation, types.UnionType):
        for arg in annotation.__args__:
            found += _models_in(arg)
    return found


def _competition_keys() -> set[str]:
    from scoring.competition import Competition

    keys, todo, seen = set(), [Competition], set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.add(field.alias or name)
            todo += _models_in(field.annotation)
    return keys


def test_docs_document_every_competition_file_key():
    page = _section(_page("competition-file.md"), "## Keys")
    code = " ".join(re.findall(r"`([^`]+)`", page))
    missing = sorted(k for k in _competition_keys() if not re.search(rf"\b{k}\b", code))
    assert missing == [], (
        f"competition-file keys missing from docs/competition-file.md, Keys: {missing}"
    )


# -- files and modules the pages name --------------------------------------------------------

_REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:api|bench|deploy|display|docs|ingest|scoring|scripts|tests|wattleague)"
    r"/[\w./@-]*(?:\{[\w,.-]+\})?)"
)


def _expand(path: str) -> list[str]:
    """``a.{service,timer}`` → ``a.service``, ``a.timer``."""
    m = re.search(r"\{([\w,.-]+)\}", path)
    if not m:
        return [path.rstrip(".")]
    return [path[: m.start()] + alt + path[m.end() :] for alt in m.group(1).split(",")]


def _named_files() -> list[tuple[str, str]]:
    pages = [README] + [p for p in sorted(DOCS.rglob("*.md")) if p != cli_reference.PAGE]
    named = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        where = str(page.relative_to(ROOT))
        named += [(where, path) for m in _REPO_PATH.finditer(text) for path in _expand(m[1])]
        for module in re.findall(r"python -m ([\w.]+)", text):
            named.append((where, "module " + module))
    return named


def _exists(name: str) -> bool:
    if name.startswith("module "):
        path = ROOT / name.removeprefix("module ").replace(".", "/")
        return path.with_suffix(".py").exists() or (path / "__init__.py").exists()
    return (ROOT / name).exists()


def test_files_and_modules_the_pages_name_exist():
    # a module renamed or moved leaves its old name in the docs: this finds it
    missing = sorted({f"{page}: {name}" for page, name in _named_files() if not _exists(name)})
    assert missing == [], f"the docs name files or modules that do not exist: {missing}"


def test_the_tour_names_existing_modules():
    # docs/architecture.md names modules inside each folder: each must be in that folder
    tour = _section(_page("architecture.md"), "## A short tour")
    missing = []
    for folder, held, *_ in _table_rows(tour):
        for name in re.findall(r"`([\w*]+(?:\.py|/))`", held):
            if not list((ROOT / folder).rglob(name.rstrip("/"))):
                missing.append(f"{folder}{name}")
    assert missing == [], f"docs/architecture.md, A short tour: no such module: {missing}"


# -- the README -------------------------------------------------------------------------------


def test_readme_is_a_front_page():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, (
        f"README.md is {size:,} bytes (at most {README_MAX_BYTES:,}): move reference material "
        "into docs/ and link to it"
    )


@pytest.mark.parametrize("command", ["bash scripts/demo.sh", "bash scripts/test.sh"])
def test_readme_keeps_its_two_commands(command):
    # users run these from the first screen, and .ci/run runs the test command
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert any(block.strip() == command for block in blocks)


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)]+)\)", text)
    broken = [t for t in targets if "://" not in t and not (ROOT / t.split("#", 1)[0]).exists()]
    assert targets and broken == [], f"README.md links to files that do not exist: {broken}"

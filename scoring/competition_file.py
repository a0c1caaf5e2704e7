"""Load a competition file (TOML) into the model, reporting every problem with its location.

A problem names the file, the line, the table (``[[site]] #3 "soderhamn"``) and the key, so
an organiser can go straight to it. TOML carries no line numbers after parsing, so the lines
are found by scanning the text for table headers and keys (``_locate_lines``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from scoring.competition import Competition, Location, cross_reference_problems

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*(\.|=)")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a competition file: where it is and what is wrong."""

    file: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        line = f":{self.line}" if self.line else ""
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}{line}:{where} {self.message}"


class ConfigError(ValueError):
    """A competition file with one or more problems; ``problems`` lists them all."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_competition(path: str | Path) -> Competition:
    """Read and validate a competition file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [ConfigProblem(file=str(path), line=None, where="", message=f"cannot read file: {exc}")]
        ) from exc
    return parse_competition(text, str(path))


def load_competitions(paths: list[str | Path]) -> list[Competition]:
    """Read and validate competition files that one ``serve`` or ``ingest`` takes together;
    raise ConfigError listing every problem of each file and every collision between them
    (``collisions``)."""
    problems: list[ConfigProblem] = []
    loaded: list[tuple[str, str, Competition]] = []
    for path in paths:
        try:
            comp = load_competition(path)
        except ConfigError as exc:
            problems += exc.problems
            continue
        loaded.append((str(path), Path(path).read_text(encoding="utf-8"), comp))
    problems += collisions(loaded)
    if problems:
        raise ConfigError(problems)
    return [comp for _, _, comp in loaded]


def collisions(loaded: list[tuple[str, str, Competition]]) -> list[ConfigProblem]:
    """What two competition files given to one process may not share, each named with both
    files and lines: a competition id, a meter id (readings are stored by meter), a topic (its
    readings would be credited to one competition only), a display id.

    ``loaded`` holds (file name, its text, its competition).
    """
    problems: list[ConfigProblem] = []
    first: dict[tuple[str, str], tuple[str, int | None]] = {}

    def claim(kind: str, value: str, source: str, lines: dict, loc: Location, where: str):
        line = _line_for(lines, loc)
        owner = first.setdefault((kind, value), (source, line))
        if owner != (source, line):
            other = f"{owner[0]}:{owner[1]}" if owner[1] else owner[0]
            problems.append(
                ConfigProblem(
                    file=source,
                    line=line,
                    where=where,
                    message=f"{kind} {value!r} is also in {other}",
                )
            )

    for source, text, comp in loaded:
        lines = _locate_lines(text)
        claim("competition id", comp.id, source, lines, ("competition", "id"), "[competition]")
        topics = comp.topics_by_meter()
        for i, site in enumerate(comp.sites):
            for j, meter in enumerate(site.meters):
                label = f"[[site]] #{i + 1} {site.id!r}, [[site.meter]] #{j + 1} {meter.id!r}"
                at = ("site", i, "meter", j)
                claim("meter id", meter.id, source, lines, (*at, "id"), label)
                channel = f" [{meter.channel}]" if meter.channel else ""
                topic_loc = (*at, "topic") if meter.topic else (*at, "id")
                claim("topic", topics[meter.id] + channel, source, lines, topic_loc, label)
        for k, (station, topic) in enumerate(comp.weather_topics().items()):
            label = f"[[weather]] #{k + 1} {station!r}"
            claim("topic", topic, source, lines, ("weather", k, "topic"), label)
        for k, display in enumerate(comp.displays):
            label = f"[[display]] #{k + 1} {display.id!r}"
            claim("display id", display.id, source, lines, ("display", k, "id"), label)
    return problems


def parse_competition(text: str, source: str = "<competition>") -> Competition:
    """Validate competition TOML ``text``; ``source`` names it in problems."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.search(str(exc))
        line = int(match.group(1)) if match else None
        message = _TOML_POSITION.sub("", str(exc)).strip()
        raise ConfigError(
            [ConfigProblem(file=source, line=line, where="", message=f"not valid TOML: {message}")]
        ) from exc
    lines = _locate_lines(text)
    problems = [
        ConfigProblem(
            file=source, line=_line_for(lines, loc), where=_describe(loc, data), message=message
        )
        for loc, message in cross_reference_problems(data)
    ]
    try:
        comp = Competition.model_validate(data, context={"defer_cross_references": True})
    except ValidationError as exc:
        problems += [_problem(source, lines, data, err) for err in exc.errors()]
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise ConfigError(problems)
    return comp


def _problem(source: str, lines: dict[Location, int], data: dict, err: dict) -> ConfigProblem:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if err["type"] == "extra_forbidden":
        message = "unknown key (check its spelling and the table it is in)"
    elif err["type"] == "missing":
        message = "required key is missing"
    else:
        message = err["msg"].removeprefix("Value error, ")
        if "input" in err and not isinstance(err["input"], dict | list):
            message += f" (got {err['input']!r})"
    return ConfigProblem(
        file=source, line=_line_for(lines, loc), where=_describe(loc, data), message=message
    )


def _describe(loc: Location, data: dict) -> str:
    """``[[site]] #3 "soderhamn", key area_m2`` for loc ("site", 2, "area_m2")."""
    parts: list[str] = []
    node: object = data
    i = 0
    table: list[str] = []
    while i < len(loc):
        key = loc[i]
        if i + 1 < len(loc) and isinstance(loc[i + 1], int):
            index = loc[i + 1]
            table.append(str(key))
            items = node.get(key) if isinstance(node, dict) else None
            node = items[index] if isinstance(items, list) and index < len(items) else None
            ident = node.get("id") if isinstance(node, dict) else None
            label = f"[[{'.'.join(table)}]] #{index + 1}"
            parts.append(f"{label} {ident!r}" if isinstance(ident, str) else label)
            i += 2
        elif i == 0 and isinstance(node, dict) and isinstance(node.get(key), dict):
            table.append(str(key))
            parts.append(f"[{key}]")
            node = node[key]
            i += 1
        else:
            parts.append("key " + ".".join(str(p) for p in loc[i:]))
            break
    return ", ".join(parts)


def _locate_lines(text: str) -> dict[Location, int]:
    """Map table and key locations (as pydantic reports them) to 1-based line numbers."""
    lines: dict[Location, int] = {}
    counts: dict[Location, int] = {}
    current: Location = ()
    instances: dict[str, Location] = {}  # dotted table name → location of its latest instance
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            is_array = header.group(1) == "[["
            names = [n.strip().strip('"') for n in header.group(2).split(".")]
            parent_name = ".".join(names[:-1])
            parent: Location = instances.get(parent_name, tuple(names[:-1])) if parent_name else ()
            base = (*parent, names[-1])
            if is_array:
                index = counts.get(base, 0)
                counts[base] = index + 1
                current = (*base, index)
            else:
                current = base
            instances[".".join(names)] = current
            lines.setdefault(current, number)
            continue
        key = _KEY.match(raw)
        if key:
            lines.setdefault((*current, key.group(1)), number)
    return lines


def _line_for(lines: dict[Location, int], loc: Location) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None

"""Competition files: the example passes; every problem is reported with its location."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.competition_file import ConfigError, load_competition, parse_competition

EXAMPLES = sorted((Path(__file__).parents[2] / "deploy" / "examples").glob("*.toml"))

BROKEN = """\
[competition]
id = "kommunhus-2011"
name = "Energispartävling"
timezone = "Europe/Stockhom"
start = 2011-03-01
end = 2011-02-01
baseline = { method = "previus-year" }

[[site]]
id = "soderhamn"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = -4200
  [[site.meter]]
  id = "soderhamn-main"
  format = "tasmot"

[[site]]
id = "pitea"
municipality = "Piteå kommun"
name = "Piteå kommunhus"
area_m2 = 3000
colour = "red"
  [[site.meter]]
  id = "soderhamn-main"

[[display]]
id = "lobby"
site = "nowhere"
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_competition(text, "broken.toml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass(path):
    comp = load_competition(path)
    assert comp.sites and comp.competition.start <= comp.competition.end


def test_every_problem_is_reported_with_file_line_table_and_key():
    problems = _problems(BROKEN)
    expected = [
        ("broken.toml:4:", "[competition], key timezone", "unknown time zone 'Europe/Stockhom'"),
        ("broken.toml:6:", "[competition], key end", "before start 2011-03-01"),
        ("broken.toml:7:", "key baseline.method", "'previus-year'"),
        ("broken.toml:13:", "[[site]] #1 'soderhamn', key area_m2", "greater than 0"),
        ("broken.toml:16:", "[[site.meter]] #1 'soderhamn-main', key format", "'tasmot'"),
        ("broken.toml:23:", "[[site]] #2 'pitea', key colour", "unknown key"),
        ("broken.toml:25:", "key id", "duplicate meter id 'soderhamn-main'"),
        ("broken.toml:29:", "[[display]] #1 'lobby', key site", "'nowhere'"),
    ]
    assert len(problems) == len(expected), problems
    for problem, (prefix, where, what) in zip(problems, expected, strict=True):
        assert problem.startswith(prefix), problem
        assert where in problem and what in problem, problem


def test_missing_required_keys_point_at_their_table():
    text = BROKEN.replace("area_m2 = 3000\n", "").replace('timezone = "Europe/Stockhom"\n', "")
    problems = [p for p in _problems(text) if "missing" in p]
    # the [[site]] header of pitea is on line 17 once the timezone line is gone
    assert problems == ["broken.toml:17: [[site]] #2 'pitea', key area_m2: required key is missing"]


def test_toml_syntax_error_gives_its_line():
    problems = _problems('[competition]\nid = "x"\nname = \n')
    assert len(problems) == 1
    assert problems[0].startswith("broken.toml:3:") and "not valid TOML" in problems[0]


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read file"):
        load_competition(tmp_path / "missing.toml")


def test_default_topics_and_meter_lookup():
    comp = load_competition(EXAMPLES[0])
    topics = comp.topics_by_meter()
    assert topics["soderhamn-main"] == "wattleague/kommunhus-2011/soderhamn/soderhamn-main"
    assert topics["pitea-main"] == "gateway/pitea/senml"
    site, meter = comp.meters()["hudiksvall-b"]
    assert site.id == "hudiksvall" and meter.format == "json"


def test_wildcard_topic_is_rejected():
    text = (
        BROKEN.split("[[site]]")[0]
        .replace("Stockhom", "Stockholm")
        .replace("2011-02-01", "2011-05-31")
        .replace("previus", "previous")
        + """
[[site]]
id = "a"
municipality = "A kommun"
name = "A kommunhus"
area_m2 = 100
  [[site.meter]]
  id = "a-main"
  topic = "tele/+/SENSOR"
"""
    )
    problems = _problems(text)
    assert len(problems) == 1 and "key topic" in problems[0] and "'+'" in problems[0]

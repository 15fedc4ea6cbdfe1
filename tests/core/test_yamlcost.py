"""YAML from users is measured before it is loaded: alias bombs and deep nesting are 4xx errors
that name the line, in challenge specs, task YAML and cards alike (the fuzz suite found specs
and task YAML hanging on alias bombs and failing with RecursionError on deep nesting)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from baton.challenge.errors import InvalidSpecError
from baton.challenge.spec import load_spec
from baton.core import yamlcost
from baton.core.errors import BadRequestError, InvalidYamlError
from baton.evaluation.tasks import TaskConfigError, parse_task_yaml
from baton.hub.cards import parse_card


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"  # 9**9 values once expanded, in 400 bytes


def card(front_matter: str) -> Any:
    return parse_card("---\n" + front_matter + "---\n# A model\n")


# Every entry point that reads YAML from users: challenge specs, task YAML (also accepted over HTTP
# as task_yaml), the front matter of hub cards, and the shared loader itself.
LOADERS: list[tuple[Callable[[str], Any], type[Exception]]] = [
    (load_spec, InvalidSpecError),
    (lambda text: parse_task_yaml(text, "task.yaml"), TaskConfigError),
    (card, InvalidYamlError),
    (lambda text: yamlcost.load(text, "the file"), yamlcost.YamlCostError),
]
# The line the document starts on in what each loader was given (a card's front matter follows '---').
FIRST_LINE = [1, 1, 2, 1]


def message(error: Exception) -> str:
    if isinstance(error, yamlcost.YamlCostError):
        return f"line {error.line}: {error.problem}"
    assert isinstance(error, BadRequestError)
    return error.message


@pytest.mark.parametrize(("load", "error"), LOADERS)
def test_alias_bomb_is_refused_at_once(load: Callable[[str], Any], error: type[Exception]) -> None:
    started = time.monotonic()
    with pytest.raises(error) as caught:
        load(alias_bomb())
    assert time.monotonic() - started < 5  # before: pydantic walked the expanded document for minutes
    assert f"expands to more than {yamlcost.MAX_EXPANDED_NODES} values" in message(caught.value)
    assert "line " in message(caught.value)


@pytest.mark.parametrize(
    ("load", "error", "first_line"), [(*loader, line) for loader, line in zip(LOADERS, FIRST_LINE, strict=True)]
)
def test_deep_nesting_is_refused(load: Callable[[str], Any], error: type[Exception], first_line: int) -> None:
    with pytest.raises(error) as caught:
        load("stages: " + "[" * 5000 + "]" * 5000 + "\n")  # before: RecursionError
    assert f"more than {yamlcost.MAX_DEPTH} levels deep" in message(caught.value)
    assert f"line {first_line}" in message(caught.value)


def test_check_cost_names_the_line_and_lets_syntax_errors_through() -> None:
    with pytest.raises(yamlcost.YamlCostError) as caught:
        yamlcost.check_cost("a: 1\nb: *missing\n", "the file")
    assert caught.value.line == 2 and "'*missing'" in caught.value.problem
    with pytest.raises(yamlcost.YamlCostError, match="more than one YAML document"):
        yamlcost.check_cost("a: 1\n---\nb: 2\n", "the file")
    import yaml

    with pytest.raises(yaml.YAMLError):
        yamlcost.check_cost("a: [1, 2\n", "the file")
    yamlcost.check_cost("x: &x [1, 2]\ny: *x\n", "the file")  # small aliases are fine


NESTED = """\
challenge: demo
stages:
  - id: first
    criteria:
      - id: accuracy
        weight: 1
  - id: second
    criteria:
      - id: speed
        weight:
          nested: true
"""


def test_line_of_finds_nested_keys_and_list_items() -> None:
    document = yamlcost.parse(NESTED, "the file")
    assert document.data["stages"][1]["criteria"][0]["weight"] == {"nested": True}
    for source in (NESTED, document.node):
        assert yamlcost.line_of(source, ("challenge",)) == 1
        assert yamlcost.line_of(source, ("stages",)) == 2
        assert yamlcost.line_of(source, ("stages", 0)) == 3
        assert yamlcost.line_of(source, ("stages", 0, "criteria", 0, "weight")) == 6
        assert yamlcost.line_of(source, ("stages", 1, "criteria", 0, "weight")) == 10  # the key, not its value
        assert yamlcost.line_of(source, ("stages", 1, "criteria", 0, "weight", "nested")) == 11
    # A missing key or index: the nearest enclosing one that exists.
    assert document.line_of(("stages", 1, "criteria", 0, "missing")) == 9
    assert document.line_of(("stages", 7, "id")) == 2
    assert document.line_of(()) == 1
    assert yamlcost.line_of(None, ("a",)) is None
    assert yamlcost.line_of(alias_bomb(), ("a0",)) is None  # refused text: no line, no cost


def test_load_is_safe_load_after_the_cost_check() -> None:
    import yaml

    text = "a: &x [1, 2]\nb: *x\nwhen: 2024-01-02\n"
    assert yamlcost.load(text, "the file") == yaml.safe_load(text)
    assert yamlcost.load("", "the file") is None
    with pytest.raises(yaml.constructor.ConstructorError):
        yamlcost.load("!!python/object:os.system {}\n", "the file")

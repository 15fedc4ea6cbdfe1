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
from baton.core.errors import BadRequestError
from baton.evaluation.tasks import TaskConfigError, parse_task_yaml


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"  # 9**9 values once expanded, in 400 bytes


LOADERS: list[tuple[Callable[[str], Any], type[BadRequestError]]] = [
    (load_spec, InvalidSpecError),
    (lambda text: parse_task_yaml(text, "task.yaml"), TaskConfigError),
]


@pytest.mark.parametrize(("load", "error"), LOADERS)
def test_alias_bomb_is_refused_at_once(load: Callable[[str], Any], error: type[BadRequestError]) -> None:
    started = time.monotonic()
    with pytest.raises(error) as caught:
        load(alias_bomb())
    assert time.monotonic() - started < 5  # before: pydantic walked the expanded document for minutes
    assert f"expands to more than {yamlcost.MAX_EXPANDED_NODES} values" in caught.value.message
    assert "line " in caught.value.message


@pytest.mark.parametrize(("load", "error"), LOADERS)
def test_deep_nesting_is_refused(load: Callable[[str], Any], error: type[BadRequestError]) -> None:
    with pytest.raises(error) as caught:
        load("stages: " + "[" * 5000 + "]" * 5000 + "\n")  # before: RecursionError
    assert f"more than {yamlcost.MAX_DEPTH} levels deep" in caught.value.message
    assert "line 1" in caught.value.message


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

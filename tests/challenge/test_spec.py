"""Challenge YAML: the shipped examples validate; problems are reported with their line numbers."""

from __future__ import annotations

import pytest

from baton.challenge.errors import InvalidSpecError
from baton.challenge.spec import example_path, load_release_plan, load_spec, load_spec_file

VALID = """\
challenge: tiny
title: Tiny
timezone: Asia/Seoul
stages:
  - id: s1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 3
    advance: 2
    criteria:
      - {id: bench, kind: benchmark, weight: 60, tasks: [t1]}
      - {id: review, kind: review, weight: 40, rubric: [{id: q, max: 5}]}
"""


def test_programme_stage_one_example_has_the_published_weights() -> None:
    spec = load_spec_file(example_path("stage1"))
    stage = spec.stages[0]
    weights = {c.id: c.weight for c in stage.criteria}
    assert weights == {
        "national-benchmarks": 10,
        "global-benchmarks": 20,
        "target-model": 10,
        "expert-review": 35,
        "user-evaluation": 25,
    }
    assert sum(w for c, w in weights.items() if stage.criterion(c).group == "benchmarks") == 40
    assert stage.criterion("target-model").normalization == "ratio_to_target"
    gate = stage.gate("independence")
    assert (gate.on_copied, gate.on_inconclusive) == ("fail", "operator")
    assert (stage.teams, stage.advance) == (5, 4)


def test_four_stage_example_narrows_five_four_three_two() -> None:
    spec = load_spec_file(example_path("four-stage"))
    assert [stage.teams for stage in spec.stages] == [5, 4, 3, 2]
    assert spec.stages[1].repechage == 1
    assert spec.tie_break_for(spec.stages[0])[-1] == "draw"


def test_valid_spec_round_trips_and_hash_is_stable() -> None:
    spec = load_spec(VALID)
    again = load_spec(spec.to_json())
    assert again == spec and again.sha256() == spec.sha256()
    assert spec.appeal_days_for(spec.stages[0]) == 10


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("weight: 60", "weight: 55"), 9, "weights sum to 95"),
        (("advance: 2", "advance: 4"), 8, "advances 4 teams but only 3"),
        (("deadline: 2026-01-10T18:00:00+09:00", "deadline: 2026-01-10T18:00:00"), 6, "time zone"),
        (("timezone: Asia/Seoul", "timezone: Mars/Olympus"), 3, "unknown time zone"),
        (("kind: review", "kind: survey"), 11, "kind"),
        (("tasks: [t1]", "tasks: []"), 10, "lists no tasks"),
    ],
)
def test_problems_name_their_line(change: tuple[str, str], line: int, words: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(VALID.replace(*change))
    assert words in caught.value.message
    assert f"line {line}:" in caught.value.message


def test_stage_chain_must_agree_and_tie_break_rules_exist() -> None:
    two = (
        VALID
        + """\
  - id: s2
    deadline: 2026-03-10T18:00:00+09:00
    teams: 3
    advance: 1
    tie_break: [criterion:nope]
    criteria:
      - {id: bench, kind: benchmark, weight: 100, tasks: [t1]}
"""
    )
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(two)
    message = caught.value.message
    assert "'s1' advances 2" in message and "line 14: stages[1].teams:" in message  # s2's `teams`
    # With the chain agreeing, the unknown tie-break rule is found at its own line.
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(two.replace("teams: 3", "teams: 2"))
    assert "line 16: stages[1].tie_break: stage 's2': unknown tie-break rule 'criterion:nope'" in caught.value.message


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(InvalidSpecError, match="not valid YAML at line 2"):
        load_spec("challenge: x\n  - : [\n")
    with pytest.raises(InvalidSpecError, match="must be a mapping"):
        load_spec("- just\n- a list\n")


def test_release_plan_validation() -> None:
    plan = load_release_plan(
        {
            "repos": [
                {
                    "repo": "lab/m",
                    "kind": "compressed",
                    "license": "mit",
                    "access": "gated",
                    "gated_mode": "auto",
                    "embargo_until": "2026-03-01",
                }
            ]
        }
    )
    assert plan.repos[0].kind == "compressed"
    with pytest.raises(InvalidSpecError, match="kind"):
        load_release_plan({"repos": [{"repo": "lab/m", "kind": "weights", "license": "mit"}]})
    with pytest.raises(InvalidSpecError, match="embargo_until"):
        load_release_plan({"repos": [{"repo": "lab/m", "kind": "model", "license": "mit", "embargo_until": "soon"}]})

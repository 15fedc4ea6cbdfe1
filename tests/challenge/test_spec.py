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


PROGRAMME = """\
challenge: programme
title: Programme
timezone: Asia/Seoul
stages:
  - id: stage-1
    deadline: 2026-01-10T18:00:00+09:00
    teams: 5
    advancement: {eliminate_lowest: 1, advance_up_to: 4}
    criteria:
      - {id: bench, kind: benchmark, weight: 100, tasks: [t1]}
  - id: repechage-1
    kind: repechage
    opens: 2026-01-26T09:00:00+09:00
    deadline: 2026-02-10T18:00:00+09:00
    admits: 1
    open_to: [new, eliminated]
    criteria:
      - {id: expert, kind: review, weight: 100, rubric: [{id: plan, max: 10}]}
  - id: stage-2
    deadline: 2026-06-10T18:00:00+09:00
    teams: 4
    advancement: {advance_up_to: 3}
    criteria:
      - {id: bench, kind: benchmark, weight: 100, tasks: [t1]}
"""


def test_the_programme_shape_validates_and_states_its_rules() -> None:
    spec = load_spec(PROGRAMME)
    first, repechage, second = spec.stages
    assert first.advancement_rule() == {"eliminate_lowest": 1, "advance_up_to": 4, "refill": False}
    assert first.most_advancing() == 4
    assert repechage.is_repechage and repechage.advancement_rule() == {"admits": 1, "refill": True}
    assert second.advancement_rule() == {"eliminate_lowest": 0, "advance_up_to": 3, "refill": False}
    assert spec.previous_regular("stage-2") == first and spec.repechage_before("stage-2") == repechage
    assert spec.next_regular("repechage-1") == second
    assert load_spec(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (
            (
                "    advancement: {eliminate_lowest: 1, advance_up_to: 4}\n",
                "    advance: 4\n    advancement: {eliminate_lowest: 1}\n",
            ),
            9,
            "not both",
        ),
        (("{eliminate_lowest: 1, advance_up_to: 4}", "{eliminate_lowest: 5}"), 8, "none could go on"),
        (("{eliminate_lowest: 1, advance_up_to: 4}", "{advance_up_to: 6}"), 8, "only 5 compete"),
        (("{eliminate_lowest: 1, advance_up_to: 4}", "{}"), 8, "give `eliminate_lowest: K`"),
        (("{eliminate_lowest: 1, advance_up_to: 4}", "{eliminate_lowest: -1}"), 8, "greater than or equal to 0"),
        (("    advancement: {eliminate_lowest: 1, advance_up_to: 4}\n", ""), 5, "say who goes on"),
        (("    admits: 1\n", ""), 12, "needs `admits: N`"),
        (("    opens: 2026-01-26T09:00:00+09:00\n", ""), 12, "needs `opens`"),
        (("    admits: 1\n", "    admits: 1\n    advance: 1\n"), 16, "belongs to a regular stage"),
        (("open_to: [new, eliminated]", "open_to: [losers]"), 16, "open_to"),
        (("    teams: 4\n", "    teams: 6\n"), 21, "at most 5 can arrive"),
        (("    teams: 4\n", "    teams: 3\n"), 21, "may advance 4"),
        (("    teams: 5\n", ""), 5, "give `teams`"),
    ],
)
def test_advancement_and_repechage_problems_name_their_line(change: tuple[str, str], line: int, words: str) -> None:
    assert change[0] in PROGRAMME
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(PROGRAMME.replace(*change))
    assert words in caught.value.message
    assert f"line {line}:" in caught.value.message


def test_a_repechage_sits_between_two_regular_stages() -> None:
    last = PROGRAMME[: PROGRAMME.index("  - id: stage-2")]
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(last)
    assert (
        "line 12: stages[1].kind: repechage 'repechage-1' must be followed by a regular stage" in caught.value.message
    )
    first = PROGRAMME.replace(
        "    teams: 5\n    advancement: {eliminate_lowest: 1, advance_up_to: 4}\n",
        "    kind: repechage\n    opens: 2026-01-01T09:00:00+09:00\n    admits: 1\n",
    )
    with pytest.raises(InvalidSpecError) as caught:
        load_spec(first)
    assert "line 7: stages[0].kind: the first stage 'stage-1' cannot be a repechage" in caught.value.message

"""A challenge defined in versioned YAML: stages, criteria with weights, gates, tie-break rules.

``load_spec(text)`` parses and validates; every problem is reported with the YAML line it comes
from, so ``baton challenge validate FILE`` can say what to fix and where. The normalized spec
(``ChallengeSpec.model_dump(mode="json")``) is what the ledger records.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from baton.challenge.errors import InvalidSpecError
from baton.core import yamlcost

SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
EXAMPLES_DIR = Path(__file__).parent / "examples"
WEIGHT_TOLERANCE = 1e-6

Normalization = Literal["raw", "ratio_to_target", "minmax", "rank"]
TargetSource = Literal["measured", "entered", "either"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RubricItem(_Model):
    id: str = Field(pattern=SLUG)
    title: str = ""
    max: float = Field(default=10.0, gt=0)
    weight: float = Field(default=1.0, gt=0)


class BenchmarkTask(_Model):
    """One task of a benchmark criterion, written as a plain id (``mmlu``: weight 1, the criterion's cap, any
    version) or as an object: ``{id: mmlu, weight: 2, version: "1.1", cap: 1.05, target_source: measured}``.

    ``version`` names the task version (``baton.evaluation`` task YAML) a score must have been measured
    on to count; ``cap`` and ``target_source`` apply to ``ratio_to_target`` criteria only. A task with
    nothing but its id is recorded as the plain id, so plain lists keep their normalized form.
    """

    id: str = Field(min_length=1, max_length=200)
    weight: float = Field(default=1.0, gt=0)
    version: str | None = Field(default=None, min_length=1, max_length=50)
    cap: float | None = Field(default=None, gt=0)
    target_source: TargetSource = "either"

    @model_validator(mode="before")
    @classmethod
    def _plain_id(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"id": value}
        if (
            isinstance(value, dict)
            and isinstance(value.get("version"), int | float)
            and not isinstance(value.get("version"), bool)
        ):
            # YAML reads `version: 1.0` as a number; keep what the author wrote, as the evaluation tasks do.
            return {**value, "version": str(value["version"])}
        return value

    @model_serializer(mode="wrap")
    def _as_plain_id(self, handler: SerializerFunctionWrapHandler) -> Any:
        if self.weight == 1.0 and self.version is None and self.cap is None and self.target_source == "either":
            return self.id
        return handler(self)

    @property
    def plain(self) -> bool:
        """Written as a plain id (or an object saying no more than one)."""
        return self.weight == 1.0 and self.version is None and self.cap is None and self.target_source == "either"


class PanelScale(_Model):
    """The integer points a panel rater gives on one dimension (e.g. 1..5); ordinal data."""

    min: int = 1
    max: int = 5

    @model_validator(mode="after")
    def _ordered(self) -> PanelScale:
        if self.max <= self.min:
            raise Located(f"the scale's max {self.max} must be above its min {self.min}", "max")
        if self.max - self.min > 100:
            raise Located("a panel scale has at most 101 points (use e.g. 0..100)", "max")
        return self


class PanelDimension(PanelScale):
    """One dimension of a panel's rubric: its own scale and its weight in the rating's value."""

    id: str = Field(pattern=SLUG)
    title: str = ""
    weight: float = Field(default=1.0, gt=0)


# A panel's items: how many (numbered 1..N) or their ids.
MAX_PANEL_ITEMS = 10_000
PANEL_FIELDS = ("scale", "dimensions", "items", "min_raters")
SINGLE_DIMENSION = "score"  # the dimension's id when a panel has one `scale`


class Criterion(_Model):
    """One scored criterion of a stage; its value per team lies in [0, 1] and earns weight × value points."""

    id: str = Field(pattern=SLUG)
    title: str = ""
    title_ko: str = ""
    group: str | None = None  # for reports: e.g. the three benchmark criteria form "benchmarks"
    kind: Literal["benchmark", "review", "arena", "panel"]
    weight: float = Field(gt=0)
    normalization: Normalization = "raw"
    # benchmark
    tasks: list[BenchmarkTask] = Field(default_factory=list)  # plain ids or {id, weight, version, cap, target_source}
    cap: float = Field(default=1.0, gt=0)  # ratio_to_target: ratios above this count as this (a task's cap wins)
    # review
    rubric: list[RubricItem] = Field(default_factory=list)
    aggregation: Literal["trimmed_mean", "median", "mean"] = "trimmed_mean"
    trim: float = Field(default=0.2, ge=0, lt=0.5)
    min_reviewers: int = Field(default=1, ge=1)
    # arena
    max_votes_per_voter: int = Field(default=200, ge=1)
    bootstrap_rounds: int = Field(default=200, ge=10)
    exclude_contrarian: bool = True
    # panel (absolute ratings by expert users; also aggregation, trim, bootstrap_rounds)
    scale: PanelScale | None = None
    dimensions: list[PanelDimension] = Field(default_factory=list)
    items: int | list[str] | None = None
    min_raters: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _kind_fields(self) -> Criterion:
        if self.kind == "benchmark" and not self.tasks:
            raise ValueError(f"benchmark criterion '{self.id}' lists no tasks (add `tasks: [task-id, ...]`)")
        if self.kind == "review" and not self.rubric:
            raise ValueError(f"review criterion '{self.id}' has no rubric (add `rubric: [{{id: ..., max: 10}}]`)")
        if self.normalization == "ratio_to_target" and self.kind != "benchmark":
            raise ValueError(f"criterion '{self.id}': ratio_to_target applies to benchmark criteria only")
        self._check_tasks()
        if self.kind == "panel":
            self._check_panel()
        else:
            for name in PANEL_FIELDS:
                if name in self.model_fields_set:
                    raise Located(f"criterion '{self.id}': `{name}` applies to panel criteria only", name)
        return self

    def _check_tasks(self) -> None:
        seen: set[str] = set()
        for index, task in enumerate(self.tasks):
            if task.id in seen:
                raise Located(
                    f"criterion '{self.id}': task '{task.id}' is listed twice (give each task once, with its weight)",
                    "tasks",
                    index,
                )
            seen.add(task.id)
            if self.normalization != "ratio_to_target":
                for name, given in (("cap", task.cap is not None), ("target_source", task.target_source != "either")):
                    if given:
                        raise Located(
                            f"criterion '{self.id}': task '{task.id}' sets `{name}`, which applies to "
                            f"normalization ratio_to_target only (this criterion uses {self.normalization})",
                            "tasks",
                            index,
                            name,
                        )

    @property
    def task_ids(self) -> list[str]:
        return [task.id for task in self.tasks]

    def task_cap(self, task: BenchmarkTask) -> float:
        """The ratio that earns a task full marks under ratio_to_target: the task's own cap, else the criterion's."""
        return self.cap if task.cap is None else task.cap

    def _check_panel(self) -> None:
        if self.scale is None and not self.dimensions:
            raise Located(
                f"panel criterion '{self.id}' has no scale (add `scale: {{min: 1, max: 5}}`, "
                "or `dimensions: [{id: ..., min: 1, max: 5}]` for several)",
                "kind",
            )
        if self.scale is not None and self.dimensions:
            raise Located(
                f"panel criterion '{self.id}' has both `scale` and `dimensions`; "
                "give one scale, or a scale per dimension",
                "dimensions",
            )
        ids = [dimension.id for dimension in self.dimensions]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise Located(f"panel criterion '{self.id}': dimension ids repeat: {', '.join(repeated)}", "dimensions")
        if self.items is None:
            raise Located(
                f"panel criterion '{self.id}' lists no items (add `items: 20` for items 1..20, or `items: [q1, q2]`)",
                "kind",
            )
        if isinstance(self.items, int):
            if not 1 <= self.items <= MAX_PANEL_ITEMS:
                raise Located(f"panel criterion '{self.id}': items must be 1..{MAX_PANEL_ITEMS}", "items")
        else:
            if not self.items:
                raise Located(f"panel criterion '{self.id}': the item list is empty", "items")
            for index, item in enumerate(self.items):
                if not slug_ok(item):
                    raise Located(
                        f"panel criterion '{self.id}': item id '{item}' is not a slug (a-z, 0-9, '-', '_', '.')",
                        "items",
                        index,
                    )
            seen = [i for i in self.items if self.items.count(i) > 1]
            if seen:
                raise Located(f"panel criterion '{self.id}': item ids repeat: {', '.join(sorted(set(seen)))}", "items")
            if len(self.items) > MAX_PANEL_ITEMS:
                raise Located(f"panel criterion '{self.id}': at most {MAX_PANEL_ITEMS} items", "items")

    def panel_items(self) -> list[str]:
        """A panel's item ids: "1".."N" for ``items: N``, else the listed ids."""
        if isinstance(self.items, int):
            return [str(number) for number in range(1, self.items + 1)]
        return list(self.items or [])

    def panel_dimensions(self) -> list[PanelDimension]:
        """A panel's dimensions; a single ``scale`` is one dimension named ``score``."""
        if self.dimensions:
            return list(self.dimensions)
        scale = self.scale or PanelScale()
        return [PanelDimension(id=SINGLE_DIMENSION, min=scale.min, max=scale.max)]

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A panel's fields are recorded for panel criteria only, so the other criteria's normalized
        # spec (and the spec_sha256 that decisions publish) reads as it did before panels existed.
        data: dict[str, Any] = handler(self)
        if self.kind != "panel":
            for name in PANEL_FIELDS:
                data.pop(name, None)
        return data


GatePolicy = Literal["fail", "operator"]  # what a failed check becomes: a fail, or the operators' queue

# What a from-scratch independence gate may allow by kind of component (``allow.components``); the kinds
# are read from the component names the provenance engine reports (see ``component_kind``).
COMPONENT_KINDS = ("embeddings", "lm_head", "final_norm", "blocks", "encoder", "projector", "other")
REPO_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$"


class ReuseAllowance(_Model):
    """What a ``from_scratch`` independence gate lets a team reuse: named bases (whole models) and kinds of
    component (from any model)."""

    bases: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)

    @field_validator("bases")
    @classmethod
    def _bases(cls, value: list[str]) -> list[str]:
        for base in value:
            if re.match(REPO_NAME, base) is None:
                raise ValueError(f"allowed base '{base}' is not a model repo name 'namespace/name'")
        return value

    @field_validator("components")
    @classmethod
    def _components(cls, value: list[str]) -> list[str]:
        for kind in value:
            if kind == "tokenizer":
                raise ValueError(
                    "'tokenizer' is not a component with weights: a reused tokenizer alone never fails the gate "
                    "(allow 'embeddings' to let a team reuse another model's embedding weights)"
                )
            if kind not in COMPONENT_KINDS:
                raise ValueError(f"unknown component kind '{kind}' (use {', '.join(COMPONENT_KINDS)})")
        return value


class Gate(_Model):
    """A pass/fail requirement. ``independence`` reads provenance reports of the team's submission.

    ``policy: declared_ok`` (the default) passes a declared derivation and looks at undeclared ones and
    copies; ``policy: from_scratch`` fails any reuse of a foreign model's weights, declared or not, unless
    ``allow`` lists the base or the kind of component (``on_reuse`` says fail or operator).
    """

    id: str = Field(pattern=SLUG)
    kind: Literal["independence"] = "independence"
    title: str = ""
    on_copied: Literal["fail", "operator"] = "fail"
    on_undeclared_derivation: Literal["fail", "operator", "pass"] = "operator"
    on_inconclusive: Literal["fail", "operator", "pass"] = "operator"
    policy: Literal["declared_ok", "from_scratch"] = "declared_ok"
    on_reuse: GatePolicy = "fail"
    allow: ReuseAllowance = Field(default_factory=ReuseAllowance)

    @model_validator(mode="after")
    def _policy_fields(self) -> Gate:
        if self.policy != "from_scratch" and (self.allow.bases or self.allow.components):
            raise Located(f"gate '{self.id}': `allow` applies to `policy: from_scratch` only", "allow")
        return self

    @model_serializer(mode="wrap")
    def _compatible(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A gate written before policies existed serializes as it did, so recorded specs keep their hashes.
        data: dict[str, Any] = handler(self)
        if self.policy == "declared_ok" and self.on_reuse == "fail" and not (self.allow.bases or self.allow.components):
            for key in ("policy", "on_reuse", "allow"):
                data.pop(key, None)
        return data


IndependenceGate = Gate


class ThresholdGate(_Model):
    """A minimum on one criterion of the stage: its normalized value (``min_value``, in [0, 1]) or its points
    (``min_points``). Computed inside the decision from the criterion's values; no check is recorded."""

    id: str = Field(pattern=SLUG)
    kind: Literal["threshold"]
    title: str = ""
    criterion: str
    min_value: float | None = Field(default=None, ge=0, le=1)
    min_points: float | None = Field(default=None, ge=0)
    # Only "fail": the value is known when the stage is decided, too late for an operators' queue (an
    # operator who wants to rule overrides the gate before deciding).
    on_fail: Literal["fail"] = "fail"

    @model_validator(mode="after")
    def _one_minimum(self) -> ThresholdGate:
        if (self.min_value is None) == (self.min_points is None):
            raise ValueError(f"threshold gate '{self.id}' needs exactly one of `min_value` or `min_points`")
        return self


class LicenseGate(_Model):
    """The submitted revision's license (its model card's ``license``, at the pinned commit) must be allowed."""

    id: str = Field(pattern=SLUG)
    kind: Literal["license"]
    title: str = ""
    allowed: list[str] = Field(min_length=1)
    on_fail: GatePolicy = "fail"

    @field_validator("allowed")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [item.strip().lower() for item in value]


class RequiredDocument(_Model):
    path: str = Field(min_length=1, max_length=500)
    title: str = ""
    min_bytes: int = Field(default=1, ge=0)  # 1: present and not empty

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"'{value}' must be a path inside the repo, such as DATA_PROVENANCE.md")
        return value


class DocumentsGate(_Model):
    """Files the submitted revision must hold (at the pinned commit), each at least ``min_bytes`` long."""

    id: str = Field(pattern=SLUG)
    kind: Literal["documents"]
    title: str = ""
    required: list[RequiredDocument] = Field(min_length=1)
    on_fail: GatePolicy = "fail"


GATE_KINDS = ("independence", "threshold", "license", "documents")


def _gate_kind(value: Any) -> str:
    kind = value.get("kind", "independence") if isinstance(value, dict) else getattr(value, "kind", "independence")
    return str(kind)


AnyGate = Annotated[
    Annotated[Gate, Tag("independence")]
    | Annotated[ThresholdGate, Tag("threshold")]
    | Annotated[LicenseGate, Tag("license")]
    | Annotated[DocumentsGate, Tag("documents")],
    Discriminator(
        _gate_kind,
        custom_error_type="unknown_gate_kind",
        custom_error_message="unknown gate kind (use " + ", ".join(GATE_KINDS) + ")",
    ),
]


class Advancement(_Model):
    """Who goes on, as the programme words it: ``eliminate_lowest`` K teams on points (among all the
    stage's teams, gate failures included) and every gate failure, then at most ``advance_up_to``
    of the rest by points. Slots freed by a gate failure are not refilled from the ranking."""

    eliminate_lowest: int = Field(default=0, ge=0)
    advance_up_to: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _something(self) -> Advancement:
        if self.eliminate_lowest == 0 and self.advance_up_to is None:
            raise ValueError("give `eliminate_lowest: K`, `advance_up_to: N` or both")
        return self


REPECHAGE = "repechage"
Applicant = Literal["new", "eliminated"]


def _everyone() -> list[Applicant]:
    return ["new", "eliminated"]


class Stage(_Model):
    id: str = Field(pattern=SLUG)
    kind: Literal["stage", "repechage"] = "stage"  # a repechage (패자부활) is a selection of its own
    title: str = ""
    title_ko: str = ""
    opens: datetime | None = None  # a repechage's call for applications opens here
    deadline: datetime
    # A regular stage: how many teams compete in it at most (the first stage: exactly); a
    # repechage: how many applications it takes at most (0: no limit).
    teams: int = Field(default=0, ge=0)
    advance: int | None = Field(default=None, ge=0)  # the top N among gate passers go on (slots refilled)
    advancement: Advancement | None = None  # or the rule form (no refill)
    admits: int | None = Field(default=None, ge=1)  # a repechage: at most N teams join the next stage
    open_to: list[Applicant] = Field(default_factory=_everyone)
    repechage: int = Field(default=0, ge=0)  # new teams entered directly into this stage (the older form)
    appeal_days: int | None = Field(default=None, ge=0)
    seed: int | None = None
    total: float = Field(default=100.0, gt=0)
    criteria: list[Criterion] = Field(min_length=1)
    gates: list[AnyGate] = Field(default_factory=list)
    tie_break: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _gate_kinds(cls, data: Any) -> Any:
        gates = data.get("gates") if isinstance(data, dict) else None
        for index, gate in enumerate(gates if isinstance(gates, list) else []):
            kind = _gate_kind(gate) if isinstance(gate, dict) else None
            if kind is not None and kind not in GATE_KINDS:
                raise Located(
                    f"gate '{gate.get('id', index)}' has unknown kind '{kind}' (use {', '.join(GATE_KINDS)})",
                    "gates",
                    index,
                    "kind",
                )
        return data

    @field_validator("deadline", "opens")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-01-10T18:00:00+09:00")
        return value

    @model_serializer(mode="wrap")
    def _compatible(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The fields added with advancement rules and repechage selections are recorded only when a
        # stage uses them, so a stage written before them keeps its normalized form and its spec hash.
        data: dict[str, Any] = handler(self)
        for name, default in (("kind", "stage"), ("advancement", None), ("admits", None), ("open_to", _everyone())):
            if data.get(name) == default:
                data.pop(name, None)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Stage:
        problems: list[tuple[str, str]] = []  # (the field it is about, what is wrong)
        total_weight = sum(criterion.weight for criterion in self.criteria)
        if abs(total_weight - self.total) > WEIGHT_TOLERANCE:
            parts = " + ".join(f"{c.id} {c.weight:g}" for c in self.criteria)
            problems.append(
                (
                    "criteria",
                    f"criteria weights sum to {total_weight:g} ({parts}), not the stage total "
                    f"{self.total:g}; change the weights or `total`",
                )
            )
        problems.extend(self._advancement_problems())
        ids = [c.id for c in self.criteria]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            problems.append(("criteria", f"criterion ids repeat: {', '.join(duplicates)}"))
        gate_ids = [g.id for g in self.gates]
        if len(set(gate_ids)) != len(gate_ids):
            problems.append(("gates", "gate ids repeat"))
        if self.opens is not None and self.opens >= self.deadline:
            problems.append(("opens", "opens after its deadline"))
        if problems:
            raise Located(f"stage '{self.id}': " + "; ".join(text for _field, text in problems), problems[0][0])
        gate_problems = _gate_problems(self)
        if gate_problems:
            raise Located(
                f"stage '{self.id}': " + "; ".join(text for _where, text in gate_problems), *gate_problems[0][0]
            )
        return self

    def _advancement_problems(self) -> list[tuple[str, str]]:
        """What is wrong with who goes on: one form of the rule per stage, numbers the stage can meet."""
        if self.kind == REPECHAGE:
            return self._repechage_problems()
        problems: list[tuple[str, str]] = []
        if self.teams < 1:
            problems.append(("id", "give `teams`, how many teams compete in the stage"))
        if self.admits is not None:
            problems.append(("admits", "`admits` belongs to a stage with `kind: repechage`"))
        if self.advance is not None and self.advancement is not None:
            problems.append(
                ("advancement", "give `advance: N` or `advancement: {eliminate_lowest: K, advance_up_to: N}`, not both")
            )
        elif self.advance is None and self.advancement is None:
            problems.append(
                ("id", "say who goes on: `advance: N` or `advancement: {eliminate_lowest: K, advance_up_to: N}`")
            )
        elif self.advance is not None and self.teams and self.advance > self.teams:
            problems.append(
                (
                    "advance",
                    f"advances {self.advance} teams but only {self.teams} compete in it; "
                    "`advance` must be at most `teams`",
                )
            )
        elif self.advancement is not None and self.teams:
            rule = self.advancement
            if rule.eliminate_lowest >= self.teams:
                problems.append(
                    (
                        "advancement",
                        f"eliminates the lowest {rule.eliminate_lowest} of {self.teams} teams, so none could go on; "
                        "`eliminate_lowest` must be below `teams`",
                    )
                )
            if rule.advance_up_to is not None and rule.advance_up_to > self.teams:
                problems.append(
                    (
                        "advancement",
                        f"advances up to {rule.advance_up_to} teams but only {self.teams} compete in it; "
                        "`advance_up_to` must be at most `teams`",
                    )
                )
        return problems

    def _repechage_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.admits is None:
            problems.append(("kind", "a repechage needs `admits: N`, how many teams it admits at most"))
        if self.opens is None:
            problems.append(("kind", "a repechage needs `opens`, when its call for applications opens"))
        for name in ("advance", "advancement"):
            if getattr(self, name) is not None:
                problems.append((name, f"a repechage admits `admits: N` teams; `{name}` belongs to a regular stage"))
        if self.repechage:
            problems.append(("repechage", "`repechage: N` belongs to a regular stage; a repechage has `admits`"))
        if not self.open_to:
            problems.append(("open_to", "`open_to` lists nobody; use new, eliminated or both"))
        if self.teams and self.admits is not None and self.admits > self.teams:
            problems.append(("admits", f"admits {self.admits} teams but takes only {self.teams} applications"))
        return problems

    @property
    def is_repechage(self) -> bool:
        return self.kind == REPECHAGE

    def most_advancing(self) -> int:
        """The most teams that can go on from this stage (a repechage: the most it admits)."""
        if self.is_repechage:
            return self.admits or 0
        if self.advance is not None:
            return self.advance
        rule = self.advancement or Advancement(advance_up_to=self.teams)
        most = self.teams - rule.eliminate_lowest
        return most if rule.advance_up_to is None else min(most, rule.advance_up_to)

    def advancement_rule(self) -> dict[str, Any]:
        """The rule this stage's decision applies, as the record states it."""
        if self.is_repechage:
            return {"admits": self.admits, "refill": True}
        if self.advancement is not None:
            return {
                "eliminate_lowest": self.advancement.eliminate_lowest,
                "advance_up_to": self.advancement.advance_up_to,
                "refill": False,
            }
        return {"advance": self.advance, "refill": True}

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    def gate(self, gate_id: str) -> AnyGate:
        for gate in self.gates:
            if gate.id == gate_id:
                return gate
        raise KeyError(gate_id)


def _gate_problems(stage: Stage) -> list[tuple[tuple[str | int, ...], str]]:
    """Gates that ask what the stage cannot give (a threshold on an unknown criterion), with where they are."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    criteria = {c.id: c for c in stage.criteria}
    for index, gate in enumerate(stage.gates):
        if not isinstance(gate, ThresholdGate):
            continue
        criterion = criteria.get(gate.criterion)
        if criterion is None:
            problems.append(
                (
                    ("gates", index, "criterion"),
                    f"threshold gate '{gate.id}' names criterion '{gate.criterion}', which the stage does not "
                    f"have (criteria: {', '.join(criteria)})",
                )
            )
        elif gate.min_points is not None and gate.min_points > criterion.weight:
            problems.append(
                (
                    ("gates", index, "min_points"),
                    f"threshold gate '{gate.id}' asks {gate.min_points:g} points of '{gate.criterion}', which "
                    f"earns at most {criterion.weight:g}",
                )
            )
    return problems


class Located(ValueError):
    """A validation error that says which part of the spec it is about: ``where`` is a path below the
    model that raised it, which the loader appends to pydantic's location to find the YAML line."""

    def __init__(self, message: str, *where: str | int) -> None:
        super().__init__(message)
        self.where = where


TIE_BREAK_FIXED = ("earliest_submission", "draw")


class ChallengeSpec(_Model):
    challenge: str = Field(pattern=SLUG)
    title: str
    title_ko: str = ""
    version: int = Field(default=1, ge=1)
    timezone: str = "UTC"
    appeal_days: int = Field(default=10, ge=0)
    tie_break: list[str] = Field(default_factory=lambda: ["earliest_submission", "draw"])
    stages: list[Stage] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone '{value}' (use an IANA name such as Asia/Seoul)") from error
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ChallengeSpec:
        ids = [stage.id for stage in self.stages]
        if len(set(ids)) != len(ids):
            raise Located("stage ids repeat", "stages")
        if self.stages[0].repechage:
            raise Located(
                f"the first stage '{self.stages[0].id}' cannot be a repechage stage", "stages", 0, "repechage"
            )
        for index, (previous, stage) in enumerate(zip(self.stages, self.stages[1:], strict=False), start=1):
            if stage.deadline <= previous.deadline:
                raise Located(
                    f"stage '{stage.id}' has its deadline before the previous stage's", "stages", index, "deadline"
                )
        self._check_repechages()
        for index, stage in enumerate(self.stages):
            if index == 0 or stage.is_repechage:
                continue
            self._check_sizes(index)
        for index, stage in enumerate(self.stages):
            where = ("stages", index, "tie_break") if stage.tie_break else ("tie_break",)
            for rule in stage.tie_break or self.tie_break:
                _check_rule(rule, stage, where)
        return self

    def _check_repechages(self) -> None:
        """A repechage sits between two regular stages: after the stage whose eliminated may apply,
        before the stage its admitted teams join."""
        for index, stage in enumerate(self.stages):
            if not stage.is_repechage:
                continue
            if index == 0:
                raise Located(
                    f"the first stage '{stage.id}' cannot be a repechage: it follows a regular stage",
                    "stages",
                    0,
                    "kind",
                )
            if index == len(self.stages) - 1 or self.stages[index + 1].is_repechage:
                raise Located(
                    f"repechage '{stage.id}' must be followed by a regular stage, which its admitted teams join",
                    "stages",
                    index,
                    "kind",
                )
            if self.stages[index - 1].is_repechage:
                raise Located(f"repechage '{stage.id}' follows another repechage", "stages", index, "kind")

    def _check_sizes(self, index: int) -> None:
        """A later stage's `teams` against what can arrive: the previous regular stage's advancers, plus
        what a repechage between them admits (or the older `repechage: N` enters directly). With
        `advance: N` and no repechage selection the count is known and must match exactly; otherwise
        `teams` is the most that compete, and the decision checks the real count."""
        stage = self.stages[index]
        previous = self.previous_regular(stage.id)
        if previous is None:  # pragma: no cover - the first stage is regular (checked above)
            return
        between = self.repechage_before(stage.id)
        most = previous.most_advancing()
        admits = (between.admits or 0) if between is not None else 0
        exact = previous.advancement is None and between is None
        expected = most + stage.repechage
        where = ("stages", index, "teams")
        if exact and stage.teams != expected:
            raise Located(
                f"stage '{stage.id}' expects {stage.teams} teams but '{previous.id}' advances {previous.advance}"
                + (f" and {stage.repechage} are admitted by repechage" if stage.repechage else "")
                + f" ({expected}); make them agree",
                *where,
            )
        if not exact and stage.teams < expected:
            raise Located(
                f"stage '{stage.id}' takes {stage.teams} teams but '{previous.id}' may advance {most}"
                + (f" and {stage.repechage} are entered directly" if stage.repechage else "")
                + "; raise `teams` or lower what the earlier stage advances",
                *where,
            )
        if not exact and stage.teams > expected + admits:
            via = f" and '{between.id}' admits at most {admits}" if between is not None else ""
            raise Located(
                f"stage '{stage.id}' takes {stage.teams} teams but at most {expected + admits} can arrive "
                f"('{previous.id}' advances at most {most}{via}); lower `teams`",
                *where,
            )

    def previous_regular(self, stage_id: str) -> Stage | None:
        """The regular stage before ``stage_id`` (None for the first)."""
        for stage in reversed(self.stages[: self.stage_index(stage_id)]):
            if not stage.is_repechage:
                return stage
        return None

    def repechage_before(self, stage_id: str) -> Stage | None:
        """The repechage whose admitted teams join ``stage_id`` (the entry just before it), if any."""
        index = self.stage_index(stage_id)
        if index > 0 and self.stages[index - 1].is_repechage:
            return self.stages[index - 1]
        return None

    def next_regular(self, stage_id: str) -> Stage | None:
        """The regular stage after ``stage_id`` (a repechage's admitted teams join it)."""
        for stage in self.stages[self.stage_index(stage_id) + 1 :]:
            if not stage.is_repechage:
                return stage
        return None

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def stage_index(self, stage_id: str) -> int:
        return [stage.id for stage in self.stages].index(stage_id)

    def tie_break_for(self, stage: Stage) -> list[str]:
        rules = list(stage.tie_break or self.tie_break)
        if "draw" not in rules:
            rules.append("draw")  # a seeded draw always settles what nothing else did
        return rules

    def appeal_days_for(self, stage: Stage) -> int:
        return self.appeal_days if stage.appeal_days is None else stage.appeal_days

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def sha256(self) -> str:
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _check_rule(rule: str, stage: Stage, where: tuple[str | int, ...]) -> None:
    if rule in TIE_BREAK_FIXED:
        return
    kind, _, name = rule.partition(":")
    if kind == "criterion" and name in {c.id for c in stage.criteria}:
        return
    if kind == "group" and name in {c.group for c in stage.criteria if c.group}:
        return
    raise Located(
        f"stage '{stage.id}': unknown tie-break rule '{rule}' "
        "(use criterion:<id>, group:<name>, earliest_submission or draw)",
        *where,
    )


# --- loading with line numbers ----------------------------------------------------------------


def _describe(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _without_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the gate kind pydantic puts in a location inside a gate (``gates.0.threshold.min_value``)."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (part in GATE_KINDS and index >= 2 and loc[index - 2] == "gates" and isinstance(loc[index - 1], int))
    )


def load_spec(source: str | dict[str, Any], *, origin: str = "challenge YAML") -> ChallengeSpec:
    """Parse and validate a challenge spec from YAML text (or an already parsed dict)."""
    node: yaml.Node | None = None
    if isinstance(source, str):
        try:
            document = yamlcost.parse(source, "the challenge YAML")
            node, data = document.node, document.data
        except yamlcost.YamlCostError as error:
            where = f" line {error.line}" if error.line is not None else ""
            raise InvalidSpecError(f"{origin}{where}: {error.problem}") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise InvalidSpecError(f"{origin} is not valid YAML{where}: {error}") from error
    else:
        data = source
    if not isinstance(data, dict):
        raise InvalidSpecError(f"{origin} must be a mapping with `challenge`, `title` and `stages`")
    # Top-level keys starting with "x-" hold YAML anchors to reuse (criteria shared by stages).
    data = {key: value for key, value in data.items() if not str(key).startswith("x-")}
    try:
        return ChallengeSpec.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            message = str(item.get("msg", "")).removeprefix("Value error, ")
            cause = (item.get("ctx") or {}).get("error")
            loc = _without_tags((*item.get("loc", ()), *(cause.where if isinstance(cause, Located) else ())))
            line = yamlcost.line_of(node, loc)
            problems.append(f"{'line ' + str(line) + ': ' if line else ''}{_describe(loc)}: {message}")
        raise InvalidSpecError(
            f"{origin} has {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n  " + "\n  ".join(problems),
            extra={"problems": problems},
        ) from error


def load_spec_file(path: str | Path) -> ChallengeSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidSpecError(f"Cannot read {path}: {error.strerror}", hint="Check the path.") from error
    return load_spec(text, origin=str(path))


def example_path(name: str) -> Path:
    """A shipped example (``stage1`` or ``four-stage``) by name."""
    path = EXAMPLES_DIR / f"{name}.yaml"
    if not path.exists():
        names = ", ".join(sorted(p.stem for p in EXAMPLES_DIR.glob("*.yaml")))
        raise InvalidSpecError(f"No example '{name}'", hint=f"Shipped examples: {names}.")
    return path


def slug_ok(value: str) -> bool:
    return re.match(SLUG, value) is not None


# --- release plans ------------------------------------------------------------------------------

ASSET_KINDS = ("model", "dataset", "compressed", "agent", "kernel", "report")


class PlannedRepo(_Model):
    """One repo of a team's release plan: what it becomes when the team leaves."""

    repo: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
    repo_type: Literal["model", "dataset"] = "model"
    kind: Literal["model", "dataset", "compressed", "agent", "kernel", "report"]
    license: str = Field(min_length=1, max_length=64)
    embargo_until: str | None = None  # ISO date (or date-time); released no earlier than this
    access: Literal["public", "gated"] = "public"
    gated_mode: Literal["auto", "manual"] | None = None

    @field_validator("embargo_until")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            datetime.fromisoformat(value)
        except ValueError as error:
            raise ValueError(f"embargo_until '{value}' is not an ISO date such as 2026-03-01") from error
        return value

    @model_validator(mode="after")
    def _gated(self) -> PlannedRepo:
        if self.gated_mode is not None and self.access != "gated":
            raise ValueError(f"{self.repo}: gated_mode applies to gated access only")
        return self


class ReleasePlan(_Model):
    repos: list[PlannedRepo] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> ReleasePlan:
        keys = [(repo.repo_type, repo.repo) for repo in self.repos]
        if len(set(keys)) != len(keys):
            raise ValueError("a repo appears twice in the release plan")
        return self


def load_release_plan(plan: dict[str, Any] | None) -> ReleasePlan:
    """Validate a release plan; InvalidSpecError lists every problem."""
    try:
        return ReleasePlan.model_validate(plan or {"repos": []})
    except ValidationError as error:
        problems = [
            f"{_describe(tuple(item.get('loc', ())))}: {str(item.get('msg', '')).removeprefix('Value error, ')}"
            for item in error.errors()
        ]
        raise InvalidSpecError(
            "The release plan has problems: " + "; ".join(problems),
            hint="Each repo needs repo 'ns/name', kind (" + ", ".join(ASSET_KINDS) + "), license, and "
            "access public or gated; embargo_until is an ISO date.",
            code="InvalidReleasePlan",
        ) from error

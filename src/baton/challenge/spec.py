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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RubricItem(_Model):
    id: str = Field(pattern=SLUG)
    title: str = ""
    max: float = Field(default=10.0, gt=0)
    weight: float = Field(default=1.0, gt=0)


class Criterion(_Model):
    """One scored criterion of a stage; its value per team lies in [0, 1] and earns weight × value points."""

    id: str = Field(pattern=SLUG)
    title: str = ""
    title_ko: str = ""
    group: str | None = None  # for reports: e.g. the three benchmark criteria form "benchmarks"
    kind: Literal["benchmark", "review", "arena"]
    weight: float = Field(gt=0)
    normalization: Normalization = "raw"
    # benchmark
    tasks: list[str] = Field(default_factory=list)
    cap: float = Field(default=1.0, gt=0)  # ratio_to_target: ratios above this count as this
    # review
    rubric: list[RubricItem] = Field(default_factory=list)
    aggregation: Literal["trimmed_mean", "median", "mean"] = "trimmed_mean"
    trim: float = Field(default=0.2, ge=0, lt=0.5)
    min_reviewers: int = Field(default=1, ge=1)
    # arena
    max_votes_per_voter: int = Field(default=200, ge=1)
    bootstrap_rounds: int = Field(default=200, ge=10)
    exclude_contrarian: bool = True

    @model_validator(mode="after")
    def _kind_fields(self) -> Criterion:
        if self.kind == "benchmark" and not self.tasks:
            raise ValueError(f"benchmark criterion '{self.id}' lists no tasks (add `tasks: [task-id, ...]`)")
        if self.kind == "review" and not self.rubric:
            raise ValueError(f"review criterion '{self.id}' has no rubric (add `rubric: [{{id: ..., max: 10}}]`)")
        if self.normalization == "ratio_to_target" and self.kind != "benchmark":
            raise ValueError(f"criterion '{self.id}': ratio_to_target applies to benchmark criteria only")
        return self


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


class Stage(_Model):
    id: str = Field(pattern=SLUG)
    title: str = ""
    title_ko: str = ""
    opens: datetime | None = None
    deadline: datetime
    teams: int = Field(ge=1)  # how many teams compete in the stage
    advance: int = Field(ge=0)  # how many of them go on
    repechage: int = Field(default=0, ge=0)  # new teams admitted at this stage (패자부활)
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
        if self.advance > self.teams:
            problems.append(
                (
                    "advance",
                    f"advances {self.advance} teams but only {self.teams} compete in it; "
                    "`advance` must be at most `teams`",
                )
            )
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
            expected = previous.advance + stage.repechage
            if stage.teams != expected:
                raise Located(
                    f"stage '{stage.id}' expects {stage.teams} teams but '{previous.id}' advances {previous.advance}"
                    + (f" and {stage.repechage} are admitted by repechage" if stage.repechage else "")
                    + f" ({expected}); make them agree",
                    "stages",
                    index,
                    "teams",
                )
        for index, stage in enumerate(self.stages):
            where = ("stages", index, "tie_break") if stage.tie_break else ("tie_break",)
            for rule in stage.tie_break or self.tie_break:
                _check_rule(rule, stage, where)
        return self

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

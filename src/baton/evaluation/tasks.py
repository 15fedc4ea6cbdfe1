"""Tasks: versioned YAML configs, format loaders for the public Korean benchmarks, items and requests.

A task YAML names a *format* (how a data row becomes prompt fields: ``kmmlu``, ``kobest_copa``,
``click``, ``gsm8k``, ``generic`` ...), its data files per split (local paths relative to the YAML, or
files of a dataset repo in the hub), and the prompt, choices and target as ``{field}`` templates.
The built-in tasks under ``builtin/`` reproduce lm-evaluation-harness's Korean tasks (prompts,
choices, targets, few-shot sampling), so that Baton's numbers can be compared with the harness's.

Every string read from a data file is normalized to Unicode NFC. Bad input is refused while loading,
with the file, the line (or record) and the field named.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import json
import math
import random
import re
import string
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from baton.core import boundedjson, yamlcost
from baton.core.errors import BadRequestError, BatonError, NotFoundError, NotSupportedError
from baton.core.jsonlines import json_object_lines
from baton.evaluation import metrics
from baton.evaluation.types import Item, Request, Response

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

BUILTIN_DIR = Path(__file__).parent / "builtin"

OutputType = Literal["multiple_choice", "generate_until", "loglikelihood_rolling"]
FileFormat = Literal["csv", "tsv", "jsonl", "json"]
Row = dict[str, Any]


class TaskConfigError(BadRequestError):
    code = "InvalidTask"
    default_hint = "Fix the task YAML at the line named and retry (list the built-in tasks: baton eval tasks)."


class TaskDataError(BadRequestError):
    code = "InvalidTaskData"
    default_hint = "Fix the data file at the line and field named, or point the task at the right file."


class TaskNotFoundError(NotFoundError):
    code = "TaskNotFound"
    default_hint = "Pass a built-in task name or the path of a task YAML file (list the tasks: baton eval tasks)."


# --- the YAML schema ----------------------------------------------------------------------------


class DataFile(BaseModel):
    """One split's data file: a local path (relative to the YAML), or ``path`` inside the dataset repo ``hub``."""

    model_config = ConfigDict(extra="forbid")

    path: str
    hub: str | None = Field(default=None, description="namespace/name@revision of a dataset repo")
    file_format: FileFormat | None = Field(default=None, description="inferred from the extension if absent")


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


class TaskConfig(BaseModel):
    """A task YAML, validated. See ``builtin/*.yaml`` for examples."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str = ""
    format: str = "generic"
    output_type: OutputType
    data: dict[str, DataFile] = Field(default_factory=dict)
    test_split: str = "test"
    columns: dict[str, str] = Field(default_factory=dict, description="field name -> column name in the file")
    id_column: str | None = None
    num_fewshot: int = Field(default=0, ge=0, le=64)
    fewshot_split: str | None = None
    fewshot_sampler: Literal["random", "first_n"] = "random"
    fewshot_seed: int = 1234
    fewshot_match: str | None = Field(default=None, description="draw few-shot rows with the same value of this field")
    prompt: str
    choices: list[str] | str | None = None  # templates, or the name of a field holding a list
    target: str | None = None
    fewshot_target: str | None = None  # defaults to the target (the choice text for multiple choice)
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    until: list[str] = Field(default_factory=list)
    max_new_tokens: int = Field(default=256, ge=1)
    answer_extraction: Literal["none", "number"] = "none"
    metrics: list[str]
    group_by: str | None = None
    private: bool = False
    add_bos_token: bool | None = Field(
        default=None,
        description="start every encoding with the BOS token (true) or never (false); unset: the tokenizer's default",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # YAML reads `version: 1.0` as a float; keep what the author wrote.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("data", mode="before")
    @classmethod
    def _path_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {split: {"path": spec} if isinstance(spec, str) else spec for split, spec in value.items()}
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '.', '_' and '-' (at most 96), starting with a letter or digit")
        return value


# --- formats: how a row becomes prompt fields ---------------------------------------------------


@dataclass(frozen=True)
class Format:
    """A benchmark's row shape: the columns it needs and the fields it derives from them."""

    name: str
    required: tuple[str, ...]
    derived: tuple[str, ...] = ()
    prepare: Callable[[Row, str], Row] | None = None
    # Rows as another published edition writes them, rewritten to this shape before any check.
    normalize: Callable[[Row, str], Row] | None = None


def _as_int(row: Row, column: str, where: str) -> int:
    value = row[column]
    if isinstance(value, bool):
        raise TaskDataError(f"{where}: field '{column}' is {value!r}, not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.0+)?\s*", value):
        return int(float(value))
    raise TaskDataError(f"{where}: field '{column}' is {value!r}, not an integer")


def _prepare_kmmlu(row: Row, where: str) -> Row:
    answer = _as_int(row, "answer", where)
    if not 1 <= answer <= 4:
        raise TaskDataError(f"{where}: field 'answer' is {answer}, outside the choices (KMMLU answers are 1-4 for A-D)")
    # The harness strips the question (`question.strip()`) and targets `answer - 1`.
    return row | {"question": str(row["question"]).strip(), "answer_index": answer - 1}


_COPA_CONNECTORS = {"원인": "왜냐하면", "결과": "그래서"}


def _rename(row: Row, names: Mapping[str, str]) -> Row:
    """``row`` with the columns in ``names`` (published name -> field) renamed, unless the field exists."""
    renamed = dict(row)
    for published, field_name in names.items():
        if published in renamed and field_name not in renamed:
            renamed[field_name] = renamed.pop(published)
    return renamed


def _raw_copa(row: Row, where: str) -> Row:
    """KoBEST COPA as published in SKT's TSV files (``sentence``, ``question``, ``1``, ``2``, ``Answer`` 1 or 2)."""
    if "label" in row or "Answer" not in row:
        return row
    row = _rename(row, {"sentence": "premise", "1": "alternative_1", "2": "alternative_2"})
    answer = str(row.pop("Answer")).strip()
    if answer not in {"1", "2"}:
        raise TaskDataError(f"{where}: field 'Answer' is {answer!r}; the published KoBEST COPA answers are 1 or 2")
    return row | {"label": int(answer) - 1}


_BOOLEANS = {"true": 1, "false": 0, "1": 1, "0": 0}


def _raw_boolq(row: Row, where: str) -> Row:
    """KoBEST BoolQ as published in SKT's TSV files (``Text``, ``Question``, ``Answer`` True or False)."""
    row = _rename(row, {"Text": "paragraph", "Question": "question", "Answer": "label"})
    label = row.get("label")
    if isinstance(label, bool):
        return row | {"label": int(label)}
    if isinstance(label, str):
        value = _BOOLEANS.get(label.strip().lower())
        if value is None:
            raise TaskDataError(
                f"{where}: field 'label' is {label!r}; KoBEST BoolQ answers are 0/1 or True/False",
            )
        return row | {"label": value}
    return row


def _prepare_copa(row: Row, where: str) -> Row:
    relation = str(row["question"]).strip()
    if relation not in _COPA_CONNECTORS:
        raise TaskDataError(f"{where}: field 'question' is {relation!r}; KoBEST COPA expects '원인' or '결과'")
    return row | {"connector": _COPA_CONNECTORS[relation]}


def _prepare_hellaswag(row: Row, where: str) -> Row:
    return row | {"endings": [row[f"ending_{number}"] for number in range(1, 5)]}


_CLICK_WITH_CONTEXT = (
    "주어진 맥락을 천천히 읽고, 질문에 대한 적절한 정답을 A, B, C, D 중에 골라 알파벳 하나로 답하시오."
)
_CLICK_WITHOUT_CONTEXT = "주어진 질문을 천천히 읽고, 적절한 정답을 A, B, C, D 중에 골라 알파벳 하나로 답하시오."


def _id_number(parts: list[str], position: int) -> int | None:
    try:
        return int(parts[position])
    except (IndexError, ValueError):
        return None


def click_subtask(item_id: str, question: str) -> str:
    """The reference's CLIcK subtask of an item, from its id (and, for Kedu 16, its question).

    The harness splits CLIcK into 3 language subtasks (text, grammar, function) and 8 culture
    subtasks by id; an item its rules put in two subtasks (CSAT Korean 2022 items above 34: text and
    function) is counted here once, in the first of this order; one no rule takes is "unassigned".
    """
    parts = item_id.split("_")
    last = _id_number(parts, -1)
    year, number = _id_number(parts, 2), _id_number(parts, 3)
    lower = item_id.lower()
    dialogue = any(word in question for word in ("대화", "발화", "질의"))
    if (
        "CSAT_korean_22" in item_id
        or ("CSAT_korean_23" in item_id and last is not None and last < 35)
        or ("TK" in item_id and last is not None and last > 4)
    ):
        return "click_lang_text"
    csat_early = "CSAT_korean" in item_id and year is not None and year < 21
    if (
        (csat_early and number is not None and number > 10)
        or ("Kedu_1" in item_id and (_id_number(parts, 1) != 16 or not dialogue))
        or ("TK" in item_id and last is not None and last < 5)
    ):
        return "click_lang_grammar"
    if (
        (
            "CSAT_korean" in item_id
            and ((last is not None and last > 34) or (csat_early and number is not None and number < 11))
        )
        or ("Kedu_16" in item_id and dialogue)
        or "PSE_korean" in item_id
    ):
        return "click_lang_function"
    culture = (
        ("economy", ("economy",)),
        ("geography", ("geography",)),
        ("history", ("khb", "history")),
        ("kpop", ("popular",)),
        ("law", ("law", "psat")),
        ("politics", ("politics",)),
        ("society", ("society",)),
        ("tradition", ("tradition",)),
    )
    for name, markers in culture:
        if any(marker in lower for marker in markers):
            return f"click_cul_{name}"
    return "unassigned"


def _prepare_click(row: Row, where: str) -> Row:
    options = row["choices"]
    if isinstance(options, str):  # a CSV/TSV cell holding a JSON list
        try:
            options = boundedjson.loads(options)
        except json.JSONDecodeError as error:
            raise TaskDataError(f"{where}: field 'choices' is not a JSON list ({error.msg})") from None
        except ValueError as error:  # nested too deep, or a number too long to read
            raise TaskDataError(f"{where}: field 'choices' is not a JSON list of strings ({error})") from None
    if not isinstance(options, list) or not all(isinstance(option, str) for option in options):
        raise TaskDataError(f"{where}: field 'choices' must be a list of strings")
    # The harness offers A-E when the id names a CSAT item, A-D otherwise, and shows four options.
    letters = ["A", "B", "C", "D", "E"] if "CSAT" in str(row["id"]) else ["A", "B", "C", "D"]
    if len(options) < len(letters):
        raise TaskDataError(f"{where}: field 'choices' has {len(options)} options; this item needs {len(letters)}")
    answer = row["answer"]
    if answer not in options[: len(letters)]:
        raise TaskDataError(f"{where}: field 'answer' {answer!r} is not one of the choices {options[: len(letters)]}")
    paragraph = row.get("paragraph")
    return row | {
        "choices": options,
        "instruction": _CLICK_WITH_CONTEXT if paragraph else _CLICK_WITHOUT_CONTEXT,
        "context_line": f"맥락: {paragraph}\n" if paragraph else "",
        "option_a": options[0],
        "option_b": options[1],
        "option_c": options[2],
        "option_d": options[3],
        "letters": letters,
        "answer_letter": letters[options.index(answer)],
        "subtask": click_subtask(str(row["id"]), str(row["question"])),
    }


def _prepare_haerae(row: Row, where: str) -> Row:
    answer = str(row["answer"]).strip()
    if answer in {"A", "B", "C", "D", "E"}:  # a bare letter means the same choice as "(A)"
        answer = f"({answer})"
    return row | {"answer": answer}


def _prepare_gsm8k(row: Row, where: str) -> Row:
    answer = str(row["answer"])
    final = metrics.extract_number_answer(answer)
    number = metrics.parse_number(final)
    if number is None:
        raise TaskDataError(f"{where}: field 'answer' has no final '#### N' number")
    return row | {"answer_number": final.replace(",", "") if final else ""}


FORMATS: dict[str, Format] = {
    entry.name: entry
    for entry in (
        Format("generic", ()),
        Format("kmmlu", ("question", "A", "B", "C", "D", "answer"), ("answer_index",), _prepare_kmmlu),
        Format("kobest_boolq", ("paragraph", "question", "label"), normalize=_raw_boolq),
        Format(
            "kobest_copa",
            ("premise", "question", "alternative_1", "alternative_2", "label"),
            ("connector",),
            _prepare_copa,
            normalize=_raw_copa,
        ),
        Format(
            "kobest_hellaswag",
            ("context", "ending_1", "ending_2", "ending_3", "ending_4", "label"),
            ("endings",),
            _prepare_hellaswag,
        ),
        Format("kobest_sentineg", ("sentence", "label")),
        Format("kobest_wic", ("word", "context_1", "context_2", "label")),
        Format(
            "click",
            ("id", "question", "choices", "answer"),
            (
                "instruction",
                "context_line",
                "option_a",
                "option_b",
                "option_c",
                "option_d",
                "letters",
                "answer_letter",
                "paragraph",
                "subtask",
            ),
            _prepare_click,
        ),
        Format("haerae", ("query", "answer"), (), _prepare_haerae),
        Format("gsm8k", ("question", "answer"), ("answer_number",), _prepare_gsm8k),
    )
}


# --- templates ----------------------------------------------------------------------------------

_FORMATTER = string.Formatter()


def template_fields(template: str) -> list[str]:
    """Field names a ``{field}`` template uses; attribute and index access are refused."""
    names = []
    for _literal, name, _spec, _conversion in _FORMATTER.parse(template):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"'{{{name}}}' is not a plain field name (write {{column}}, no '.', '[' or positions)")
        names.append(name)
    return names


def render(template: str, fields: Mapping[str, Any], where: str) -> str:
    try:
        return template.format_map(fields)
    except KeyError as error:
        raise TaskDataError(f"{where}: missing column {error.args[0]!r} used by a template") from None


# --- reading files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRow:
    location: str  # "test.csv line 3" or "click.json record 2", for messages
    values: Row


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_nfc(element) for element in value]
    if isinstance(value, dict):
        return {_nfc(key): _nfc(element) for key, element in value.items()}
    return value


def _infer_format(path: str) -> FileFormat | None:
    suffix = path.lower().rsplit(".", 1)[-1] if "." in path else ""
    return {"csv": "csv", "tsv": "tsv", "jsonl": "jsonl", "json": "json"}.get(suffix)  # type: ignore[return-value]


def parse_rows(content: bytes, file_format: FileFormat, label: str) -> list[SourceRow]:
    """Rows of a CSV/TSV (with a header), JSON Lines or JSON (a list of objects) file, NFC-normalized."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad_line = content[: error.start].count(b"\n") + 1
        raise TaskDataError(f"{label} line {bad_line}: not UTF-8 text") from None
    rows: list[SourceRow] = []
    if file_format in ("csv", "tsv"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="," if file_format == "csv" else "\t")
        try:
            header = next(reader, None)
            if header is None:
                raise TaskDataError(f"{label}: the file is empty (a header line is needed)")
            header = [_nfc(name.strip()) for name in header]
            start = reader.line_num + 1
            for cells in reader:
                if not cells:
                    start = reader.line_num + 1
                    continue
                if len(cells) != len(header):
                    raise TaskDataError(f"{label} line {start}: {len(cells)} cells where the header has {len(header)}")
                values = {key: _nfc(value) for key, value in zip(header, cells, strict=True)}
                rows.append(SourceRow(f"{label} line {start}", values))
                start = reader.line_num + 1
        except csv.Error as error:
            raise TaskDataError(f"{label} line {reader.line_num}: {error}") from None
    elif file_format == "jsonl":
        for number, record in json_object_lines(text.splitlines(), lambda n: f"{label} line {n}", TaskDataError):
            rows.append(SourceRow(f"{label} line {number}", _nfc(record)))
    else:
        try:
            document = boundedjson.loads(text)
        except json.JSONDecodeError as error:
            raise TaskDataError(f"{label} line {error.lineno}: not JSON ({error.msg})") from None
        except ValueError as error:  # nested too deep, or a number too long to read
            raise TaskDataError(f"{label}: not readable as JSON ({error})") from None
        if isinstance(document, dict) and isinstance(document.get("data"), list):
            document = document["data"]
        if not isinstance(document, list):
            raise TaskDataError(f'{label}: expected a JSON list of objects (or {{"data": [...]}})')
        for number, record in enumerate(document, start=1):
            if not isinstance(record, dict):
                raise TaskDataError(f"{label} record {number}: expected a JSON object, found {type(record).__name__}")
            rows.append(SourceRow(f"{label} record {number}", _nfc(record)))
    return rows


# --- YAML with line numbers ---------------------------------------------------------------------


def _yaml_error(error: yaml.YAMLError, label: str) -> TaskConfigError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"{label} line {mark.line + 1}, column {mark.column + 1}" if mark is not None else label
    problem = getattr(error, "problem", None) or str(error)
    return TaskConfigError(f"{where}: malformed YAML ({problem})")


def parse_task_yaml(text: str, label: str) -> TaskConfig:
    """Validate a task YAML; errors name the file, the line and the field."""
    try:
        document = yamlcost.parse(text, "the task YAML")
        raw = document.data
    except yamlcost.YamlCostError as error:
        where = f"{label} line {error.line}" if error.line is not None else label
        raise TaskConfigError(f"{where}: {error.problem}") from None
    except yaml.YAMLError as error:
        raise _yaml_error(error, label) from None
    if not isinstance(raw, dict):
        raise TaskConfigError(f"{label}: a task YAML is a mapping (name: ..., version: ..., ...)")
    try:
        config = TaskConfig.model_validate(raw)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            location = detail["loc"]
            dotted = ".".join(str(part) for part in location) or "(top level)"
            line = document.line_of(location)
            problems.append(f"{label} line {line}: field '{dotted}': {detail['msg']}")
        raise TaskConfigError("; ".join(problems)) from None
    _check_config(config, label, lambda *location: document.line_of(location))
    return config


def _check_config(config: TaskConfig, label: str, line_of: Callable[..., int | None]) -> None:
    def fail(message: str, *location: str) -> TaskConfigError:
        return TaskConfigError(f"{label} line {line_of(*location)}: {message}")

    if config.format not in FORMATS:
        raise fail(f"field 'format': unknown format '{config.format}'; known: {', '.join(sorted(FORMATS))}", "format")
    for name in config.metrics:
        metric = metrics.METRICS.get(name)
        if metric is None:
            close = difflib.get_close_matches(name, metrics.METRICS, n=1)
            suggestion = f" (did you mean '{close[0]}'?)" if close else ""
            raise fail(f"field 'metrics': unknown metric '{name}'{suggestion}", "metrics")
        if config.output_type not in metric.output_types:
            raise fail(f"field 'metrics': '{name}' does not apply to output_type {config.output_type}", "metrics")
    if config.output_type == "multiple_choice" and not config.choices:
        raise fail("field 'choices' is required for output_type multiple_choice", "output_type")
    if config.output_type != "loglikelihood_rolling" and config.target is None:
        raise fail(f"field 'target' is required for output_type {config.output_type}", "output_type")
    if config.num_fewshot > 0:
        if config.output_type == "loglikelihood_rolling":
            raise fail("field 'num_fewshot': rolling log-likelihood tasks take no few-shot examples", "num_fewshot")
        if config.fewshot_split is None:
            raise fail("field 'fewshot_split' is required when num_fewshot > 0", "num_fewshot")
    templates = {"prompt": config.prompt, "target": config.target, "fewshot_target": config.fewshot_target}
    for key, template in templates.items():
        if template is not None:
            try:
                template_fields(template)
            except ValueError as error:
                raise fail(f"field '{key}': {error}", key) from None
    if isinstance(config.choices, list):
        for index, template in enumerate(config.choices):
            try:
                template_fields(template)
            except ValueError as error:
                raise fail(f"field 'choices.{index}': {error}", "choices") from None
    elif isinstance(config.choices, str) and not config.choices.isidentifier():
        raise fail("field 'choices': give a list of templates, or the name of a field holding a list", "choices")


# --- tasks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemScore:
    """One item's outcome: the prediction, whether it is right, and each metric's per-item input."""

    item_id: str
    group: str | None
    prediction: int | str | None
    correct: bool | None
    values: dict[str, Any]  # metric name -> float, or a (gold, prediction) / (log-likelihood, count) pair
    loglikelihoods: tuple[float, ...] | None = None
    text: str | None = None


@dataclass
class Task:
    """A loaded task: its config, where its data came from, and its rows per split."""

    config: TaskConfig
    source: str  # the YAML path or "builtin:<name>"
    base_dir: Path | None
    runtime: Runtime | None = None
    _rows: dict[str, list[SourceRow]] = field(default_factory=dict, repr=False)
    data_hashes: dict[str, str] = field(default_factory=dict)  # split -> sha256 of the file's bytes
    data_sources: dict[str, str] = field(default_factory=dict)  # split -> path, or hub id@commit:path

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def version(self) -> str:
        return self.config.version

    @property
    def output_type(self) -> OutputType:
        return self.config.output_type

    @property
    def private(self) -> bool:
        return self.config.private

    @cached_property
    def format(self) -> Format:
        return FORMATS[self.config.format]

    @property
    def config_hash(self) -> str:
        return hashlib.sha256(self.config.model_dump_json().encode()).hexdigest()

    @property
    def data_hash(self) -> str:
        """One hash over the splits used (name and content hash of each)."""
        digest = hashlib.sha256()
        for split in sorted(self.data_hashes):
            digest.update(f"{split}\0{self.data_hashes[split]}\n".encode())
        return digest.hexdigest()

    def backend_settings(self) -> dict[str, Any]:
        """Settings the task asks of the backend (an explicit backend option wins over them)."""
        return {} if self.config.add_bos_token is None else {"add_bos_token": self.config.add_bos_token}

    def describe(self) -> dict[str, Any]:
        """What a run manifest records about the task."""
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "output_type": self.output_type,
            "num_fewshot": self.config.num_fewshot,
            "config_sha256": self.config_hash,
            "data_sha256": self.data_hash,
            "data": {
                split: {"source": self.data_sources[split], "sha256": self.data_hashes[split]}
                for split in sorted(self.data_hashes)
            },
            "private": self.private,
        }

    # -- data --

    def _load_split(self, split: str) -> list[SourceRow]:
        if split in self._rows:
            return self._rows[split]
        spec = self.config.data.get(split)
        if spec is None:
            splits = ", ".join(sorted(self.config.data)) or "none"
            raise TaskConfigError(
                f"{self.source}: task '{self.name}' has no data file for split '{split}' (splits given: {splits})",
                hint="Add it under 'data:' in the YAML, or pass the file (e.g. --data test=path/to/test.csv).",
            )
        file_format = spec.file_format or _infer_format(spec.path)
        if file_format is None:
            raise TaskConfigError(
                f"{self.source}: field 'data.{split}.file_format': cannot tell the format of '{spec.path}'; "
                "set file_format to csv, tsv, jsonl or json"
            )
        if spec.hub is not None:
            content, origin = self._read_hub(split, spec)
        else:
            content, origin = self._read_local(split, spec)
        label = Path(spec.path).name if spec.hub is None else origin
        rows = [self._prepare(row, label) for row in parse_rows(content, file_format, label)]
        self.data_hashes[split] = hashlib.sha256(content).hexdigest()
        self.data_sources[split] = origin
        self._rows[split] = rows
        return rows

    def _read_local(self, split: str, spec: DataFile) -> tuple[bytes, str]:
        path = Path(spec.path)
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        if not path.is_file():
            raise TaskDataError(
                f"{self.source}: data file for split '{split}' not found: {path}",
                hint="Check 'data:' in the task YAML (paths are relative to the YAML file).",
            )
        return path.read_bytes(), str(path)

    def _read_hub(self, split: str, spec: DataFile) -> tuple[bytes, str]:
        assert spec.hub is not None
        if self.runtime is None:
            raise NotSupportedError(
                f"{self.source}: split '{split}' is read from the hub dataset repo {spec.hub}, "
                "which needs a Baton runtime",
                hint="Run it through a Baton server or worker (load_task(..., runtime=runtime)), "
                "or pass a local copy of the file (e.g. --data test=path/to/test.csv).",
            )
        from baton.hub import commits, repos

        repo_id, _, revision = spec.hub.partition("@")
        where = f"{self.source}: split '{split}' (hub dataset {spec.hub}, file {spec.path})"
        try:
            key = repos.parse_repo_id("dataset", repo_id)
            with self.runtime.database.session() as session:
                repo = repos.find_repo(session, key)
                if repo is None:
                    raise TaskDataError(f"{where}: no dataset repo named {repo_id}")
                commit = commits.resolve_revision(session, repo, revision or None)
                entry = commits.get_entry(session, commit, spec.path)
                sha256, oid = entry.sha256, commit.oid
        except TaskDataError:
            raise
        except BatonError as error:
            raise TaskDataError(f"{where}: {error.message}", hint=error.hint) from None
        content = b"".join(self.runtime.store.open_range(sha256))
        return content, f"hub:{repo_id}@{oid}/{spec.path}"

    def _prepare(self, source: SourceRow, label: str) -> SourceRow:
        """Rename columns, check the ones the format and templates need, derive the format's fields."""
        row = dict(source.values)
        for name, column in self.config.columns.items():
            if column in row:
                row[name] = row.pop(column)
        if self.format.normalize is not None:
            row = self.format.normalize(row, source.location)
        needed = list(self.format.required)
        for template in self._templates():
            needed += [name for name in template_fields(template) if name not in self.format.derived]
        if self.config.group_by and self.config.group_by not in self.format.derived:
            needed.append(self.config.group_by)
        if self.config.fewshot_match:
            needed.append(self.config.fewshot_match)
        if isinstance(self.config.choices, str) and self.config.choices not in self.format.derived:
            needed.append(self.config.choices)
        for name in dict.fromkeys(needed):
            if name not in row:
                column = self.config.columns.get(name, name)
                renamed = f" (mapped to field '{name}' by `columns:`)" if column != name else ""
                found = ", ".join(repr(key) for key in source.values) or "none"
                raise TaskDataError(f"{source.location}: missing column '{column}'{renamed}; columns found: {found}")
        if self.format.prepare is not None:
            row = self.format.prepare(row, source.location)
        return SourceRow(source.location, row)

    def _templates(self) -> list[str]:
        templates = [self.config.prompt]
        for template in (self.config.target, self.config.fewshot_target):
            if template is not None:
                templates.append(template)
        if isinstance(self.config.choices, list):
            templates += self.config.choices
        return templates

    # -- items --

    def _choice_texts(self, row: SourceRow) -> list[str]:
        spec = self.config.choices
        if spec is None:
            return []
        if isinstance(spec, str):
            value = row.values.get(spec)
            if not isinstance(value, list) or not value:
                raise TaskDataError(f"{row.location}: field '{spec}' must be a non-empty list of choices")
            return [str(choice) for choice in value]
        return [render(template, row.values, row.location) for template in spec]

    def _answer(self, row: SourceRow, choices: list[str]) -> int | str | None:
        if self.config.target is None:
            return None
        target = render(self.config.target, row.values, row.location)
        if self.output_type != "multiple_choice":
            return target
        # As the harness does: a target made of digits is an index, anything else must be a choice.
        stripped = target.strip()
        if stripped.isdigit():
            index = int(stripped)
            if index >= len(choices):
                raise TaskDataError(f"{row.location}: answer {index} is outside the {len(choices)} choices {choices}")
            return index
        if target in choices:
            return choices.index(target)
        raise TaskDataError(f"{row.location}: answer {target!r} is not one of the choices {choices}")

    def _example(self, row: SourceRow) -> str:
        """One solved few-shot example: prompt, delimiter, answer, few-shot delimiter."""
        prompt = render(self.config.prompt, row.values, row.location)
        if self.config.fewshot_target is not None:
            answer = render(self.config.fewshot_target, row.values, row.location)
        elif self.output_type == "multiple_choice":
            choices = self._choice_texts(row)
            index = self._answer(row, choices)
            assert isinstance(index, int)
            answer = choices[index]
        else:
            answer = str(self._answer(row, []))
        return prompt + self.config.target_delimiter + answer + self.config.fewshot_delimiter

    def _fewshot_rows(self, rows: list[SourceRow]) -> list[list[SourceRow]]:
        """Few-shot examples for each test row, in test order.

        ``random`` reproduces the harness: one ``random.Random(seed)`` per task (per ``fewshot_match``
        value, the harness's per-subject tasks), drawing ``sample(pool, n)`` for each item in order;
        when the pool is the test split, n + 1 are drawn and the item itself is removed.
        ``first_n`` takes the pool's first n rows (the item itself excluded).
        """
        count = self.config.num_fewshot
        if count == 0 or self.config.fewshot_split is None:
            return [[] for _ in rows]
        pool_rows = self._load_split(self.config.fewshot_split)
        same_split = self.config.fewshot_split == self.config.test_split
        match = self.config.fewshot_match
        pools: dict[Any, list[SourceRow]] = {}
        for candidate in pool_rows:
            pools.setdefault(candidate.values.get(match) if match else None, []).append(candidate)
        generators: dict[Any, random.Random] = {}
        chosen = []
        for row in rows:
            key = row.values.get(match) if match else None
            pool = pools.get(key, [])
            available = len([c for c in pool if c.values != row.values]) if same_split else len(pool)
            if available < count:
                what = f" with {match} = {key!r}" if match else ""
                raise TaskDataError(
                    f"{row.location}: {count} few-shot examples needed but split "
                    f"'{self.config.fewshot_split}' has {available}{what}"
                )
            if self.config.fewshot_sampler == "first_n":
                picked = [c for c in pool if not (same_split and c.values == row.values)][:count]
            else:
                generator = generators.setdefault(key, random.Random(self.config.fewshot_seed))
                if same_split:
                    drawn = generator.sample(pool, min(count + 1, len(pool)))
                    picked = [c for c in drawn if c.values != row.values][:count]
                    if len(picked) < count:
                        picked = generator.sample([c for c in pool if c.values != row.values], count)
                else:
                    picked = generator.sample(pool, count)
            chosen.append(picked)
        return chosen

    def items(self, limit: int | None = None) -> list[Item]:
        """The test items in file order (the first ``limit`` ones), few-shot examples already prepended.

        Few-shot choices do not depend on ``limit``: the first N items are the same with or without it.
        """
        rows = self._load_split(self.config.test_split)
        if limit is not None:
            rows = rows[: max(limit, 0)]
        fewshots = self._fewshot_rows(rows)
        items = []
        seen: set[str] = set()
        for index, (row, examples) in enumerate(zip(rows, fewshots, strict=True)):
            item_id = str(row.values[self.config.id_column]) if self.config.id_column else str(index)
            if item_id in seen:
                raise TaskDataError(f"{row.location}: item id {item_id!r} (column '{self.config.id_column}') repeats")
            seen.add(item_id)
            items.append(self._item(item_id, row, examples))
        return items

    def _item(self, item_id: str, row: SourceRow, examples: list[SourceRow]) -> Item:
        prompt = render(self.config.prompt, row.values, row.location)
        group = str(row.values[self.config.group_by]) if self.config.group_by else None
        metadata: dict[str, Any] = {"location": row.location}
        if self.output_type == "loglikelihood_rolling":
            metadata |= {"words": metrics.count_words(prompt), "bytes": metrics.count_bytes(prompt)}
            return Item(item_id=item_id, prompt=prompt, group=group, metadata=metadata)
        choices = self._choice_texts(row)
        answer = self._answer(row, choices)
        prefix = "".join(self._example(example) for example in examples)
        if examples:
            metadata["fewshot"] = [example.location for example in examples]
        metadata["choice_texts"] = choices
        return Item(
            item_id=item_id,
            prompt=prefix + prompt,
            choices=tuple(self.config.target_delimiter + choice for choice in choices),
            answer=answer,
            group=group,
            metadata=metadata,
        )

    # -- requests and scoring --

    def requests(self, item: Item, *, by_generation: bool = False) -> list[Request]:
        """What to ask a backend for one item.

        Multiple choice: one log-likelihood per choice (the continuation carries the delimiter), or,
        ``by_generation``, one generation whose answer is read back as a choice (for models without
        log-likelihoods). Generation: one request with the task's stop sequences. Rolling: the text.
        """
        if self.output_type == "loglikelihood_rolling":
            return [Request(kind="loglikelihood_rolling", context=item.prompt)]
        if self.output_type == "generate_until":
            return [
                Request(
                    kind="generate",
                    context=item.prompt,
                    until=tuple(self.config.until),
                    max_new_tokens=self.config.max_new_tokens,
                )
            ]
        if by_generation:
            return [Request(kind="generate", context=item.prompt, until=("\n",), max_new_tokens=16)]
        return [Request(kind="loglikelihood", context=item.prompt, continuation=choice) for choice in item.choices]

    def score(self, item: Item, responses: Sequence[Response], *, by_generation: bool = False) -> ItemScore:
        """Per-item outcome and each metric's per-item input (see :func:`aggregate`)."""
        expected = len(self.requests(item, by_generation=by_generation))
        if len(responses) != expected:
            raise ValueError(f"item {item.item_id}: {len(responses)} responses for {expected} requests")
        if self.output_type == "loglikelihood_rolling":
            loglikelihood = _number(responses[0].loglikelihood, item)
            values: dict[str, Any] = {
                "word_perplexity": (loglikelihood, item.metadata["words"]),
                "byte_perplexity": (loglikelihood, item.metadata["bytes"]),
                "bits_per_byte": (loglikelihood, item.metadata["bytes"]),
            }
            if responses[0].token_count is not None:
                values["token_perplexity"] = (loglikelihood, responses[0].token_count)
            return ItemScore(item.item_id, item.group, None, None, self._only_configured(values), (loglikelihood,))
        if self.output_type == "generate_until":
            text = responses[0].text or ""
            assert isinstance(item.answer, str)
            correct = metrics.exact_match(text, item.answer, extraction=self.config.answer_extraction)
            prediction = metrics.extract_number_answer(text) if self.config.answer_extraction == "number" else text
            values = {"exact_match": float(correct)}
            return ItemScore(item.item_id, item.group, prediction, correct, self._only_configured(values), text=text)
        choice_texts: list[str] = item.metadata["choice_texts"]
        gold = item.answer
        assert isinstance(gold, int)
        if by_generation:
            text = responses[0].text or ""
            picked = metrics.extract_choice(text, choice_texts)
            # An answer that names no choice counts as wrong, and as its own class for F1.
            label = picked if picked is not None else -1
            values = {name: float(picked == gold) for name in ("acc", "acc_norm", "acc_bytes")}
            values["f1"] = (float(gold), float(label))
            return ItemScore(item.item_id, item.group, picked, picked == gold, self._only_configured(values), text=text)
        loglikelihoods = tuple(_number(response.loglikelihood, item) for response in responses)
        predictions = metrics.multiple_choice_predictions(loglikelihoods, choice_texts)
        values = {name: float(predictions[name] == gold) for name in ("acc", "acc_norm", "acc_bytes")}
        values["f1"] = (float(gold), float(predictions["acc"]))
        return ItemScore(
            item.item_id,
            item.group,
            predictions["acc"],
            predictions["acc"] == gold,
            self._only_configured(values),
            loglikelihoods,
        )

    def _only_configured(self, values: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in values.items() if name in self.config.metrics}

    def aggregate(
        self,
        scores: Sequence[ItemScore],
        *,
        seed: int = metrics.DEFAULT_BOOTSTRAP_SEED,
        iterations: int = metrics.DEFAULT_BOOTSTRAP_ITERATIONS,
    ) -> dict[str, metrics.MetricSummary]:
        """Each configured metric over the scored items, with groups when the task has ``group_by``."""
        groups = [score.group for score in scores] if self.config.group_by else None
        summaries = {}
        for name in self.config.metrics:
            inputs = [score.values[name] for score in scores if name in score.values]
            if len(inputs) != len(scores):
                continue  # e.g. token_perplexity when the backend reported no token counts
            summaries[name] = metrics.summarize(name, inputs, groups, seed=seed, iterations=iterations)
        return summaries


def _number(value: float | None, item: Item) -> float:
    if value is None or math.isnan(value):
        raise ValueError(f"item {item.item_id}: the backend returned no log-likelihood")
    return float(value)


# --- loading and the built-in registry ----------------------------------------------------------


def builtin_tasks() -> dict[str, Path]:
    """Built-in task names and their YAML files (registered the same way as a user's task files)."""
    return {path.stem: path for path in sorted(BUILTIN_DIR.glob("*.yaml"))}


def load_task(
    path_or_name: str | Path,
    *,
    data: Mapping[str, str | Path] | None = None,
    num_fewshot: int | None = None,
    runtime: Runtime | None = None,
) -> Task:
    """A task from a YAML file or a built-in name.

    ``data`` replaces the data files of the given splits with local files (relative to the working
    directory); ``num_fewshot`` overrides the YAML's; ``runtime`` lets the task read hub dataset repos.
    Data files are read when items are first asked for, and validated whole then.
    """
    candidate = Path(path_or_name)
    text_name = str(path_or_name)
    builtins = builtin_tasks()
    if candidate.suffix in {".yaml", ".yml"} or candidate.is_file():
        if not candidate.is_file():
            raise TaskNotFoundError(f"task file not found: {candidate}")
        path = candidate
        source = str(candidate)
    elif text_name in builtins:
        path = builtins[text_name]
        source = f"builtin:{text_name}"
    else:
        close = difflib.get_close_matches(text_name, builtins, n=3)
        suggestion = f"; did you mean {', '.join(close)}?" if close else ""
        raise TaskNotFoundError(f"no built-in task or task file named '{text_name}'{suggestion}")
    label = source if source.startswith("builtin:") else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TaskConfigError(f"{label}: not UTF-8 text") from None
    config = parse_task_yaml(text, label)
    updates: dict[str, Any] = {}
    if data:
        merged = dict(config.data)
        for split, local in data.items():
            merged[split] = DataFile(path=str(Path(local).resolve()))
        updates["data"] = merged
    if num_fewshot is not None:
        if num_fewshot < 0:
            raise TaskConfigError(f"num_fewshot must be 0 or more, not {num_fewshot}")
        updates["num_fewshot"] = num_fewshot
    if updates:
        config = config.model_copy(update=updates)
        if config.num_fewshot > 0 and config.fewshot_split is None:
            raise TaskConfigError(f"{label}: task '{config.name}' names no fewshot_split, so it takes no few-shot")
    return Task(config=config, source=source, base_dir=path.parent, runtime=runtime)


def task_from_yaml(text: str, *, label: str = "inline task", runtime: Runtime | None = None) -> Task:
    """A task from YAML text (a task submitted over HTTP): its data must come from hub dataset repos."""
    config = parse_task_yaml(text, label)
    local = sorted(split for split, spec in config.data.items() if spec.hub is None)
    if local:
        raise TaskConfigError(
            f"{label}: splits {', '.join(local)} point at local files, which a server-side run cannot read",
            hint="Load the data into a dataset repo (baton eval load-data --help) and point data: at it "
            "({split: {hub: namespace/name@revision, path: file}}).",
        )
    return Task(config=config, source=label, base_dir=None, runtime=runtime)

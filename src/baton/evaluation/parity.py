"""Baton against EleutherAI's lm-evaluation-harness on the same model and the same local files.

``harness_task_yaml`` writes, for a Baton built-in task, a harness task YAML that *includes the
harness's own task definition* (its prompt, choices, target and metric code, from the installed
``lm_eval`` package) and only points its dataset at the local files Baton reads, so the two sides
share nothing but the model and the data. ``run_harness`` runs the harness's ``hf`` model on them
and returns per-document results; ``compare`` lines them up with a Baton run's per-item records.

``write_sample_data`` makes small KMMLU-, KoBEST-COPA- and CLIcK-shaped files (distinct, seeded
items) for the parity test and the speed benchmark. The harness (``lm_eval``) is an optional
dependency, imported only here and only when called.
"""

from __future__ import annotations

import csv
import importlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton.core.errors import ConfigurationError, NotSupportedError

PARITY_TOLERANCE = 1e-4


@dataclass(frozen=True)
class HarnessTask:
    """How one Baton built-in task maps onto the harness: the included YAML and the split its docs come from."""

    include: str  # path inside the lm_eval package
    dataset_path: str  # the `datasets` builder for the local file: csv or json
    splits: Mapping[str, str]  # harness split -> Baton split whose file it reads
    overrides: Mapping[str, Any] = field(default_factory=dict)


HARNESS_TASKS: dict[str, HarnessTask] = {
    "kmmlu": HarnessTask("tasks/kmmlu/default/_default_kmmlu_yaml", "csv", {"test": "test", "dev": "dev"}),
    # The harness's KoBEST macro-F1 is its own code (scikit-learn's f1_score), computed offline.
    "kobest_copa": HarnessTask(
        "tasks/kobest/kobest_copa.yaml",
        "json",
        {"test": "test"},
        {"dataset_name": None, "training_split": None, "validation_split": None},
    ),
    "kobest_boolq": HarnessTask(
        "tasks/kobest/kobest_boolq.yaml",
        "json",
        {"test": "test"},
        {"dataset_name": None, "training_split": None, "validation_split": None},
    ),
    "click": HarnessTask("tasks/click/click_lang/_default_click_lang_yaml", "json", {"train": "test"}),
    "haerae": HarnessTask("tasks/haerae/_default_haerae_yaml", "json", {"test": "test"}),
    # The harness has no Korean GSM8K: its own gsm8k task (its target, exact_match metric with its
    # regexes_to_ignore, and its strict-match / flexible-extract regex filters) with Baton's Korean
    # prompt, stop strings, budget and 5-shot from the train split. Baton reads "#### N", else the
    # last number: the harness's strict-match where it finds "#### N", else its flexible-extract.
    "ko_gsm8k": HarnessTask(
        "tasks/gsm8k/gsm8k.yaml",
        "json",
        {"test": "test", "train": "train"},
        {
            "dataset_name": None,
            "tag": [],
            "doc_to_text": "질문: {{question}}\n답변:",
            "num_fewshot": 5,
            "fewshot_split": "train",
            "generation_kwargs": {"until": ["\n\n", "질문:"], "do_sample": False, "max_gen_toks": 256},
        },
    ),
}

STRICT_FILTER, FLEXIBLE_FILTER = "strict-match", "flexible-extract"  # the harness gsm8k's filter names


def _lm_eval_root() -> Path:
    try:
        lm_eval: Any = importlib.import_module("lm_eval")
    except ImportError as error:
        raise ConfigurationError(
            "lm-evaluation-harness (lm_eval) is not installed",
            hint="pip install 'lm_eval==0.4.13' (it is in Baton's dev extra).",
        ) from error
    return Path(lm_eval.__file__).parent


def harness_task_yaml(task: str, files: Mapping[str, Path], *, name: str | None = None) -> str:
    """A harness task YAML for Baton's built-in ``task`` over local ``files`` (Baton split -> path)."""
    spec = HARNESS_TASKS.get(task)
    if spec is None:
        raise NotSupportedError(
            f"No harness mapping for task {task!r}", hint=f"Parity runs cover: {', '.join(sorted(HARNESS_TASKS))}."
        )
    include = _lm_eval_root() / spec.include
    data_files = {split: str(Path(files[source]).resolve()) for split, source in spec.splits.items() if source in files}
    document: dict[str, Any] = {
        "include": str(include),
        "task": name or f"baton_parity_{task}",
        "dataset_path": spec.dataset_path,
        "dataset_kwargs": {"data_files": data_files},
    }
    document |= dict(spec.overrides)
    return json.dumps(document, ensure_ascii=False, indent=1)  # JSON is YAML


@dataclass(frozen=True)
class HarnessDoc:
    doc_id: int
    loglikelihoods: list[float]
    is_greedy: list[bool]
    target: int
    acc: float
    acc_norm: float | None


def _evaluate(
    model: str,
    model_args: Mapping[str, Any],
    tasks: Mapping[str, str],
    folder: Path,
    *,
    batch_size: int,
    limit: int | None,
    device: str | None,
) -> Any:
    """The harness's ``simple_evaluate`` on task YAMLs written into ``folder``, samples logged."""
    _lm_eval_root()
    lm_eval: Any = importlib.import_module("lm_eval")
    task_manager: Any = importlib.import_module("lm_eval.tasks").TaskManager

    folder.mkdir(parents=True, exist_ok=True)
    for task_name, text in tasks.items():
        (folder / f"{task_name}.yaml").write_text(text, encoding="utf-8")
    manager = task_manager(include_path=str(folder), include_defaults=False)
    return lm_eval.simple_evaluate(
        model=model,
        model_args=dict(model_args),
        tasks=list(tasks),
        batch_size=batch_size,
        device=device,
        limit=limit,
        log_samples=True,
        task_manager=manager,
        bootstrap_iters=0,
    )


def run_harness(
    model: Path | None,
    tasks: Mapping[str, str],
    folder: Path,
    *,
    batch_size: int = 8,
    limit: int | None = None,
    device: str | None = "cpu",
    model_args: Mapping[str, Any] | None = None,
    metrics: dict[str, dict[str, float]] | None = None,
    harness_model: str = "hf",
) -> dict[str, list[HarnessDoc]]:
    """Run the harness's ``hf`` model on task YAMLs (name -> text written into ``folder``); docs by task.

    ``model_args`` add to the harness model's (e.g. ``add_bos_token``); ``metrics``, when given, is
    filled with each task's aggregated metrics as the harness reports them (``{"f1": ..., "acc": ...}``).
    ``harness_model`` names another harness model (``local-completions``, with ``model=None`` and
    its ``model_args``).
    """
    arguments = dict(model_args or {})
    if harness_model == "hf":
        arguments = {"pretrained": str(model), "dtype": "float32"} | arguments
    output = _evaluate(harness_model, arguments, tasks, folder, batch_size=batch_size, limit=limit, device=device)
    docs: dict[str, list[HarnessDoc]] = {}
    for task_name in tasks:
        if metrics is not None:
            reported = output["results"].get(task_name, {})
            metrics[task_name] = {
                key.split(",")[0]: float(value)
                for key, value in reported.items()
                if "," in key and "stderr" not in key and isinstance(value, int | float)
            }
        rows = []
        for sample in sorted(output["samples"][task_name], key=lambda entry: int(entry["doc_id"])):
            responses = [
                response[0] if isinstance(response, list | tuple) and len(response) == 1 else response
                for response in sample["filtered_resps"]
            ]
            rows.append(
                HarnessDoc(
                    doc_id=int(sample["doc_id"]),
                    loglikelihoods=[float(response[0]) for response in responses],
                    is_greedy=[bool(response[1]) for response in responses],
                    target=_target_index(sample),
                    acc=float(sample["acc"]),
                    acc_norm=float(sample["acc_norm"]) if "acc_norm" in sample else None,
                )
            )
        docs[task_name] = rows
    return docs


@dataclass(frozen=True)
class HarnessGeneration:
    """One generated document: the prompt, the text the harness generated, per filter its answer and exact match."""

    doc_id: int
    prompt: str
    text: str
    target: str
    extracted: Mapping[str, str]  # filter name -> the filtered answer ("[invalid]" when its regex found none)
    exact_match: Mapping[str, float]  # filter name -> the harness's exact_match on that filter's answer

    @property
    def answer(self) -> str | None:
        """Baton's reading: "#### N" (strict-match) when present, else the last number (flexible-extract)."""
        strict = self.extracted.get(STRICT_FILTER, "[invalid]")
        if strict != "[invalid]":
            return strict
        flexible = self.extracted.get(FLEXIBLE_FILTER, "[invalid]")
        return None if flexible == "[invalid]" else flexible

    @property
    def correct(self) -> bool:
        """The harness's exact match on the answer Baton's rule picks (its own metric on its own filter)."""
        chosen = STRICT_FILTER if self.extracted.get(STRICT_FILTER, "[invalid]") != "[invalid]" else FLEXIBLE_FILTER
        return bool(self.exact_match.get(chosen, 0.0))


def run_harness_generation(
    model: Path,
    tasks: Mapping[str, str],
    folder: Path,
    *,
    batch_size: int = 8,
    limit: int | None = None,
    device: str | None = "cpu",
    model_args: Mapping[str, Any] | None = None,
) -> dict[str, list[HarnessGeneration]]:
    """Run the harness's ``hf`` model on generation task YAMLs; per task its documents in file order."""
    arguments = {"pretrained": str(model), "dtype": "float32"} | dict(model_args or {})
    output = _evaluate("hf", arguments, tasks, folder, batch_size=batch_size, limit=limit, device=device)
    result: dict[str, list[HarnessGeneration]] = {}
    for task_name in tasks:
        by_doc: dict[int, list[Mapping[str, Any]]] = {}
        for sample in output["samples"][task_name]:
            by_doc.setdefault(int(sample["doc_id"]), []).append(sample)
        rows = []
        for doc_id in sorted(by_doc):
            samples = by_doc[doc_id]
            first = samples[0]
            arguments_logged = first["arguments"]
            argument = arguments_logged[0]
            if isinstance(argument, Mapping):
                argument = list(argument.values())
            raw = first["resps"][0]
            rows.append(
                HarnessGeneration(
                    doc_id=doc_id,
                    prompt=str(argument[0]),
                    text=str(raw[0] if isinstance(raw, list | tuple) else raw),
                    target=str(first["target"]),
                    extracted={str(s["filter"]): str(_single(s["filtered_resps"])) for s in samples},
                    exact_match={str(s["filter"]): float(s["exact_match"]) for s in samples},
                )
            )
        result[task_name] = rows
    return result


def _single(value: Any) -> Any:
    while isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    return value


def _continuations(sample: Mapping[str, Any]) -> list[str]:
    continuations = []
    for argument in sample["arguments"]:
        if isinstance(argument, Mapping):  # the serialized form: {"gen_args_0": {"arg_0": ctx, "arg_1": cont}}
            argument = list(argument.values())
        continuations.append(str(argument[1]))
    return continuations


def _target_index(sample: Mapping[str, Any]) -> int:
    """The harness's target as a choice index (it logs an index, a letter or the choice text)."""
    target = sample["target"]
    if isinstance(target, int) or (isinstance(target, str) and target.strip().isdigit()):
        return int(target)
    stripped = [continuation.lstrip() for continuation in _continuations(sample)]
    return stripped.index(str(target).strip())


@dataclass(frozen=True)
class Comparison:
    items: int
    max_loglikelihood_difference: float
    max_relative_difference: float  # |Baton - harness| / |harness|, the largest over every choice
    prediction_mismatches: list[int]
    baton_acc: float
    harness_acc: float
    distinct_predictions: int

    @property
    def equal(self) -> bool:
        return (
            self.max_loglikelihood_difference <= PARITY_TOLERANCE
            and not self.prediction_mismatches
            and abs(self.baton_acc - self.harness_acc) <= PARITY_TOLERANCE
        )


def compare(baton_items: Sequence[Mapping[str, Any]], harness_docs: Sequence[HarnessDoc]) -> Comparison:
    """Line up a Baton run's records with the harness's docs (both in file order)."""
    if len(baton_items) != len(harness_docs):
        raise ValueError(f"Baton has {len(baton_items)} items, the harness {len(harness_docs)} docs")
    worst = relative = 0.0
    mismatches = []
    for position, (item, doc) in enumerate(zip(baton_items, harness_docs, strict=True)):
        ours = list(item["loglikelihoods"])
        if len(ours) != len(doc.loglikelihoods):
            raise ValueError(f"item {position}: {len(ours)} choices in Baton, {len(doc.loglikelihoods)} in the harness")
        worst = max(worst, *(abs(a - b) for a, b in zip(ours, doc.loglikelihoods, strict=True)))
        relative = max(
            relative, *(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(ours, doc.loglikelihoods, strict=True))
        )
        harness_prediction = max(range(len(doc.loglikelihoods)), key=lambda index: doc.loglikelihoods[index])
        if item["prediction"] != harness_prediction or int(item["answer"]) != doc.target:
            mismatches.append(position)
    count = len(baton_items)
    return Comparison(
        items=count,
        max_loglikelihood_difference=worst,
        max_relative_difference=relative,
        prediction_mismatches=mismatches,
        baton_acc=sum(bool(item["correct"]) for item in baton_items) / count if count else 0.0,
        harness_acc=sum(doc.acc for doc in harness_docs) / count if count else 0.0,
        distinct_predictions=len({item["prediction"] for item in baton_items}),
    )


# --- sample data ----------------------------------------------------------------------------------

_SUBJECTS = ["지리", "수학", "과학", "역사"]
_WORDS = ["서울", "부산", "바다", "하늘", "나무", "학교", "사과", "강물", "도시", "산", "별", "책", "음악", "시간"]


def _phrase(generator: random.Random, words: int) -> str:
    return " ".join(generator.choice(_WORDS) for _ in range(words))


def write_sample_data(
    folder: Path, rows: int = 12, *, seed: int = 0, long_every: int = 0
) -> dict[str, dict[str, Path]]:
    """KMMLU (test/dev CSV), KoBEST COPA (JSONL) and CLIcK (JSON) sample files; task -> split -> path.

    ``long_every`` N > 0 gives every Nth KMMLU question and CLIcK paragraph 40-800 words (as the
    published sets mix short items with long passages), so that ordering and batching by length matter.
    """
    generator = random.Random(seed)
    lengths = random.Random(seed + 1)  # its own stream: the other fields stay as without long items

    def padding(index: int) -> str:
        if long_every <= 0 or index % long_every != long_every - 1:
            return ""
        return " " + _phrase(lengths, lengths.randint(40, 800))

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, Path]] = {"kmmlu": {}, "kobest_copa": {}, "click": {}}
    for split, count in (("test", rows), ("dev", 5)):
        path = folder / f"kmmlu_{split}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["question", "A", "B", "C", "D", "answer", "Category"])
            for index in range(count):
                topic = _phrase(generator, 3) + padding(index)
                question = f"{topic}의 {_phrase(generator, 1)}은 무엇인가? ({split} {index})"
                options = [_phrase(generator, generator.randint(1, 3)) for _ in range(4)]
                answer = generator.randint(1, 4)
                # A cue the last option carries in most rows, which a tiny model can learn to follow.
                cue = answer if generator.random() < 0.8 else generator.randint(1, 4)
                options[3] += f" ({'ABCD'[cue - 1]})"
                writer.writerow([question, *options, answer, _SUBJECTS[index % len(_SUBJECTS)]])
        files["kmmlu"][split] = path
    copa = folder / "copa_test.jsonl"
    with copa.open("w", encoding="utf-8") as handle:
        for _index in range(rows):
            record = {
                "premise": f"{_phrase(generator, 4)}.",
                "question": generator.choice(["원인", "결과"]),
                "alternative_1": f"{_phrase(generator, generator.randint(2, 4))}.",
                "alternative_2": f"{_phrase(generator, generator.randint(2, 4))}.",
                "label": generator.randint(0, 1),
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    files["kobest_copa"]["test"] = copa
    click = folder / "click_test.json"
    records = []
    for index in range(rows):
        options = [_phrase(generator, generator.randint(1, 3)) + f" {index}-{option}" for option in range(4)]
        records.append(
            {
                "id": f"KIIP_{index}",
                "paragraph": (_phrase(generator, 6) if index % 2 else "") + padding(index),
                "question": f"{_phrase(generator, 3)}은?",
                "choices": options,
                "answer": generator.choice(options),
            }
        )
    click.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    files["click"]["test"] = click
    return files


def write_haerae_sample(path: Path, rows: int = 10, *, seed: int = 0) -> Path:
    """HAE-RAE-shaped JSON Lines: the query carries five options, the answer is "(A)".."(E)"."""
    generator = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(rows):
            answer = generator.choice("ABCDE")
            # A cue most rows carry, which a tiny model can learn to follow (so its answers vary).
            cue = answer if generator.random() < 0.8 else generator.choice("ABCDE")
            options = "\n".join(f"({letter}) {_phrase(generator, 2)}" for letter in "ABCDE")
            query = f"다음 중 {_phrase(generator, 3)}와 관련된 것은? ({index})\n{options} {cue}\n정답:"
            record = {"query": query, "answer": f"({answer})"}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def sample_texts(files: Mapping[str, Mapping[str, Path]]) -> list[str]:
    """Every string in the sample files, to train a tiny model on (so its predictions vary by item)."""
    texts: list[str] = []
    for splits in files.values():
        for path in splits.values():
            content = path.read_text(encoding="utf-8")
            texts.extend(line for line in content.splitlines() if line.strip())
    return texts


_THINGS = ["사과", "연필", "공책", "사탕", "풍선"]


def write_gsm8k_sample(folder: Path, rows: int = 10, *, seed: int = 0, train_rows: int = 8) -> dict[str, Path]:
    """Ko-GSM8K-shaped JSON Lines (``question``, ``answer`` ending in ``#### N``): split -> path.

    The sums come from a few values, so that a tiny model fitted briefly gets some right and
    others wrong, and its answers vary from item to item.
    """
    generator = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for split, count in (("test", rows), ("train", train_rows)):
        path = folder / f"ko_gsm8k_{split}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for index in range(count):
                total = generator.choice([7, 12, 12, 30])
                first = generator.randint(1, total - 1)
                thing = generator.choice(_THINGS)
                question = f"{thing} {first}개와 {total - first}개는 모두 몇 개? ({index})"
                answer = f"{first} 더하기 {total - first}는 {total}.\n#### {total}"
                handle.write(json.dumps({"question": question, "answer": answer}, ensure_ascii=False) + "\n")
        files[split] = path
    return files

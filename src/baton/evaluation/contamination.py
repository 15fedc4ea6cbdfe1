"""Contamination check: word n-gram overlap between a task's items and a sample of training data.

Each test item's own text (its question without the few-shot examples, and its gold answer) is
normalized (Unicode NFC, lower case, punctuation to spaces) and cut into word n-grams. The
training sample (files of a dataset repo in the hub, or local files, read up to a byte budget) is
normalized the same way and scanned; an item is flagged when at least ``min_fraction`` of its
n-grams (and at least one) occur in the sample. Items shorter than n words are compared as one
whole n-gram of their length. The report lists the flagged items with the n-grams they share; for
a private task it names them only by their opaque keyed ids and shows no text.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baton.core.errors import BadRequestError, NotFoundError
from baton.evaluation.runner import opaque_item_id
from baton.evaluation.tasks import Task
from baton.evaluation.types import Item

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

DEFAULT_N = 8
DEFAULT_MIN_FRACTION = 0.5
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
TEXT_SUFFIXES = (".jsonl", ".json", ".txt", ".csv", ".tsv", ".md")
_PUNCTUATION = re.compile(r"[^\w\s]+")


def normalize_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).lower()
    return _PUNCTUATION.sub(" ", text).split()


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    if not words:
        return set()
    if len(words) < n:
        return {tuple(words)}
    return {tuple(words[start : start + n]) for start in range(len(words) - n + 1)}


def item_text(item: Item) -> str:
    """The item's own text: the test prompt without few-shot examples, and its gold answer."""
    prompt = item.prompt
    fewshot = item.metadata.get("fewshot")
    if fewshot:  # the task prepends solved examples separated by blank lines; keep the last block
        prompt = prompt.split("\n\n")[-1]
    answer = ""
    if isinstance(item.answer, int) and item.answer < len(item.choices):
        answer = item.choices[item.answer]
    elif isinstance(item.answer, str):
        answer = item.answer
    return f"{prompt} {answer}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for element in value.values():
            yield from _strings(element)
    elif isinstance(value, list):
        for element in value:
            yield from _strings(element)


def texts_of(name: str, content: bytes) -> Iterator[str]:
    """Text documents in a training file: each JSON Lines record's strings, CSV/TSV rows, or lines."""
    text = content.decode("utf-8", errors="replace")
    lower = name.lower()
    if lower.endswith(".jsonl"):
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                yield " ".join(_strings(json.loads(line)))
            except json.JSONDecodeError:
                yield line  # the last line of a sample cut at the byte budget
    elif lower.endswith(".json"):
        try:
            yield from _strings(json.loads(text))
        except json.JSONDecodeError:
            yield text
    elif lower.endswith((".csv", ".tsv")):
        reader = csv.reader(io.StringIO(text), delimiter="\t" if lower.endswith(".tsv") else ",")
        for row in reader:
            yield " ".join(row)
    else:
        yield from text.splitlines()


@dataclass
class ContaminationReport:
    task: str
    n: int
    min_fraction: float
    source: str
    sample_bytes: int
    items: int
    flagged: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "n": self.n,
            "min_fraction": self.min_fraction,
            "source": self.source,
            "sample_bytes": self.sample_bytes,
            "items_checked": self.items,
            "items_flagged": len(self.flagged),
            "fraction_flagged": len(self.flagged) / self.items if self.items else 0.0,
            "flagged": self.flagged,
        }


def check(
    task: Task,
    documents: Iterable[str],
    *,
    source: str,
    sample_bytes: int,
    n: int = DEFAULT_N,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    limit: int | None = None,
    item_id_key: bytes | None = None,
) -> ContaminationReport:
    """Flag the items of ``task`` whose n-grams occur in ``documents`` (a sample of training data)."""
    if n < 1 or not 0 < min_fraction <= 1:
        raise BadRequestError(f"n must be >= 1 and min_fraction in (0, 1], got n={n}, min_fraction={min_fraction}")
    items = task.items(limit)
    owners: dict[tuple[str, ...], list[int]] = {}
    item_grams = []
    for position, item in enumerate(items):
        grams = ngrams(normalize_words(item_text(item)), n)
        item_grams.append(grams)
        for gram in grams:
            owners.setdefault(gram, []).append(position)
    lengths = {len(gram) for gram in owners}
    found: dict[int, set[tuple[str, ...]]] = {}
    for document in documents:
        words = normalize_words(document)
        for size in lengths:
            for start in range(len(words) - size + 1):
                gram = tuple(words[start : start + size])
                for position in owners.get(gram, ()):
                    found.setdefault(position, set()).add(gram)
    flagged = []
    for position, shared in sorted(found.items()):
        fraction = len(shared) / len(item_grams[position])
        if fraction < min_fraction:
            continue
        item = items[position]
        if task.private:
            key = item_id_key or b""
            flagged.append({"item_id": opaque_item_id(key, task.name, item.item_id), "overlap": fraction})
        else:
            flagged.append(
                {
                    "item_id": item.item_id,
                    "overlap": fraction,
                    "matching_ngrams": [" ".join(gram) for gram in sorted(shared)[:5]],
                    "text": item_text(item)[:300],
                }
            )
    return ContaminationReport(task.name, n, min_fraction, source, sample_bytes, len(items), flagged)


def local_sample(paths: Iterable[Path], max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[str], int]:
    documents: list[str] = []
    used = 0
    for path in paths:
        if used >= max_bytes:
            break
        if not path.is_file():
            raise NotFoundError(f"Training file not found: {path}", code="FileNotFound")
        with path.open("rb") as handle:
            content = handle.read(max_bytes - used)
        used += len(content)
        documents.extend(texts_of(path.name, content))
    return documents, used


def hub_sample(runtime: Runtime, dataset: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[str], int, str]:
    """Documents from a dataset repo's text files (in path order) up to ``max_bytes``; and the commit read."""
    from baton.hub import commits, repos

    repo_id, _, revision = dataset.partition("@")
    key = repos.parse_repo_id("dataset", repo_id.removeprefix("datasets/"))
    with runtime.database.session() as session:
        repo = repos.find_repo(session, key)
        if repo is None:
            raise NotFoundError(f"No dataset repo {key}", code="RepoNotFound", hint="Check the id (namespace/name).")
        commit = commits.resolve_revision(session, repo, revision or None)
        entries = sorted(commits.tree_entries(session, commit.tree_id), key=lambda entry: entry.path)
        oid = commit.oid
    documents: list[str] = []
    used = 0
    for entry in entries:
        if used >= max_bytes or not entry.path.lower().endswith(TEXT_SUFFIXES) or entry.size == 0:
            continue
        size = min(entry.size, max_bytes - used)
        content = b"".join(runtime.store.open_range(entry.sha256, 0, size - 1))
        used += len(content)
        documents.extend(texts_of(entry.path, content))
    return documents, used, f"hub:{repo_id}@{oid}"

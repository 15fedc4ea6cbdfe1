"""YAML from users (challenge specs, evaluation task YAML, card front matter): a validated
result or a 4xx that says what is wrong, whatever the text. Deep nesting (PyYAML's composer
recurses per level) and alias bombs (billions of nodes once expanded) included."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from baton.challenge.spec import load_spec
from baton.evaluation.tasks import parse_task_yaml
from baton.hub.cards import parse_card

from .support import FUZZ_HEAVY, json_values, refused_or_parsed


def alias_bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 [x, x]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def deep(depth: int, flow: bool) -> str:
    """Nesting past MAX_DEPTH; PyYAML's scanner looks 1024 characters ahead for flow keys, so
    deeper flow nesting costs the same."""
    if flow:
        return "a: " + "[" * depth + "]" * depth + "\n"
    depth //= 10  # block style indents every level: the text grows with the square of the depth
    return "".join("  " * level + f"k{level}:\n" for level in range(depth)) + "  " * depth + "v: 1\n"


SPEC_KEYS = ["challenge", "title", "stages", "timezone", "tie_break", "x-shared", "id", "name", "gates", "criteria"]
TASK_KEYS = ["name", "version", "data", "file_format", "prompt", "metric", "choices", "answer", "few_shot", "split"]


def documents(keys: list[str]) -> st.SearchStrategy[str]:
    """Mappings that look like the real thing, with values of every type."""
    mapping = st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), json_values(12), max_size=6)
    return mapping.map(lambda value: yaml.safe_dump(value, allow_unicode=True))


def yaml_texts(keys: list[str]) -> st.SearchStrategy[str]:
    hostile = st.builds(alias_bomb, st.integers(2, 12), st.integers(2, 10)) | st.builds(
        deep, st.integers(50, 1200), st.booleans()
    )
    oddities = st.sampled_from(["", "---\n---\n", "a: !!python/object/apply:os.system [x]", "a: *b", "? [a]\n: b"])
    return documents(keys) | hostile | st.text(max_size=200) | oddities


@FUZZ_HEAVY
@given(yaml_texts(SPEC_KEYS))
def test_challenge_spec_is_validated_or_refused(text: str) -> None:
    refused_or_parsed(load_spec, text)


@FUZZ_HEAVY
@given(yaml_texts(TASK_KEYS))
def test_task_yaml_is_validated_or_refused(text: str) -> None:
    refused_or_parsed(parse_task_yaml, text, "task.yaml")


@FUZZ_HEAVY
@given(yaml_texts(["license", "base_model", "tags", "datasets", "language", "extra_gated_fields", "pipeline_tag"]))
def test_card_front_matter_is_read_or_refused(text: str) -> None:
    refused_or_parsed(parse_card, f"---\n{text}\n---\n# Model\n")
    refused_or_parsed(parse_card, text)

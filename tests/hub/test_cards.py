"""Repo cards: splitting README.md, parsing its front matter, validating and rendering it."""

from __future__ import annotations

import datetime
import json
import time

import pytest

from baton.core.errors import BadRequestError, InvalidYamlError
from baton.hub.cards import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_FRONT_MATTER_BYTES,
    CardData,
    parse_card,
    render_card,
    split_front_matter,
    validate_yaml,
)

FULL_CARD = """---
license: apache-2.0
base_model: team-a/korean-llm-7b
base_model_relation: finetune
datasets:
  - team-a/ko-instructions
language: ko
tags: [text-generation, korean]
pipeline_tag: text-generation
library_name: transformers
model-index: {name: 한국어 모델}
---
# 한국어 모델

독자 AI 파운데이션 모델의 미세 조정 버전입니다.
"""


def error_of(text: str) -> InvalidYamlError:
    with pytest.raises(InvalidYamlError) as caught:
        parse_card(text)
    assert caught.value.status_code == 400
    assert caught.value.code == "InvalidYaml"
    return caught.value


# ----------------------------------------------------------------------------------------- split


def test_split_front_matter_returns_yaml_body_and_offset() -> None:
    yaml_text, body, offset = split_front_matter("---\na: 1\nb: 2\n---\n# Title\n")
    assert yaml_text == "a: 1\nb: 2\n"
    assert body == "# Title\n"
    assert offset == 1


def test_split_without_front_matter_returns_whole_text() -> None:
    assert split_front_matter("# Title\n\n---\ntext\n") == (None, "# Title\n\n---\ntext\n", 0)
    assert split_front_matter("") == (None, "", 0)


def test_split_handles_crlf_and_bom() -> None:
    yaml_text, body, offset = split_front_matter("\ufeff---\r\nlicense: mit\r\n---\r\nbody\r\n")
    assert yaml_text == "license: mit\n"
    assert body == "body\n"
    assert offset == 1


def test_split_counts_leading_blank_lines_in_offset() -> None:
    yaml_text, body, offset = split_front_matter("\n\n---\na: 1\n---\n")
    assert yaml_text == "a: 1\n"
    assert body == ""
    assert offset == 3


def test_split_closing_line_at_end_of_file_without_newline() -> None:
    assert split_front_matter("---\na: 1\n---") == ("a: 1\n", "", 1)


def test_split_unclosed_front_matter_is_refused() -> None:
    with pytest.raises(InvalidYamlError) as caught:
        split_front_matter("---\nlicense: mit\n# Title\n")
    assert "line 1" in caught.value.message
    assert "never closed" in caught.value.message
    assert "'---'" in caught.value.message


# ---------------------------------------------------------------------------------------- valid


def test_parse_full_card() -> None:
    card = parse_card(FULL_CARD)
    assert card.license == "apache-2.0"
    assert card.base_models == ["team-a/korean-llm-7b"]
    assert card.base_model_relation == "finetune"
    assert card.datasets == ["team-a/ko-instructions"]
    assert card.language == ["ko"]
    assert card.tags == ["text-generation", "korean"]
    assert card.pipeline_tag == "text-generation"
    assert card.library_name == "transformers"
    assert card.gated is False
    assert card.raw["model-index"] == {"name": "한국어 모델"}  # unknown keys are kept


def test_parse_list_base_model_and_language_list() -> None:
    card = parse_card("---\nbase_model:\n  - a/one\n  - two_v1.5\nlanguage: [ko, en]\n---\n")
    assert card.base_models == ["a/one", "two_v1.5"]
    assert card.language == ["ko", "en"]


def test_parse_korean_values_and_body() -> None:
    card = parse_card("---\nlicense: other\nlicense_name: 국가 AI 라이선스\ntags: [한국어]\n---\n# 모델 카드\n")
    assert card.license_name == "국가 AI 라이선스"
    assert card.tags == ["한국어"]


def test_parse_crlf_and_bom_card() -> None:
    text = FULL_CARD.replace("\n", "\r\n")
    assert parse_card("\ufeff" + text) == parse_card(FULL_CARD)


def test_no_front_matter_gives_empty_card() -> None:
    assert parse_card("# Just a title\n") == CardData()
    assert parse_card("") == CardData()


def test_empty_or_comment_only_front_matter_gives_empty_card() -> None:
    assert parse_card("---\n---\nbody") == CardData()
    assert parse_card("---\n# nothing yet\n---\n") == CardData()


def test_null_values_count_as_missing() -> None:
    card = parse_card("---\nlicense:\ntags:\n---\n")
    assert card.license is None
    assert card.tags == []


def test_dates_become_iso_strings_and_raw_is_json() -> None:
    card = parse_card(
        "---\nreleased: 2026-01-15\nupdated: 2026-01-15 09:30:00+09:00\nhistory: {2025-12-31: draft}\n---\n"
    )
    assert card.raw["released"] == "2026-01-15"
    assert card.raw["updated"] == "2026-01-15T09:30:00+09:00"
    assert card.raw["history"] == {"2025-12-31": "draft"}
    json.dumps(card.raw, allow_nan=False)


def test_non_string_keys_and_special_floats_are_json_safe() -> None:
    card = parse_card("---\nscores: {1: .nan, null: .inf, false: 2}\n---\n")
    assert card.raw["scores"] == {"1": "nan", "null": "inf", "false": 2}
    json.dumps(card.raw, allow_nan=False)


def test_small_aliases_are_allowed() -> None:
    card = parse_card("---\ncommon: &tags [a, b]\ntags: *tags\n---\n")
    assert card.tags == ["a", "b"]


def test_gated_fields() -> None:
    card = parse_card(
        "---\n"
        "extra_gated_prompt: 연락처를 남겨 주세요.\n"
        "extra_gated_fields:\n"
        "  Company: text\n"
        "  Country: country\n"
        "  Date: date_picker\n"
        "  I agree: checkbox\n"
        "  Use:\n"
        "    type: select\n"
        "    options: [Research, {label: Other, value: other}]\n"
        "---\n"
    )
    assert card.gated is True
    assert card.extra_gated_prompt == "연락처를 남겨 주세요."
    assert card.extra_gated_fields["Company"] == "text"
    assert card.extra_gated_fields["Use"]["type"] == "select"


# ---------------------------------------------------------------------------------------- broken


def test_broken_yaml_names_the_file_line() -> None:
    text = "---\nlicense: mit\ntags: [a]\ntitle: Baton: a model\n---\nbody\n"
    assert text.splitlines()[3] == "title: Baton: a model"  # line 4 of the file
    message = error_of(text).message
    assert "README.md line 4: mapping values are not allowed here" in message
    assert "quote" in message


def test_broken_yaml_line_counts_bom_crlf_and_blank_lines_correctly() -> None:
    text = "\ufeff\r\n---\r\nlicense: mit\r\ntitle: Baton: a model\r\n---\r\n"
    assert "README.md line 4:" in error_of(text).message


def test_unclosed_quote_points_inside_the_front_matter() -> None:
    message = error_of("---\nlicense: mit\ntitle: 'open\n---\n").message
    assert "line 3" in message


def test_tab_indentation_is_explained() -> None:
    message = error_of("---\nlicense: mit\n\tfoo: 1\n---\n").message
    assert "line 3" in message
    assert "spaces" in message


def test_unclosed_front_matter_via_parse_card() -> None:
    assert "never closed" in error_of("---\nlicense: mit\n").message


@pytest.mark.parametrize(
    ("yaml_text", "found"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "an integer")],
)
def test_front_matter_must_be_a_mapping(yaml_text: str, found: str) -> None:
    message = error_of(f"---\n{yaml_text}---\n").message
    assert "must be a mapping" in message
    assert found in message
    assert "line 2" in message


def test_multiple_documents_are_refused() -> None:
    message = error_of("---\na: 1\n--- [1]\n---\n").message
    assert "more than one YAML document" in message
    assert "line 3" in message


def test_duplicate_keys_are_refused() -> None:
    message = error_of("---\nlicense: mit\ntags: [a]\nlicense: apache-2.0\n---\n").message
    assert "line 4" in message
    assert "appears twice" in message


def test_python_tags_are_refused() -> None:
    message = error_of("---\na: !!python/object/apply:os.system [echo hi]\n---\n").message
    assert "line 2" in message


def test_control_characters_are_refused() -> None:
    assert "line 3" in error_of("---\na: 1\nb: \x07\n---\n").message


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("tags: 5", "tags", "list of strings"),
        ("license: [a, b]", "license", "must be a string"),
        ("pipeline_tag: {a: 1}", "pipeline_tag", "must be a string"),
        ("datasets: {a: 1}", "datasets", "list of strings"),
        ("base_model: 3", "base_model", "list of strings"),
        ("language: [ko, 1]", "language", "item 2"),
        ("extra_gated_fields: [a]", "extra_gated_fields", "mapping"),
        ("extra_gated_prompt: [a]", "extra_gated_prompt", "must be a string"),
    ],
)
def test_wrong_types_name_the_key_and_the_expected_type(line: str, key: str, expected: str) -> None:
    message = error_of(f"---\nlicense_link: LICENSE\n{line}\n---\n").message
    assert f"'{key}'" in message
    assert expected in message
    assert "line 3" in message


def test_unquoted_no_in_language_is_explained() -> None:
    message = error_of("---\nlanguage: [en, no]\n---\n").message
    assert "boolean" in message
    assert "quote" in message


@pytest.mark.parametrize("value", ["a/b/c", "../etc", "has space", "a/", "/b", "a..b", "-x"])
def test_invalid_base_model_is_refused(value: str) -> None:
    message = error_of(f"---\nbase_model: '{value}'\n---\n").message
    assert "'base_model'" in message
    assert "line 2" in message


def test_bad_relation_lists_the_allowed_values() -> None:
    message = error_of("---\nbase_model: a/b\nbase_model_relation: copied\n---\n").message
    assert "line 3" in message
    assert "'copied'" in message
    for allowed in ("adapter", "merge", "quantized", "finetune", "distillation", "upcycled", "other"):
        assert allowed in message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("  Company: textbox\n", "'textbox'"),
        ("  Company: 5\n", "type name"),
        ("  Use: {type: select}\n", "options"),
        ("  Use: {type: select, options: [1]}\n", "label"),
        ("  Use: {type: text, options: [a]}\n", "only a 'select'"),
        ("  Use: {options: [a]}\n", "needs a 'type'"),
    ],
)
def test_bad_gated_fields_are_refused(fields: str, expected: str) -> None:
    message = error_of(f"---\nextra_gated_fields:\n{fields}---\n").message
    assert expected in message
    assert "line 2" in message


# ---------------------------------------------------------------------------------------- limits


def test_billion_laughs_is_refused_fast() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        aliases = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    text = "---\n" + "\n".join(lines) + "\n---\n"
    started = time.perf_counter()
    message = error_of(text).message
    assert time.perf_counter() - started < 1.0
    assert "aliases" in message


def test_too_many_aliases_are_refused() -> None:
    items = "\n".join("  - *x" for _ in range(MAX_ALIASES + 1))
    message = error_of(f"---\nbase: &x a\nlist:\n{items}\n---\n").message
    assert f"more than {MAX_ALIASES} aliases" in message


def test_recursive_alias_is_refused() -> None:
    assert "alias '*x'" in error_of("---\na: &x [*x]\n---\n").message


def test_oversize_front_matter_is_refused() -> None:
    big = "description: '" + "가" * (MAX_FRONT_MATTER_BYTES // 3 + 10) + "'\n"
    message = error_of(f"---\n{big}---\n").message
    assert str(MAX_FRONT_MATTER_BYTES) in message
    assert "body" in message


def test_deep_nesting_is_refused() -> None:
    depth = MAX_DEPTH + 5
    message = error_of("---\na: " + "[" * depth + "]" * depth + "\n---\n").message
    assert "levels deep" in message


# ---------------------------------------------------------------------------------------- validate


def test_validate_yaml_clean_card_has_no_warnings() -> None:
    assert validate_yaml(FULL_CARD, "model") == []


def test_validate_yaml_raises_for_broken_cards() -> None:
    with pytest.raises(InvalidYamlError):
        validate_yaml("---\na: b: c\n---\n", "model")


def test_validate_yaml_warns_about_unknown_license() -> None:
    warnings = validate_yaml("---\nlicense: my-own\n---\n", "model")
    assert len(warnings) == 1
    assert "my-own" in warnings[0]


def test_validate_yaml_warns_about_upper_case_license() -> None:
    warnings = validate_yaml("---\nlicense: MIT\n---\n", "model")
    assert warnings == ["license 'MIT' should be written in lower case: 'mit'."]


def test_validate_yaml_warns_when_other_license_has_no_name() -> None:
    warnings = validate_yaml("---\nlicense: other\n---\n", "model")
    assert any("license_name" in warning for warning in warnings)
    named = validate_yaml("---\nlicense: other\nlicense_name: k-ai\nlicense_link: LICENSE\n---\n", "model")
    assert named == []


def test_validate_yaml_warns_about_base_model_on_dataset() -> None:
    warnings = validate_yaml("---\nbase_model: a/b\n---\n", "dataset")
    assert any("base_model" in warning for warning in warnings)
    assert validate_yaml("---\nbase_model: a/b\n---\n", "model") == []


def test_validate_yaml_refuses_unknown_repo_type() -> None:
    with pytest.raises(BadRequestError):
        validate_yaml("---\na: 1\n---\n", "bucket")


# ---------------------------------------------------------------------------------------- render


def test_render_card_round_trips() -> None:
    data = {
        "license": "apache-2.0",
        "base_model": ["team-a/korean-llm-7b"],
        "language": ["ko", "en"],
        "tags": ["한국어", "text-generation"],
        "model-index": [{"name": "모델", "results": []}],
        "description": "a: colon, # hash and a very long line " * 10,
    }
    body = "# 모델\n\n---\n\nText after a rule.\n"
    text = render_card(data, body)
    assert text.startswith("---\n")
    assert "한국어" in text  # written as text, not escapes
    card = parse_card(text)
    assert card.raw == data
    assert card.base_models == ["team-a/korean-llm-7b"]
    assert split_front_matter(text)[1] == body


def test_render_card_round_trips_dates_as_iso_strings() -> None:
    card = parse_card(render_card({"released": datetime.date(2026, 1, 15)}, ""))
    assert card.raw == {"released": "2026-01-15"}


def test_render_card_without_data() -> None:
    assert render_card({}, "# Title\n") == "# Title\n"
    text = render_card({}, "---\nnot front matter\n")
    assert split_front_matter(text) == ("", "---\nnot front matter\n", 1)
    assert parse_card(text) == CardData()

"""Repo cards: the YAML front matter of a repo's README.md, as the Hugging Face Hub reads it.

A card is README.md whose first line is ``---``, followed by YAML, a closing ``---`` line and
the Markdown body. Everything here is a pure function: no database, no I/O.

Line numbers in error messages are 1-based lines of README.md, the opening ``---`` being
line 1, so that an author can jump straight to the line in an editor.

YAML is read only with PyYAML's safe loader. Before loading, one pass over the parser's events
refuses documents that would be expensive to load or to walk: too many aliases, aliases that
expand to too many nodes ("billion laughs"), nesting too deep for the recursive composer, and
more than one document.
"""

from __future__ import annotations

import base64
import datetime
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from baton.core import yamlcost
from baton.core.errors import BadRequestError, InvalidYamlError

__all__ = [
    "ALLOWED_BASE_MODEL_RELATIONS",
    "GATED_FIELD_TYPES",
    "KNOWN_LICENSES",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_FRONT_MATTER_BYTES",
    "CardData",
    "Locator",
    "bool_advice",
    "card_from_data",
    "describe",
    "parse_card",
    "render_card",
    "split_front_matter",
    "validate_yaml",
]

FILE_NAME = "README.md"
MAX_FRONT_MATTER_BYTES = 64 * 1024
# Limits on aliases, expanded size and nesting, shared with every YAML Baton reads from users.
MAX_ALIASES = yamlcost.MAX_ALIASES
MAX_EXPANDED_NODES = yamlcost.MAX_EXPANDED_NODES
MAX_DEPTH = yamlcost.MAX_DEPTH

ALLOWED_BASE_MODEL_RELATIONS: tuple[str, ...] = (
    # The Hugging Face Hub's values ...
    "adapter",
    "merge",
    "quantized",
    "finetune",
    # ... and Baton's, for the derivations its provenance checks tell apart.
    "distillation",
    "pruned",
    "continued_pretraining",
    "upcycled",
    "other",
)

GATED_FIELD_TYPES: tuple[str, ...] = ("text", "checkbox", "date_picker", "country", "select")

# License ids the Hub offers in its license picker. Anything else gets a warning, not an error.
KNOWN_LICENSES: frozenset[str] = frozenset(
    {
        "apache-2.0", "mit", "openrail", "openrail++", "bigscience-openrail-m", "creativeml-openrail-m",
        "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd",
        "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0",
        "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0",
        "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0", "cdla-sharing-1.0",
        "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
        "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl",
        "lgpl-2.1", "lgpl-3.0", "isc", "h-research", "intel-research", "lppl-1.3c", "ms-pl",
        "apple-ascl", "apple-amlr", "mpl-2.0", "odc-by", "odbl", "osl-3.0", "postgresql", "ofl-1.1",
        "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license", "llama2", "llama3",
        "llama3.1", "llama3.2", "llama3.3", "llama4", "gemma", "unknown", "other",
    }
)  # fmt: skip

REPO_TYPES: tuple[str, ...] = ("model", "dataset", "space")

# "namespace/name" or "name": letters, digits, '-', '_', '.', each part starting with a letter or digit.
_REPO_ID_PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
_REPO_ID_PATTERN = re.compile(rf"{_REPO_ID_PART}(?:/{_REPO_ID_PART})?")

_BOM = "\ufeff"
_DELIMITER = "---"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# Advice for the YAML mistakes people make most often, keyed by a piece of PyYAML's problem text.
_SYNTAX_ADVICE: tuple[tuple[str, str], ...] = (
    ("mapping values are not allowed", "put quotes around a value that contains ': '"),
    ("cannot start any token", "indent with spaces, not tabs, and quote values starting with '@' or '`'"),
    ("could not find expected ':'", "write each entry as 'key: value' and close every quote"),
    ("found unexpected end of stream", "close the quote or bracket opened earlier"),
    ("did not find expected key", "check the indentation: keys of one mapping must line up"),
    ("did not find expected '-'", "check the indentation: items of one list must line up"),
    ("could not determine a constructor", "remove the '!' tag; cards may hold only plain YAML values"),
    ("found undefined alias", "define the '&anchor' before using '*anchor', or remove the alias"),
)
_DEFAULT_SYNTAX_ADVICE = "check the indentation and quote values that contain ':', '#' or start with '*', '&', '!'"


@dataclass(frozen=True)
class CardData:
    """What Baton reads from a card's front matter; ``raw`` keeps every key, known or not."""

    raw: dict[str, Any] = field(default_factory=dict)
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    base_models: list[str] = field(default_factory=list)
    base_model_relation: str | None = None
    datasets: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str | None = None
    library_name: str | None = None
    # Informational only: whether the card declares any extra_gated_* key. Access control is a
    # setting of the repo, not of its card.
    gated: bool = False
    extra_gated_fields: dict[str, Any] = field(default_factory=dict)
    extra_gated_prompt: str | None = None
    # README.md line of each key: top-level keys by name, keys of a top-level mapping as
    # "parent.key" (e.g. "variant.kind"), for messages about them (see ``Locator``).
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)


# --------------------------------------------------------------------------------------------- split


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """Split README.md into ``(yaml_text, body, offset)``.

    ``yaml_text`` is None when the file has no front matter (then ``body`` is the whole text and
    ``offset`` is 0). ``offset`` is the number of file lines before the YAML's first line, so YAML
    line ``n`` (1-based) is file line ``offset + n``; with the usual opening ``---`` on line 1 it
    is 1. A leading BOM is dropped and line endings are normalised to ``\\n`` in both parts.

    Raises InvalidYamlError when the opening ``---`` has no closing ``---`` line.
    """
    if text.startswith(_BOM):
        text = text[len(_BOM) :]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")

    opening = 0
    while opening < len(lines) and not lines[opening].strip():
        opening += 1
    if opening == len(lines) or lines[opening].rstrip(" \t") != _DELIMITER:
        return None, text, 0

    for closing in range(opening + 1, len(lines)):
        if lines[closing].rstrip(" \t") == _DELIMITER:
            yaml_lines = lines[opening + 1 : closing]
            yaml_text = "".join(line + "\n" for line in yaml_lines)
            body = "\n".join(lines[closing + 1 :])
            return yaml_text, body, opening + 1

    raise InvalidYamlError(
        f"{FILE_NAME} line {opening + 1}: the front matter opened by '---' is never closed. "
        "Add a line holding only '---' after the last YAML line, before the text of the card."
    )


# --------------------------------------------------------------------------------------------- parse


def parse_card(text: str) -> CardData:
    """Parse README.md's front matter into CardData; a file without front matter gives an empty one.

    Raises InvalidYamlError, naming the line, for broken YAML, a front matter that is not a
    mapping, values of the wrong type, and documents too large or too expensive to load.
    """
    yaml_text, _body, offset = split_front_matter(text)
    if yaml_text is None:
        return CardData()
    return _card_from_yaml(yaml_text, offset)


def _card_from_yaml(yaml_text: str, offset: int) -> CardData:
    size = len(yaml_text.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        raise InvalidYamlError(
            f"{FILE_NAME} line {offset}: the front matter is {size} bytes, more than the "
            f"{MAX_FRONT_MATTER_BYTES} accepted. Move long text into the body of the card, below the "
            "closing '---'."
        )
    node, loaded = _load(yaml_text, offset)
    if node is None or loaded is None:
        return CardData()
    if not isinstance(node, MappingNode) or not isinstance(loaded, dict):
        raise InvalidYamlError(
            f"{_at(offset, node)}the front matter must be a mapping of 'key: value' lines, found "
            f"{describe(loaded)}. Write it as e.g. 'license: apache-2.0' on its own line."
        )
    _check_duplicate_keys(node, offset)
    raw = _to_json_mapping(loaded)
    return _card_from_raw(raw, Locator(_key_lines(node, offset)))


def _key_lines(node: MappingNode, offset: int) -> dict[str, int]:
    """README.md line of each top-level key, and of each key of a top-level mapping as "parent.key"."""
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.start_mark is None:
            continue
        lines[key_node.value] = offset + key_node.start_mark.line + 1
        if isinstance(value_node, MappingNode):
            for inner_key, _inner in value_node.value:
                if isinstance(inner_key, ScalarNode) and inner_key.start_mark is not None:
                    lines[f"{key_node.value}.{inner_key.value}"] = offset + inner_key.start_mark.line + 1
    return lines


def _load(yaml_text: str, offset: int) -> tuple[Node | None, Any]:
    """Refuse, before loading, what would be costly to load or walk; load with the safe loader, keeping
    the composed node (and with it the line of every key) for error messages; report syntax errors."""
    try:
        document = yamlcost.parse(
            yaml_text,
            "the front matter",
            one_document_hint="Keep a single document between the two '---' lines.",
        )
    except yamlcost.YamlCostError as error:
        raise InvalidYamlError(f"{_at_mark(offset, error.mark)}{error.problem}") from None
    except yaml.YAMLError as error:
        raise _syntax_error(error, yaml_text, offset) from None
    return document.node, document.data


def _syntax_error(error: yaml.YAMLError, yaml_text: str, offset: int) -> InvalidYamlError:
    if isinstance(error, yaml.MarkedYAMLError):
        problem = error.problem or str(error)
        mark = error.problem_mark or error.context_mark
        where = _at_mark(offset, mark)
        context = ""
        if (
            error.context
            and error.context_mark is not None
            and mark is not None
            and error.context_mark.line != mark.line
        ):
            context = f" ({error.context} on line {offset + error.context_mark.line + 1})"
        advice = next((tip for key, tip in _SYNTAX_ADVICE if key in problem), _DEFAULT_SYNTAX_ADVICE)
        return InvalidYamlError(f"{where}{problem}{context}. To fix it, {advice}.")
    if isinstance(error, yaml.reader.ReaderError):
        position = error.position if isinstance(error.position, int) else 0
        line = offset + yaml_text.count("\n", 0, position) + 1
        return InvalidYamlError(
            f"{FILE_NAME} line {line}: {error.reason} ({_code_point(error.character)}). "
            "Remove the control character from the front matter."
        )
    return InvalidYamlError(f"{FILE_NAME} front matter: {error}. Fix the YAML between the '---' lines.")


def _code_point(character: Any) -> str:
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return f"U+{code:04X}"


def _check_duplicate_keys(root: Node, offset: int) -> None:
    # The Hub's YAML reader refuses repeated keys, while PyYAML silently keeps the last one.
    seen: set[int] = set()
    pending: list[Node] = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first_lines: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                pending.append(value_node)
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                line = offset + key_node.start_mark.line + 1
                key = (key_node.tag, key_node.value)
                if key in first_lines:
                    raise InvalidYamlError(
                        f"{FILE_NAME} line {line}: the key '{key_node.value}' appears twice in the "
                        f"same mapping (first on line {first_lines[key]}). Keep only one of them."
                    )
                first_lines[key] = line
        elif isinstance(node, SequenceNode):
            pending.extend(node.value)


def _at_mark(offset: int, mark: Any) -> str:
    if mark is None:
        return f"{FILE_NAME} front matter: "
    return f"{FILE_NAME} line {offset + int(mark.line) + 1}: "


def _at(offset: int, node: Node | None) -> str:
    return _at_mark(offset, node.start_mark if node is not None else None)


# ------------------------------------------------------------------------------------ JSON conversion


def _to_json_mapping(value: dict[Any, Any]) -> dict[str, Any]:
    return {_json_key(key): _to_json(item) for key, item in value.items()}


def _to_json(value: Any) -> Any:
    """Turn what the safe loader builds into plain JSON values (dates become ISO strings)."""
    if isinstance(value, dict):
        return _to_json_mapping(value)
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, set):
        return sorted(_json_key(item) for item in value)
    if isinstance(value, datetime.date):  # datetime.datetime included
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, datetime.date):
        return key.isoformat()
    return str(key)


# ------------------------------------------------------------------------------------ typed fields


class Locator:
    """Prefixes messages about a key with the key's line in README.md (``CardData.lines``):
    ``at("license")``, ``at("variant.kind")``; a key whose line is unknown gets "front matter"."""

    def __init__(self, key_lines: dict[str, int]) -> None:
        self.key_lines = key_lines

    def at(self, key: str, *fallbacks: str) -> str:
        for name in (key, *fallbacks):
            line = self.key_lines.get(name)
            if line is not None:
                return f"{FILE_NAME} line {line}: "
        return f"{FILE_NAME} front matter: "


def describe(value: Any) -> str:
    """How a message names a YAML value's type: "a string", "an integer (3)", "a mapping"."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def bool_advice(value: Any) -> str:
    if isinstance(value, bool):
        return " YAML reads unquoted yes/no/on/off/true/false as booleans: quote the value (e.g. 'no')."
    return ""


def _optional_string(raw: dict[str, Any], key: str, where: Locator, example: str) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidYamlError(
        f"{where.at(key)}'{key}' must be a string (e.g. {key}: {example}), found {describe(value)}."
        + bool_advice(value)
    )


def _string_list(raw: dict[str, Any], key: str, where: Locator, example: str) -> list[str]:
    """A list of strings; a single string stands for a one-item list, as on the Hub."""
    value = raw.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InvalidYamlError(
            f"{where.at(key)}'{key}' must be a string or a list of strings (e.g. {key}: {example}), "
            f"found {describe(value)}." + bool_advice(value)
        )
    for index, item in enumerate(value, start=1):
        if not isinstance(item, str):
            raise InvalidYamlError(
                f"{where.at(key)}item {index} of '{key}' must be a string (e.g. {key}: {example}), "
                f"found {describe(item)}." + bool_advice(item)
            )
    return list(value)


def _base_models(raw: dict[str, Any], where: Locator) -> list[str]:
    models = _string_list(raw, "base_model", where, "[namespace/model-name]")
    for model in models:
        if not _REPO_ID_PATTERN.fullmatch(model) or ".." in model:
            raise InvalidYamlError(
                f"{where.at('base_model')}'base_model' value {model!r} is not a repo id. Write "
                "'namespace/name' or 'name', using letters, digits, '-', '_' and '.' (e.g. "
                "base_model: team-a/korean-llm-7b)."
            )
    return models


def _base_model_relation(raw: dict[str, Any], where: Locator) -> str | None:
    relation = _optional_string(raw, "base_model_relation", where, "finetune")
    if relation is not None and relation not in ALLOWED_BASE_MODEL_RELATIONS:
        raise InvalidYamlError(
            f"{where.at('base_model_relation')}'base_model_relation' {relation!r} is not allowed. "
            f"Use one of: {', '.join(ALLOWED_BASE_MODEL_RELATIONS)}."
        )
    return relation


def _gated_fields(raw: dict[str, Any], where: Locator) -> dict[str, Any]:
    value = raw.get("extra_gated_fields")
    if value is None:
        return {}
    key = "extra_gated_fields"
    allowed = ", ".join(GATED_FIELD_TYPES)
    if not isinstance(value, dict):
        raise InvalidYamlError(
            f"{where.at(key)}'{key}' must be a mapping of field label to field type (e.g. "
            f"'Company: text'), found {describe(value)}."
        )
    for label, spec in value.items():
        field_type: Any
        options: Any = None
        if isinstance(spec, str):
            field_type = spec
        elif isinstance(spec, dict):
            field_type = spec.get("type")
            options = spec.get("options")
            if not isinstance(field_type, str):
                raise InvalidYamlError(f"{where.at(key)}field {label!r} of '{key}' needs a 'type' (one of: {allowed}).")
        else:
            raise InvalidYamlError(
                f"{where.at(key)}field {label!r} of '{key}' must be a type name (one of: {allowed}) or a "
                f"mapping with 'type' and 'options', found {describe(spec)}."
            )
        if field_type not in GATED_FIELD_TYPES:
            raise InvalidYamlError(
                f"{where.at(key)}field {label!r} of '{key}' has type {field_type!r}; use one of: {allowed}."
            )
        if field_type == "select":
            _check_select_options(label, options, where.at(key))
        elif options is not None:
            raise InvalidYamlError(
                f"{where.at(key)}field {label!r} of '{key}' has 'options', which only a 'select' "
                "field takes. Remove them or set 'type: select'."
            )
    return value


def _check_select_options(label: str, options: Any, where: str) -> None:
    example = "options: [Research, Education, {label: Other, value: other}]"
    if not isinstance(options, list) or not options:
        raise InvalidYamlError(
            f"{where}select field {label!r} of 'extra_gated_fields' needs a non-empty list of "
            f"'options' (e.g. {example})."
        )
    for option in options:
        if isinstance(option, str):
            continue
        if isinstance(option, dict) and isinstance(option.get("label"), str) and isinstance(option.get("value"), str):
            continue
        raise InvalidYamlError(
            f"{where}each option of select field {label!r} of 'extra_gated_fields' must be a string "
            f"or a mapping with string 'label' and 'value' (e.g. {example})."
        )


def _card_from_raw(raw: dict[str, Any], where: Locator) -> CardData:
    def text(key: str, example: str) -> str | None:
        return _optional_string(raw, key, where, example)

    return CardData(
        raw=raw,
        lines=dict(where.key_lines),
        license=text("license", "apache-2.0"),
        license_name=text("license_name", "my-license-1.0"),
        license_link=text("license_link", "LICENSE"),
        base_models=_base_models(raw, where),
        base_model_relation=_base_model_relation(raw, where),
        datasets=_string_list(raw, "datasets", where, "[namespace/dataset-name]"),
        language=_string_list(raw, "language", where, "[ko, en]"),
        tags=_string_list(raw, "tags", where, "[text-generation, korean]"),
        pipeline_tag=text("pipeline_tag", "text-generation"),
        library_name=text("library_name", "transformers"),
        gated=any(key.startswith("extra_gated_") for key in raw),
        extra_gated_fields=_gated_fields(raw, where),
        extra_gated_prompt=text("extra_gated_prompt", "'Share your contact details to get access.'"),
    )


def card_from_data(raw: dict[str, Any]) -> CardData:
    """CardData from front matter already loaded (a stored ``card_data``); messages name no line."""
    return _card_from_raw(raw, Locator({}))


# -------------------------------------------------------------------------------- validate / render


def validate_yaml(content: str, repo_type: str) -> list[str]:
    """Check README.md for ``POST /api/validate-yaml``: raise for errors, return warnings.

    Warnings cover what the Hub would accept but probably is a mistake: a license id it does not
    know, ``license: other`` without a name or link, base model keys on a dataset.
    """
    if repo_type not in REPO_TYPES:
        raise BadRequestError(f"Unknown repo type {repo_type!r}.", hint=f"Use one of: {', '.join(REPO_TYPES)}.")
    card = parse_card(content)
    warnings: list[str] = []
    if card.license is not None and card.license not in KNOWN_LICENSES:
        lowered = card.license.lower()
        if lowered in KNOWN_LICENSES:
            warnings.append(f"license {card.license!r} should be written in lower case: {lowered!r}.")
        else:
            warnings.append(
                f"license {card.license!r} is not a license id the Hub knows (e.g. apache-2.0, mit, "
                "cc-by-4.0). Use a known id, or 'license: other' with license_name and license_link."
            )
    if card.license == "other":
        if card.license_name is None:
            warnings.append("license is 'other' but license_name is missing; name the license.")
        if card.license_link is None:
            warnings.append("license is 'other' but license_link is missing; link the license text (e.g. LICENSE).")
    if repo_type == "dataset":
        for key in ("base_model", "base_model_relation"):
            if key in card.raw:
                warnings.append(f"'{key}' is a model card key; a dataset card does not use it.")
    elif card.base_model_relation is not None and not card.base_models:
        warnings.append("base_model_relation is set but base_model is missing; name the base model.")
    return warnings


def render_card(data: dict[str, Any], body: str) -> str:
    """Write README.md from front-matter data and a Markdown body; ``parse_card`` reads it back."""
    if not data:
        first_line = body.split("\n", 1)[0].rstrip(" \t\r")
        # An empty front matter is written only when the body would otherwise look like one.
        return f"{_DELIMITER}\n{_DELIMITER}\n{body}" if first_line == _DELIMITER else body
    dumped = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    return f"{_DELIMITER}\n{dumped}{_DELIMITER}\n{body}"

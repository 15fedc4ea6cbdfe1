"""YAML from users: refuse, before loading, documents that would be costly to load or to walk.

PyYAML's composer and constructor recurse once per level of nesting (RecursionError past a few
hundred), and aliases let a few hundred bytes stand for billions of values: PyYAML shares the
aliased objects, but whatever walks the loaded data afterwards (pydantic validation, JSON
encoding, line lookups) visits every one. One pass over the parser's events, which neither
recurses nor expands aliases, measures all three before anything is composed.

Every YAML document Baton reads from outside goes through ``load`` (or ``parse``, which keeps the
composed node tree for line numbers): the cost check, then PyYAML's safe loader. Callers turn
``YamlCostError`` into their own 4xx error with the line it names, and let ``yaml.YAMLError`` (a
syntax error, found by the same pass) take their usual path. ``line_of`` maps the location of a
pydantic error (``("stages", 0, "criteria")``) to the line of the YAML that holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml

MAX_ALIASES: Final = 100
# Values the document would have once every alias is expanded.
MAX_EXPANDED_NODES: Final = 100_000
MAX_DEPTH: Final = 100


class YamlCostError(Exception):
    """A document refused for its cost: ``problem`` is a sentence (starting with the subject given
    to ``check_cost``) and ``mark`` the place in the text, when there is one."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.mark = mark

    @property
    def line(self) -> int | None:
        """1-based line of the text, when known."""
        return None if self.mark is None else int(self.mark.line) + 1


def check_cost(text: str, subject: str, *, one_document_hint: str = "Keep a single document.") -> None:
    """Raise YamlCostError when ``text`` holds more than one document, more than MAX_ALIASES
    aliases, an alias to an anchor not defined before it, more than MAX_EXPANDED_NODES values
    once aliases are expanded, or nesting deeper than MAX_DEPTH; yaml.YAMLError when it is not
    YAML. ``subject`` names the text in messages ("the front matter")."""
    aliases = 0
    documents = 0
    expanded = 0
    open_sizes: list[int] = []  # values counted so far in each open collection
    open_anchors: list[str | None] = []
    anchor_sizes: dict[str, int] = {}

    def count(values: int, event: yaml.Event, *, in_parent: bool = True) -> None:
        nonlocal expanded
        expanded += values
        if expanded > MAX_EXPANDED_NODES:
            raise YamlCostError(
                f"{subject} expands to more than {MAX_EXPANDED_NODES} values once its aliases ('*name') are "
                "resolved. Write the values out instead of repeating them through aliases.",
                event.start_mark,
            )
        if in_parent and open_sizes:
            open_sizes[-1] += values

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                problem = f"{subject} holds more than one YAML document. {one_document_hint}"
                raise YamlCostError(problem, event.start_mark)
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YamlCostError(
                    f"{subject} uses more than {MAX_ALIASES} aliases ('*name'). Write the values out instead.",
                    event.start_mark,
                )
            anchor = event.anchor or ""
            if anchor not in anchor_sizes:
                raise YamlCostError(
                    f"the alias '*{anchor}' refers to an anchor that is not defined before it or that contains "
                    "the alias itself. Define '&name' on an earlier value, or write the value out.",
                    event.start_mark,
                )
            count(anchor_sizes[anchor], event)
        elif isinstance(event, yaml.ScalarEvent):
            count(1, event)
            if event.anchor is not None:
                anchor_sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(open_sizes) >= MAX_DEPTH:
                raise YamlCostError(
                    f"{subject} nests lists and mappings more than {MAX_DEPTH} levels deep. Flatten it.",
                    event.start_mark,
                )
            # The collection itself counts now; its whole size joins its parent's at its end.
            count(1, event, in_parent=False)
            open_sizes.append(1)
            open_anchors.append(event.anchor)
        elif isinstance(event, yaml.CollectionEndEvent):
            size = open_sizes.pop()
            anchor_name = open_anchors.pop()
            if anchor_name is not None:
                anchor_sizes[anchor_name] = size
            if open_sizes:
                open_sizes[-1] += size


@dataclass(frozen=True)
class Document:
    """A loaded YAML document: its data and the node tree it was built from (for line numbers)."""

    data: Any
    node: yaml.Node | None

    def line_of(self, loc: Sequence[int | str]) -> int | None:
        return line_of(self.node, loc)


def parse(text: str, subject: str, *, one_document_hint: str = "Keep a single document.") -> Document:
    """``check_cost``, then compose and construct with the safe loader (``yaml.safe_load`` split in two,
    so the node tree is at hand). Raises YamlCostError or yaml.YAMLError."""
    check_cost(text, subject, one_document_hint=one_document_hint)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return Document(data, node)


def load(text: str, subject: str, *, one_document_hint: str = "Keep a single document.") -> Any:
    """``yaml.safe_load`` of a document that passed ``check_cost`` (YamlCostError or yaml.YAMLError otherwise)."""
    return parse(text, subject, one_document_hint=one_document_hint).data


def line_of(source: str | yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line in the YAML of a pydantic error location: the line of the last mapping key on
    the path (of the list item, for an index), or of the nearest enclosing one that exists.

    ``source`` is the composed node tree or the YAML text (composed here; None when it cannot be)."""
    node: yaml.Node | None
    if isinstance(source, str):
        try:
            node = parse(source, "the YAML").node
        except (YamlCostError, yaml.YAMLError):
            return None
    else:
        node = source
    if node is None:
        return None
    line = int(node.start_mark.line) + 1
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            # The last of repeated keys wins, as in the loaded data.
            matches = [
                (key, value)
                for key, value in node.value
                if isinstance(key, yaml.ScalarNode) and key.value == str(step) and not isinstance(step, bool)
            ]
            if not matches:
                break
            key, node = matches[-1]
            line = int(key.start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
            line = int(node.start_mark.line) + 1
        else:
            break
    return line

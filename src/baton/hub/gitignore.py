"""Enough of .gitignore matching for preupload's ``shouldIgnore``, in time linear in the input.

Supported, as git reads a .gitignore at the root of a repo: comments, blank lines, trailing
spaces (kept when escaped with ``\\``), ``!`` negation (the last matching pattern wins), patterns
anchored to the root by a leading or middle ``/``, a trailing ``/`` for folders only, ``*``,
``?``, ``[...]`` (with ``!``/``^`` negation, ranges and ``[:alpha:]``-style classes), ``\\``
escapes, ``**/``, ``/**`` and ``/**/``, and git's rule that nothing inside an ignored folder can be
re-included. Matching works on the UTF-8 bytes of the path, as git does.

Why no regular expressions: a glob translated to a backtracking regex takes time exponential in
the number of ``*`` (``"**/" * 15 + "x"`` against a 15-folder path froze the server for half a
minute with the GIL held). Each pattern here is a small nondeterministic automaton whose set of
active states is one integer used as a bit set (one bit per pattern position), so one byte of
the path costs a few integer operations whatever the pattern, and a path is read once per pattern
for all of its parent folders at the same time. Work therefore grows with pattern length times
path length, and it is counted: ``MAX_MATCH_STEPS`` bounds one request's total.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from baton.core.errors import BadRequestError

MAX_PATTERNS: Final = 1000
MAX_PATTERN_LENGTH: Final = 1024  # characters, after trailing spaces are removed
# One step is one byte of a path read against one pattern (or one character class consulted),
# about a microsecond. Uploads with ordinary rules need a few thousand (most patterns are skipped
# because the path lacks their literal part); the limit bounds a hostile request to ~2 s of CPU.
MAX_MATCH_STEPS = 2_000_000

_SLASH: Final = ord("/")
_BACKSLASH: Final = ord("\\")
_STAR: Final = ord("*")

# git's character classes (wildmatch.c), on ASCII only: git's ctype tables leave bytes >= 0x80
# outside every class.
_ASCII: Final = range(128)
_CLASSES: Final[dict[str, frozenset[int]]] = {
    "alnum": frozenset(ord(c) for c in string.ascii_letters + string.digits),
    "alpha": frozenset(ord(c) for c in string.ascii_letters),
    "blank": frozenset(b" \t"),
    "cntrl": frozenset([*range(32), 127]),
    "digit": frozenset(ord(c) for c in string.digits),
    "graph": frozenset(range(33, 127)),
    "lower": frozenset(ord(c) for c in string.ascii_lowercase),
    "print": frozenset(range(32, 127)),
    "punct": frozenset(ord(c) for c in string.punctuation),
    "space": frozenset(b" \t\n\r"),  # git leaves out \v and \f
    "upper": frozenset(ord(c) for c in string.ascii_uppercase),
    "xdigit": frozenset(ord(c) for c in string.hexdigits),
}


class _NeverMatches(Exception):
    """The pattern is malformed in a way that makes git's matcher give up on it (an unclosed
    ``[``, an unknown ``[:class:]``, a ``\\`` at the very end): it matches no path."""


@dataclass
class _Glob:
    """One pattern as an automaton over bytes. State ``i`` means "pattern tokens before ``i``
    matched"; bit ``i`` of an integer says whether state ``i`` is active."""

    accept: int  # the bit of the final state
    literals: dict[int, int]  # byte -> states that advance on exactly that byte
    any_but_slash: int  # states of '?' tokens
    classes: list[tuple[frozenset[int], int]]  # (bytes a class accepts, its states)
    loop_any: int  # states of '**' that stay put on any byte
    loop_but_slash: int  # states of '*' that stay put on any byte but '/'
    skip_one: int  # states with an empty move to the next state ('*', '**', entering '**/')
    skip_three: int  # entries of '**/' with an empty move past it (matching no folder)
    required: bytes  # a run of bytes every match contains: a cheap test before matching
    by_byte: dict[int, int] = field(default_factory=dict)  # memo of _advance_mask


@dataclass(frozen=True)
class _Rule:
    glob: _Glob | None  # None: the pattern never matches
    negated: bool
    folder_only: bool


# --- parsing -------------------------------------------------------------------------------------


def _parse_class(pattern: bytes, start: int) -> tuple[frozenset[int], int]:
    """The bytes ``[...]`` at ``start`` accepts (never '/') and the index after its ']'.

    Follows git's wildmatch: the first member may be ']', '-' is literal first or last, a range
    resets so that 'a-c-e' is a range and two literals, ``[:name:]`` names an ASCII class and
    ``[:`` without ``:]`` is a literal '['."""
    index = start + 1
    negated = index < len(pattern) and pattern[index] in b"!^"
    if negated:
        index += 1
    members: set[int] = set()
    previous: int | None = None
    first = True
    while True:
        if index >= len(pattern):
            raise _NeverMatches
        byte = pattern[index]
        if byte == ord("]") and not first:
            index += 1
            break
        first = False
        if byte == _BACKSLASH:
            index += 1
            if index >= len(pattern):
                raise _NeverMatches
            byte = pattern[index]
            members.add(byte)
            previous = byte
        elif byte == ord("-") and previous is not None and index + 1 < len(pattern) and pattern[index + 1] != ord("]"):
            index += 1
            end = pattern[index]
            if end == _BACKSLASH:
                index += 1
                if index >= len(pattern):
                    raise _NeverMatches
                end = pattern[index]
            members.update(range(previous, end + 1))
            previous = None
        elif byte == ord("[") and pattern.startswith(b":", index + 1):
            close = pattern.find(b"]", index + 2)
            if close < 0:
                raise _NeverMatches
            body = pattern[index + 2 : close]
            if not body.endswith(b":"):
                # "[:" without ":]" before the next ']': a literal '['.
                members.add(byte)
                previous = byte
            else:
                name = body[:-1].decode("ascii", errors="replace")
                if name not in _CLASSES:
                    raise _NeverMatches
                members.update(_CLASSES[name])
                previous = None
                index = close
        else:
            members.add(byte)
            previous = byte
        index += 1
    accepted = (set(range(256)) - members) if negated else members
    accepted.discard(_SLASH)
    return frozenset(accepted), index


def _tokens(pattern: bytes, *, pathname: bool) -> list[tuple[str, object]]:
    """Split a pattern into ('byte', b), ('one', None), ('class', set), ('star', None),
    ('any', None) and ('folders', None) for a special '**/'."""
    tokens: list[tuple[str, object]] = []
    literal_prefix = next((at for at, byte in enumerate(pattern) if byte in b"*?[\\"), len(pattern))
    index = 0
    while index < len(pattern):
        byte = pattern[index]
        if byte == _BACKSLASH:
            if index + 1 >= len(pattern):
                raise _NeverMatches
            tokens.append(("byte", pattern[index + 1]))
            index += 2
        elif byte == ord("?"):
            tokens.append(("one", None))
            index += 1
        elif byte == ord("["):
            members, index = _parse_class(pattern, index)
            tokens.append(("class", members))
        elif byte == _STAR:
            end = index
            while end < len(pattern) and pattern[end] == _STAR:
                end += 1
            # "**" is special only as a whole path segment; elsewhere it is one '*'. git also
            # counts the end of the pattern's literal prefix as a start (it compares that prefix
            # first and matches the rest on its own), so "a**/b" is "a" + "**/b" there.
            whole_segment = (index in (0, literal_prefix) or pattern[index - 1] == _SLASH) and (
                end == len(pattern) or pattern[end] == _SLASH or pattern.startswith(b"\\/", end)
            )
            if pathname and end - index >= 2 and whole_segment:
                if end < len(pattern) and pattern[end] == _SLASH:
                    if not tokens or tokens[-1][0] != "folders":  # '**/**/' is '**/'
                        tokens.append(("folders", None))
                    end += 1
                else:
                    tokens.append(("any", None))
            elif not tokens or tokens[-1][0] != "star":
                tokens.append(("star", None))
            index = end
        else:
            tokens.append(("byte", byte))
            index += 1
    return tokens


def _build(tokens: list[tuple[str, object]]) -> _Glob:
    # '**/' is (.*/)? and becomes three states: an entry that consumes nothing, '**' looping on
    # anything, then '/'. The entry may skip to after the '/', but '**' may not once it has read
    # a byte: leaving '**/' is only possible at its start or just after a '/'.
    literals: dict[int, int] = {}
    class_states: dict[frozenset[int], int] = {}
    any_but_slash = loop_any = loop_but_slash = skip_one = skip_three = 0
    runs: list[bytes] = []
    run = bytearray()
    state = 0
    for kind, value in tokens:
        bit = 1 << state
        if kind == "byte":
            assert isinstance(value, int)
            literals[value] = literals.get(value, 0) | bit
            run.append(value)
            state += 1
            continue
        runs.append(bytes(run))
        run.clear()
        if kind == "one":
            any_but_slash |= bit
        elif kind == "class":
            assert isinstance(value, frozenset)
            class_states[value] = class_states.get(value, 0) | bit
        elif kind == "star":
            loop_but_slash |= bit
            skip_one |= bit
        elif kind == "any":
            loop_any |= bit
            skip_one |= bit
        else:  # folders
            skip_one |= bit | (bit << 1)
            skip_three |= bit
            loop_any |= bit << 1
            state += 2
            literals[_SLASH] = literals.get(_SLASH, 0) | (1 << state)
        state += 1
    runs.append(bytes(run))
    return _Glob(
        accept=1 << state,
        literals=literals,
        any_but_slash=any_but_slash,
        classes=list(class_states.items()),
        loop_any=loop_any,
        loop_but_slash=loop_but_slash,
        skip_one=skip_one,
        skip_three=skip_three,
        required=max(runs, key=len),
    )


def _strip_trailing_spaces(line: str) -> str:
    """git drops trailing spaces unless the last one is escaped with a backslash."""
    stripped = line.rstrip(" ")
    if stripped != line and stripped.endswith("\\") and (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1:
        return stripped + " "
    return stripped


def _parse_rule(line: str) -> _Rule:
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    folder_only = line.endswith("/")
    if folder_only:
        line = line[:-1]
    # A slash at the start or in the middle anchors the pattern to the root; without one it
    # matches a file or folder name at any depth, which is '**/' in front of it.
    anchored = "/" in line
    pattern = line.removeprefix("/").encode("utf-8", errors="surrogatepass")
    try:
        tokens = _tokens(pattern, pathname=anchored)
    except _NeverMatches:
        return _Rule(None, negated, folder_only)
    if not tokens:
        return _Rule(None, negated, folder_only)
    if not anchored:
        tokens.insert(0, ("folders", None))
    return _Rule(_build(tokens), negated, folder_only)


# A repo's committed .gitignore is read again by every preupload into it.
@lru_cache(maxsize=16)
def _compile(text: str, source: str, skip_over_limit: bool) -> tuple[_Rule, ...]:
    rules: list[_Rule] = []
    # Lines end at '\n' only (not at the other breaks str.splitlines knows), as git reads them.
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = _strip_trailing_spaces(raw.removesuffix("\r"))
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_PATTERN_LENGTH:
            if skip_over_limit:
                continue
            raise BadRequestError(
                f"{source} line {number}: the pattern is {len(line)} characters long; Baton reads "
                f"patterns of at most {MAX_PATTERN_LENGTH} characters.",
                code="GitIgnoreTooLarge",
                hint="Shorten the pattern, e.g. with '*' in place of long literal parts.",
            )
        if len(rules) == MAX_PATTERNS:
            if skip_over_limit:
                break
            raise BadRequestError(
                f"{source} has more than {MAX_PATTERNS} patterns; Baton reads at most {MAX_PATTERNS}.",
                code="GitIgnoreTooLarge",
                hint="Merge patterns (e.g. '*.log' instead of one line per log file) or leave out the "
                "ones this upload does not need.",
            )
        rules.append(_parse_rule(line))
    return tuple(rules)


# --- matching ------------------------------------------------------------------------------------


class IgnoreRules:
    """The patterns of one .gitignore, with a budget of matching steps (see ``MAX_MATCH_STEPS``)."""

    def __init__(self, rules: tuple[_Rule, ...], source: str) -> None:
        self._rules = rules
        self._source = source
        self.steps = 0  # work done so far by is_ignored

    @classmethod
    def parse(cls, text: str, *, source: str = "gitIgnore", skip_over_limit: bool = False) -> IgnoreRules:
        """Read a .gitignore. Over ``MAX_PATTERNS`` patterns or ``MAX_PATTERN_LENGTH`` characters
        in one pattern: a BadRequestError naming ``source``, or with ``skip_over_limit`` the
        patterns past the limits are left out (too-long patterns, and those after the 1000th)."""
        return cls(_compile(text, source, skip_over_limit), source)

    def __len__(self) -> int:
        """How many patterns were read (negations included)."""
        return len(self._rules)

    def is_ignored(self, path: str) -> bool:
        """Whether ``path`` (a file) is ignored, by a pattern matching it or a parent folder."""
        if not self._rules:
            return False
        data = path.encode("utf-8", errors="surrogatepass")
        # Candidates: each parent folder (the path up to one of its '/'), then the file itself.
        file_candidate = data.count(b"/")
        verdicts: list[bool | None] = [None] * (file_candidate + 1)
        for rule in self._rules:
            if rule.glob is None or rule.glob.required not in data:
                continue
            for candidate in self._matches(rule.glob, data):
                if rule.folder_only and candidate == file_candidate:
                    continue
                verdicts[candidate] = not rule.negated
        return any(verdicts)  # an ignored folder ignores everything inside it

    def _matches(self, glob: _Glob, data: bytes) -> list[int]:
        """The candidates the pattern matches, in one pass over the path: candidate ``k`` is the
        path up to its ``k``-th '/' (a folder), the last one the whole path."""
        found: list[int] = []
        skip_one, skip_three, accept = glob.skip_one, glob.skip_three, glob.accept
        loop_other = glob.loop_any | glob.loop_but_slash
        steps = 0
        active = 1
        candidate = 0
        for byte in data:
            while True:  # empty moves ('*' and '**' matching nothing) until nothing new turns on
                wider = active | ((active & skip_one) << 1) | ((active & skip_three) << 3)
                steps += 1
                if wider == active:
                    break
                active = wider
            if byte == _SLASH:
                if active & accept:
                    found.append(candidate)
                candidate += 1
                loop = glob.loop_any
            else:
                loop = loop_other
            advance = glob.by_byte.get(byte)
            if advance is None:
                advance = self._advance_mask(glob, byte)
            active = ((active & advance) << 1) | (active & loop)
            if not active:
                break
        else:
            while True:
                wider = active | ((active & skip_one) << 1) | ((active & skip_three) << 3)
                steps += 1
                if wider == active:
                    break
                active = wider
            if active & accept:
                found.append(candidate)
        self._spend(steps)
        return found

    def _advance_mask(self, glob: _Glob, byte: int) -> int:
        """The states that advance on ``byte``; worked out once per pattern and byte."""
        mask = glob.literals.get(byte, 0)
        if byte != _SLASH:
            mask |= glob.any_but_slash
        for members, states in glob.classes:
            if byte in members:
                mask |= states
        self._spend(1 + len(glob.classes))
        glob.by_byte[byte] = mask
        return mask

    def _spend(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_MATCH_STEPS:
            raise BadRequestError(
                f"Checking these paths against {self._source} takes more than {MAX_MATCH_STEPS} "
                "matching steps; Baton stops there.",
                code="GitIgnoreTooLarge",
                hint="Send fewer files per preupload request, or use fewer and simpler patterns.",
            )


def is_ignored(path: str, gitignore_text: str) -> bool:
    """Whether ``path`` (a file) is ignored by the rules, checking each parent folder too."""
    return IgnoreRules.parse(gitignore_text).is_ignored(path)

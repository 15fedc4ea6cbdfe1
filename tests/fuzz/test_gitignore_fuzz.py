"""The .gitignore matcher: the same answers as a plain recursive matcher on small inputs, and
work bounded by the path's length times the number of patterns on any input."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from baton.hub.gitignore import IgnoreRules

from .support import FUZZ, refused_or_parsed

FRAGMENTS = ["a", "b", "/", "*", "**", "?", "[ab]", "[!a]", "[a-c]", "\\*", ".", "c"]
SEGMENTS = ["a", "b", "ab", "ba", "c", "*", "a.b", "bb"]


def _class_accepts(body: str, byte: str) -> bool:
    negated = body.startswith("!")
    members = body[1:] if negated else body
    hit = any(
        (members[at - 1] <= byte <= members[at + 1]) if char == "-" and 0 < at < len(members) - 1 else char == byte
        for at, char in enumerate(members)
    )
    return hit != negated and byte != "/"


def _wild(pattern: str, text: str, segment_start: bool = True) -> bool:
    """Backtracking glob matching, straight from the rules (exponential, fine on small input).
    ``segment_start``: the pattern so far ended with '/' or nothing, so '**' there is special."""
    if not pattern:
        return not text
    head = pattern[0]
    if head == "\\":
        return bool(text) and text[0] == pattern[1] and _wild(pattern[2:], text[1:], pattern[1] == "/")
    if head == "?":
        return bool(text) and text[0] != "/" and _wild(pattern[1:], text[1:], False)
    if head == "[":
        end = pattern.index("]", 2 if pattern[1:2] == "!" else 1)
        rest = pattern[end + 1 :]
        return bool(text) and _class_accepts(pattern[1:end], text[0]) and _wild(rest, text[1:], False)
    if head == "*":
        rest = pattern.lstrip("*")
        if len(pattern) - len(rest) >= 2 and segment_start and rest[:1] in ("", "/"):
            if not rest:
                return True  # '**' at the end: anything
            # '**/': no folder, or anything up to a '/'.
            after = rest[1:]
            slashes = [at for at, char in enumerate(text) if char == "/"]
            return _wild(after, text) or any(_wild(after, text[at + 1 :]) for at in slashes)
        return any(_wild(rest, text[at:], False) for at in range(len(text) + 1) if "/" not in text[:at])
    return bool(text) and text[0] == head and _wild(pattern[1:], text[1:], head == "/")


def reference_ignored(path: str, lines: list[str]) -> bool:
    """What git decides, written plainly: each folder and then the file, the last pattern wins,
    and an ignored folder ignores everything inside."""
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        candidate = "/".join(parts[:depth])
        is_folder = depth < len(parts)
        verdict = False
        for line in lines:
            negated = line.startswith("!")
            pattern = line[1:] if negated else line
            folder_only = pattern.endswith("/")
            pattern = pattern[:-1] if folder_only else pattern
            if not pattern or (folder_only and not is_folder):
                continue
            if "/" in pattern:
                body = pattern.removeprefix("/")
                # git compares the literal start first and matches the rest on its own.
                literal = next((at for at, char in enumerate(body) if char in "*?[\\\\"), len(body))
                matched = candidate.startswith(body[:literal]) and _wild(body[literal:], candidate[literal:])
            else:
                name = candidate.rsplit("/", 1)[-1]
                matched = _wild(pattern, name, False)  # a name has no '/': '**' is '*' there
            if matched:
                verdict = not negated
        if verdict:
            return True
    return False


patterns = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=5).map("".join)
negatable = st.builds(lambda bang, body: bang + body, st.sampled_from(["", "!"]), patterns)
lines = st.lists(negatable, min_size=1, max_size=3)
paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map("/".join)


@FUZZ
@given(lines, st.lists(paths, min_size=1, max_size=8))
def test_matcher_agrees_with_a_plain_recursive_matcher(rules: list[str], candidates: list[str]) -> None:
    compiled = IgnoreRules.parse("\n".join(rules))
    for path in candidates:
        assert compiled.is_ignored(path) == reference_ignored(path, rules), (rules, path)


@FUZZ
@given(
    st.text(alphabet=st.sampled_from("ab/*?[]!-^\\ #:\n\r.é"), max_size=600) | st.text(max_size=300),
    st.text(alphabet=st.sampled_from("ab/*.é-"), min_size=1, max_size=300) | st.text(min_size=1, max_size=80),
)
def test_work_is_bounded_on_any_input(text: str, path: str) -> None:
    rules = refused_or_parsed(IgnoreRules.parse, text)
    if isinstance(rules, IgnoreRules):
        rules.is_ignored(path)
        data = path.encode("utf-8", errors="surrogatepass")
        per_pattern = 3 * (len(data) + 1)
        class_lookups = len(set(data)) * (len(rules) + text.count("["))
        assert rules.steps <= len(rules) * per_pattern + class_lookups

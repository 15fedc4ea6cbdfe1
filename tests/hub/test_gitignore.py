from __future__ import annotations

import pytest

from baton.hub.gitignore import is_ignored

RULES = """
# comment
*.log
/build/
cache/
!keep.log
docs/**/*.tmp
data/[ab]?.csv
"""


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("a.log", True),
        ("deep/dir/b.log", True),
        ("keep.log", False),
        ("build/out.bin", True),
        ("src/build/out.bin", False),
        ("src/cache/x", True),
        ("cache", False),
        ("docs/a/b/c.tmp", True),
        ("docs/c.tmp", True),
        ("data/a1.csv", True),
        ("data/c1.csv", False),
        ("model.safetensors", False),
    ],
)
def test_gitignore_rules(path: str, ignored: bool) -> None:
    assert is_ignored(path, RULES) is ignored


def test_empty_rules_ignore_nothing() -> None:
    assert not is_ignored("a.log", "\n# only a comment\n")

"""``core`` knows no domain: not by import (import-linter checks that in CI) and not by string."""

from __future__ import annotations

import re
from pathlib import Path

import baton.core

DOMAINS = ("accounts", "storage", "hub", "provenance", "evaluation", "challenge", "commons", "talent", "web", "demo")
NAMED = re.compile(r"\bbaton[./](" + "|".join(DOMAINS) + r")\b")


def test_core_names_no_domain_anywhere_in_its_code() -> None:
    core = Path(baton.core.__file__).parent
    found = [
        f"{path.relative_to(core)}:{number}: {line.strip()}"
        for path in sorted(core.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if NAMED.search(line)
    ]
    assert found == [], "core must not name a domain (register it through baton.core.registry instead):\n" + "\n".join(
        found
    )


def test_the_check_would_see_a_lazy_import_or_a_handler_string() -> None:
    assert NAMED.search("    from baton.challenge import release  # lazily")
    assert NAMED.search('"challenge.release_due": "baton.challenge.release:release_due_job"')
    assert not NAMED.search("from baton.core import jobs")

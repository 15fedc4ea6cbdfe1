"""License compatibility along lineage: one test per rule."""

from __future__ import annotations

import pytest

from baton.commons.licensing import (
    LicenseInputError,
    check_derivative_license,
    check_lineage,
    normalize_license,
    terms_of,
)
from baton.core.errors import BadRequestError


@pytest.mark.parametrize(
    ("declared", "base"),
    [
        ("apache-2.0", "mit"),
        ("mit", "apache-2.0"),
        ("cc-by-nc-4.0", "apache-2.0"),  # adding restrictions over a permissive base is fine
        ("cc-by-sa-4.0", "cc-by-4.0"),
        ("llama3", "bsd-3-clause"),
        ("gpl-3.0", "apache-2.0"),
    ],
)
def test_permissive_bases_allow_any_derivative_license(declared: str, base: str) -> None:
    result = check_derivative_license(declared, {"org/base": base})
    assert result.ok and result.conflicts == []
    assert result.effective == declared


def test_attribution_is_noted() -> None:
    result = check_derivative_license("mit", {"org/base": "apache-2.0", "org/data": "cc-by-4.0"})
    assert result.ok
    assert any("NOTICE" in n and "org/base" in n for n in result.notes)
    assert any("credit org/data" in n for n in result.notes)


@pytest.mark.parametrize("declared", ["apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "llama3", "openrail"])
def test_non_commercial_base_makes_a_non_commercial_derivative(declared: str) -> None:
    result = check_derivative_license(declared, {"lab/nc-base": "cc-by-nc-4.0"})
    assert not result.ok
    assert len(result.conflicts) == 1
    conflict = result.conflicts[0]
    assert "lab/nc-base" in conflict and "cc-by-nc-4.0" in conflict and declared in conflict
    assert "non-commercial" in conflict
    assert result.effective == "cc-by-nc-4.0"


@pytest.mark.parametrize("declared", ["cc-by-nc-4.0", "cc-by-nc-sa-4.0"])
def test_non_commercial_derivative_of_non_commercial_base_is_fine(declared: str) -> None:
    result = check_derivative_license(declared, {"lab/nc-base": "cc-by-nc-4.0", "lab/other": "mit"})
    assert result.ok, result.conflicts
    assert result.effective == declared


@pytest.mark.parametrize("base", ["cc-by-nd-4.0", "cc-by-nc-nd-4.0"])
@pytest.mark.parametrize("declared", ["cc-by-nc-nd-4.0", "cc-by-nc-4.0", "apache-2.0"])
def test_no_derivatives_base_conflicts_with_any_derivative(base: str, declared: str) -> None:
    result = check_derivative_license(declared, {"lab/nd": base})
    assert not result.ok
    assert any("allows no derivatives" in c and "lab/nd" in c and base in c for c in result.conflicts)
    assert result.effective == base


def test_share_alike_base_requires_a_share_alike_derivative() -> None:
    assert check_derivative_license("cc-by-sa-4.0", {"wiki/base": "cc-by-sa-4.0"}).ok
    bad = check_derivative_license("apache-2.0", {"wiki/base": "cc-by-sa-4.0"})
    assert not bad.ok
    assert "share-alike" in bad.conflicts[0] and "apache-2.0" in bad.conflicts[0] and "wiki/base" in bad.conflicts[0]
    assert bad.effective == "cc-by-sa-4.0"
    # BY-SA cannot be made non-commercial: NC is not one of the licenses BY-SA allows.
    assert not check_derivative_license("cc-by-nc-sa-4.0", {"wiki/base": "cc-by-sa-4.0"}).ok
    # NC-SA base: only NC-SA satisfies both rules.
    assert check_derivative_license("cc-by-nc-sa-4.0", {"b": "cc-by-nc-sa-4.0"}).ok
    nc_only = check_derivative_license("cc-by-nc-4.0", {"b": "cc-by-nc-sa-4.0"})
    assert not nc_only.ok and len(nc_only.conflicts) == 1 and "share-alike" in nc_only.conflicts[0]


def test_incompatible_share_alike_bases() -> None:
    result = check_derivative_license("cc-by-sa-4.0", {"a/one": "cc-by-sa-4.0", "b/two": "cc-by-nc-sa-4.0"})
    assert not result.ok
    assert any("no license satisfies all of them" in c for c in result.conflicts)
    assert result.effective == "cc-by-nc-sa-4.0 + cc-by-sa-4.0"
    # GPL-3.0 is in the one-way compatible set of BY-SA 4.0: a merge of both can be GPL-3.0.
    assert check_derivative_license("gpl-3.0", {"a/one": "cc-by-sa-4.0", "b/two": "gpl-3.0"}).ok


@pytest.mark.parametrize(("base", "declared"), [("llama3", "apache-2.0"), ("gemma", "mit"), ("llama3.1", "llama3")])
def test_custom_terms_must_be_carried(base: str, declared: str) -> None:
    result = check_derivative_license(declared, {"meta/base": base})
    assert not result.ok
    assert any("meta/base" in c and base in c and declared in c for c in result.conflicts)
    assert result.effective == base
    same = check_derivative_license(base, {"meta/base": base})
    assert same.ok and same.notes  # what the custom license asks is spelled out


def test_llama_and_gemma_cannot_be_merged() -> None:
    result = check_derivative_license("llama3", {"meta/llama": "llama3", "google/gemma": "gemma"})
    assert not result.ok
    assert any("gemma" in c for c in result.conflicts)
    assert result.effective in ("gemma + llama3", "llama3 + gemma")


def test_openrail_variants_carry_each_others_use_restrictions() -> None:
    assert check_derivative_license("creativeml-openrail-m", {"sd/base": "openrail"}).ok
    assert not check_derivative_license("mit", {"sd/base": "openrail"}).ok


def test_unknown_or_missing_licenses_need_an_operator() -> None:
    missing_base = check_derivative_license("apache-2.0", {"x/base": None})
    assert not missing_base.ok
    assert missing_base.conflicts == ["base x/base declares no license: unknown license, an operator must resolve"]
    missing_own = check_derivative_license(None, {"x/base": "mit"})
    assert not missing_own.ok and "derivative declares no license" in missing_own.conflicts[0]
    assert missing_own.effective == "mit"
    unknown = check_derivative_license("apache-2.0", {"x/base": "my-own-license-v7"})
    assert not unknown.ok and "does not know" in unknown.conflicts[0]
    other_base = check_derivative_license("apache-2.0", {"x/base": "other"})
    assert not other_base.ok and "'other'" in other_base.conflicts[0]
    # 'other' on the derivative is accepted over permissive bases, not over restrictive ones.
    assert check_derivative_license("other", {"x/base": "mit"}).ok
    other_over_nc = check_derivative_license("other", {"x/base": "cc-by-nc-4.0"})
    assert not other_over_nc.ok and "operator" in other_over_nc.conflicts[0]
    empty = check_derivative_license("  ", {})
    assert not empty.ok and empty.effective == "unknown"


def test_no_bases_and_normalization() -> None:
    assert check_derivative_license("Apache 2.0", {}).ok
    assert normalize_license(" Apache_2.0 ") == "apache-2.0"
    assert normalize_license("llama3_1") == "llama3.1"
    assert normalize_license("LLaMA-3.1") == "llama3.1"
    assert normalize_license("") is None
    assert terms_of("CC-BY-NC-4.0") is not None and terms_of("other") is None
    result = check_derivative_license("MIT", [("org/base", "Apache-2.0")])  # pairs work too
    assert result.ok and result.effective == "mit"


def test_bad_input_is_refused() -> None:
    with pytest.raises(LicenseInputError) as caught:
        check_derivative_license("mit", [("org/base",)])  # type: ignore[list-item]
    assert isinstance(caught.value, BadRequestError) and caught.value.hint
    with pytest.raises(LicenseInputError):
        check_derivative_license("mit", {"org/base": 3})  # type: ignore[dict-item]
    with pytest.raises(LicenseInputError):
        check_derivative_license(5, {})  # type: ignore[arg-type]


def test_lineage_is_transitive() -> None:
    # derivative -> parent (declares MIT, wrongly) -> grandparent (non-commercial)
    chain = [("team/parent", "mit"), ("lab/root", "cc-by-nc-4.0")]
    result = check_lineage("apache-2.0", chain)
    assert not result.ok
    assert any("lab/root" in c and "cc-by-nc-4.0" in c for c in result.conflicts)
    assert result.effective == "cc-by-nc-4.0"
    assert any(n.startswith("upstream: team/parent ('mit')") for n in result.notes)
    # Declaring non-commercial is enough for the derivative; the parent's mistake stays a note.
    fine = check_lineage("cc-by-nc-4.0", chain)
    assert fine.ok and any("upstream: team/parent" in n for n in fine.notes)
    # An ND ancestor anywhere blocks every descendant.
    blocked = check_lineage("cc-by-nc-nd-4.0", [("a/mid", "cc-by-nc-nd-4.0"), ("a/root", "cc-by-nd-4.0")])
    assert not blocked.ok and any("a/root" in c for c in blocked.conflicts)
    # A clean chain.
    clean = check_lineage("apache-2.0", [("a/mid", "apache-2.0"), ("a/root", "mit")])
    assert clean.ok and not any(n.startswith("upstream") for n in clean.notes)
    assert check_lineage("mit", []).ok

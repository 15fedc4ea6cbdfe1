"""The ACM CCS 2012 taxonomy as shipped: parsing, codes, Korean labels, search, hierarchy, safety."""

from __future__ import annotations

import importlib.resources
import threading

import pytest

from baton.core.errors import BadRequestError
from baton.talent import taxonomy as tax
from baton.talent.taxonomy import Taxonomy, TaxonomyFileError, UnknownSkillError, build_taxonomy, load_taxonomy

ML = "10010257"  # Machine learning
AI = "10010178"  # Artificial intelligence
CM = "10010147"  # Computing methodologies (top)
NN = "10010294"  # Neural networks (ML → ML approaches → NN)
CV = "10010224"  # Computer vision (under AI)
SEC = "10002978"  # Security and privacy (top)


@pytest.fixture(scope="module")
def tx() -> Taxonomy:
    return load_taxonomy()


def test_shipped_file_parses_whole(tx: Taxonomy) -> None:
    data = importlib.resources.files("baton.talent").joinpath("data", tax.SKOS_FILE).read_bytes()
    assert len(tx) == data.count(b"<skos:Concept ") == 2299
    assert len(tx.top_concepts) == 14
    assert all(tx.concepts[c].is_top for c in tx.top_concepts)
    assert tx.get(ML).label_en == "Machine learning"
    assert tx.get(ML).broader == (CM,)
    assert NN not in tx.get(ML).narrower and "10010293" in tx.get(ML).narrower
    assert "machine learning" not in [a.casefold() for a in tx.get(ML).alt_labels]
    # broader and narrower agree everywhere, and some concepts have several parents
    for concept in tx:
        for parent in concept.broader:
            assert concept.code in tx.concepts[parent].narrower
    assert sum(1 for c in tx if len(c.broader) > 1) > 50
    assert "ACM Computing Classification System" in tx.title
    readme = importlib.resources.files("baton.talent").joinpath("data", "README.md").read_text()
    assert "ACM Computing Classification System (2012)" in readme


def test_loaded_once_and_shared_between_threads(tx: Taxonomy) -> None:
    seen: list[Taxonomy] = []
    threads = [threading.Thread(target=lambda: seen.append(load_taxonomy())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s is tx for s in seen)


def test_korean_labels_cover_the_common_fields(tx: Taxonomy) -> None:
    labelled = [c for c in tx if c.label_ko]
    assert len(labelled) >= 300
    for code in (AI, ML, NN, CV, "10010179", "10010169", "10010520", SEC, "10002951", "10010389", "10003351"):
        assert tx.get(code).label_ko, code
    assert tx.get(ML).label("ko") == "기계 학습"
    assert tx.get("10010802").label("ko") == tx.get("10010802").label_en  # falls back to English
    # every label is NFC and no code is labelled twice (the loader refuses duplicates)
    import unicodedata

    assert all(unicodedata.is_normalized("NFC", c.label_ko) for c in labelled if c.label_ko)


def test_codes_in_every_accepted_form(tx: Taxonomy) -> None:
    assert tx.normalize(ML) == ML
    assert tx.normalize(" #10010257 ") == ML
    assert tx.normalize("http://totem.semedica.com/taxonomy/x#10010257") == ML
    assert tx.normalize("10010147.10010257") == ML
    assert tx.normalize(tx.path(NN)) == NN
    assert tx.path(NN) == "10010147.10010257.10010293.10010294"
    with pytest.raises(UnknownSkillError, match="not directly under"):
        tx.normalize("10002978.10010257")  # ML is not under Security and privacy
    with pytest.raises(UnknownSkillError, match="'999'"):
        tx.get("999")


def test_unknown_skill_error_is_a_clear_bad_request(tx: Taxonomy) -> None:
    with pytest.raises(UnknownSkillError) as info:
        tx.get("1234567")
    err = info.value
    assert isinstance(err, BadRequestError) and err.status_code == 400
    assert "1234567" in err.message
    assert "search" in err.hint and "10010257" in err.hint
    assert err.to_json()["error"] == "UnknownSkill"


def test_validate_normalizes_dedupes_and_names_every_unknown(tx: Taxonomy) -> None:
    assert tx.validate([ML, "#10010257", AI, "10010147.10010257"]) == [ML, AI]
    assert tx.validate([]) == []
    with pytest.raises(UnknownSkillError) as info:
        tx.validate([ML, "nope", "42", AI])
    assert "'nope'" in info.value.message and "'42'" in info.value.message and ML not in info.value.message


@pytest.mark.parametrize(
    ("query", "lang", "expected"),
    [
        ("machine learning", None, ML),
        ("MACHINE  learning", "en", ML),
        ("ｍａｃｈｉｎｅ ｌｅａｒｎｉｎｇ", None, ML),  # full-width
        ("기계 학습", "ko", ML),
        ("머신러닝", None, ML),
        ("딥러닝", "ko", NN),
        ("자연어처리", None, "10010179"),  # spacing-insensitive
        ("컴퓨터 비전", None, CV),
        ("GPU", None, "10010389"),
        ("ＧＰＵ", None, "10010389"),
        ("고성능 컴퓨팅", None, "10010169"),
        ("보안", "ko", SEC),
        ("neural networks", None, NN),
        (ML, None, ML),
    ],
)
def test_search_finds_concepts_in_english_and_korean(tx: Taxonomy, query: str, lang: str | None, expected: str) -> None:
    results = tx.search(query, lang=lang)
    assert results, query
    assert results[0].code == expected


def test_search_language_filter_limit_and_order(tx: Taxonomy) -> None:
    assert tx.search("기계 학습", lang="en") == []
    assert tx.search("machine learning", lang="ko") == []
    assert len(tx.search("learning", limit=5)) == 5
    assert tx.search("learning", limit=0) == []
    assert tx.search("   ") == []
    found = [c.code for c in tx.search("learning", limit=200)]
    assert len(found) == len(set(found)) > 20
    # exact labels come before labels that merely contain the words
    codes = [c.code for c in tx.search("computer vision")]
    assert codes[0] == CV and "10010225" in codes  # "Computer vision tasks"
    # unspaced matching is for Korean only: "LLM" must not match inside "Bill Millard"
    assert [c.code for c in tx.search("LLM")] == ["10010179"]
    assert tx.search("언어모델")[0].code == "10010179"  # alternative label "언어 모델", unspaced
    with pytest.raises(BadRequestError):
        tx.search("x", lang="fr")


def test_ancestors_descendants_depth(tx: Taxonomy) -> None:
    # Neural networks sits under ML approaches and under Other architectures (hardware view)
    assert set(tx.get(NN).broader) == {"10010293", "10010542"}
    ancestors = tx.ancestors(NN)
    assert set(ancestors[:2]) == {"10010293", "10010542"}
    assert {ML, CM, "10010520"} <= set(ancestors) and NN not in ancestors
    assert tx.ancestors(ML) == [CM]
    assert tx.ancestors(CM) == []
    assert tx.depth(CM) == 1 and tx.depth(ML) == 2 and tx.depth(NN) == 4
    assert NN in tx.descendants(ML) and CV not in tx.descendants(ML)
    # poly-hierarchy: a concept with two parents lists both lines of ancestors
    multi = next(c for c in tx if len(c.broader) > 1)
    ancestors = set(tx.ancestors(multi.code))
    assert set(multi.broader) <= ancestors
    for parent in multi.broader:
        assert set(tx.ancestors(parent)) <= ancestors


def test_similarity_through_the_hierarchy(tx: Taxonomy) -> None:
    assert tx.similarity(ML, ML) == 1.0
    assert tx.similarity(ML, CM) == tax.DECAY  # parent and child
    assert tx.similarity(ML, AI) == tax.DECAY**2  # siblings under Computing methodologies
    assert tx.similarity(ML, NN) == tx.similarity(NN, ML) == tax.DECAY**2
    assert tx.similarity(CV, NN) < tx.similarity(AI, ML)  # further apart, lower
    assert tx.similarity(ML, SEC) == 0.0  # different top concepts
    assert tx.similarity(CM, SEC) == 0.0
    # skos:related links count even across branches
    related = next(c for c in tx if any(tx.distance(c.code, r) is None for r in c.related))
    other = next(r for r in related.related if tx.distance(related.code, r) is None)
    assert tx.similarity(related.code, other) == tax.RELATED_SIMILARITY
    for a, b in [(ML, NN), (CV, AI), (SEC, "10002979"), ("10003351", ML)]:
        assert 0.0 <= tx.similarity(a, b) <= 1.0


def test_coverage_prefers_more_specific_skills(tx: Taxonomy) -> None:
    # a Neural networks researcher covers a Machine learning opening almost fully ...
    assert tx.coverage(NN, ML) == pytest.approx(tax.SPECIFIC_COVERAGE**2)
    # ... but a generalist covers a specialist opening only through similarity
    assert tx.coverage(ML, NN) == tx.similarity(ML, NN) < tx.coverage(NN, ML)
    assert tx.coverage(ML, ML) == 1.0
    assert tx.coverage(SEC, ML) == 0.0


SKOS_HEAD = (
    '<?xml version="1.0"?>\n{doctype}<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:skos="http://www.w3.org/2004/02/skos/core#">\n'
)
SKOS_BODY = (
    '<skos:Concept rdf:about="#1"><skos:prefLabel xml:lang="en">{label}</skos:prefLabel>'
    '<skos:narrower rdf:resource="#2"/></skos:Concept>\n'
    '<skos:Concept rdf:about="#2"><skos:prefLabel xml:lang="en">Child</skos:prefLabel>'
    '<skos:altLabel xml:lang="en">kid</skos:altLabel></skos:Concept>\n</rdf:RDF>\n'
)


def _skos(doctype: str = "", label: str = "Root") -> bytes:
    return (SKOS_HEAD.format(doctype=doctype) + SKOS_BODY.format(label=label)).encode()


def test_builds_from_minimal_skos_with_links_made_symmetric() -> None:
    small = build_taxonomy(_skos(), "1\t뿌리\n# comment\n2\t자식\t아이|꼬마\n")
    assert small.get("2").broader == ("1",)  # only narrower was declared
    assert small.top_concepts == ("1",)
    assert small.get("2").alt_labels_ko == ("아이", "꼬마")
    assert [c.code for c in small.search("꼬마")] == ["2"]
    assert [c.code for c in small.search("kid")] == ["2"]


def test_internal_entities_are_allowed_but_external_ones_refused(tmp_path: object) -> None:
    ok = build_taxonomy(_skos('<!DOCTYPE rdf:RDF [<!ENTITY n "Root">]>\n', label="&n;"))
    assert ok.get("1").label_en == "Root"
    for doctype in (
        '<!DOCTYPE rdf:RDF [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n',
        '<!DOCTYPE rdf:RDF [<!ENTITY x PUBLIC "-//x//EN" "http://127.0.0.1:9/x">]>\n',
        '<!DOCTYPE rdf:RDF [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p"> %p;]>\n',
        '<!DOCTYPE rdf:RDF [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n',
    ):
        with pytest.raises(TaxonomyFileError):
            build_taxonomy(_skos(doctype, label="&x;" if "ENTITY x" in doctype else "Root"))


def test_malformed_inputs_are_refused_clearly() -> None:
    with pytest.raises(TaxonomyFileError, match="well-formed"):
        build_taxonomy(b"<rdf:RDF")
    with pytest.raises(TaxonomyFileError, match="not in the taxonomy"):
        build_taxonomy(_skos(), "3\t없는 개념\n")
    with pytest.raises(TaxonomyFileError, match="labelled twice"):
        build_taxonomy(_skos(), "1\t하나\n1\t둘\n")
    with pytest.raises(TaxonomyFileError, match="expected"):
        build_taxonomy(_skos(), "1\n")
    back_link = b'<skos:narrower rdf:resource="#1"/></skos:Concept>\n</rdf:RDF>'
    cyclic = _skos().replace(b"</skos:Concept>\n</rdf:RDF>", back_link)
    with pytest.raises(TaxonomyFileError, match="cycle"):
        build_taxonomy(cyclic)

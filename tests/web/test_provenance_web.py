"""The provenance report page over HTTP on both databases: the verdict first as a sentence in the
reader's language, the evidence as tables (no Python value printed anywhere), the per-component
chart with its threshold, and a private reference sealed for whoever cannot read it."""

from __future__ import annotations

import re
from typing import Any

from baton.core.runtime import Runtime
from baton.hub import commits, repos
from baton.provenance.models import ProvenanceReport

from .repo_support import browser, make_repo, weights

DICT_REPR = re.compile(r"\{'|': |\[\('|True\b|False\b|None\b")


def _result(verdict: str = "derived") -> dict[str, Any]:
    detail = {
        "block": "transformer.h.0",
        "reference_block": "transformer.h.0",
        "null": "unpaired layers",
        "null_size": 2,
    }
    return {
        "model": "subject",
        "reference": "reference",
        "verdict": verdict,
        "relation": "finetune",
        "p_value": 2.5e-32,
        "alpha": 0.01,
        "correction": "Šidák and Holm–Šidák.",
        "components": [
            {
                "name": "transformer.h.0",
                "status": "derived",
                "source": "transformer.h.0",
                "p_value": 2.1e-33,
                "test": "mlp_unit_matching_stored_basis",
                "statistics": {"mlp_unit_matching": 0.9858},
            },
            {
                "name": "transformer.wte",
                "status": "independent",
                "source": "transformer.wte",
                "p_value": 0.4,
                "test": "exact_copy",
                "statistics": {},
            },
        ],
        "evidence": [
            {
                "component": "transformer.h.0",
                "source": "transformer.h.0",
                "test": "attention_cka",
                "statistic": 0.98,
                "null_mean": 0.41,
                "null_std": 0.005,
                "p_value": 0.0036,
                "counted": False,
                "detail": detail | {"why": "Attention CKA is shown for comparison."},
            },
            {
                "component": "transformer.h.0",
                "source": "transformer.h.0",
                "test": "mlp_unit_matching",
                "statistic": 0.9858,
                "null_mean": 0.36,
                "null_std": 0.0036,
                "p_value": 0.0022,
                "counted": True,
                "detail": detail | {"nested": {"a": [1, 2]}},
            },
        ],
        "norms": {
            "count": 1,
            "raw_cosine": 0.99997,
            "shuffled_raw_cosine": 0.9972,
            "pearson": 0.99,
            "p_value": 3e-30,
            "tensors": [
                {
                    "component": "transformer.ln_f",
                    "tensor": "transformer.ln_f.weight",
                    "source_tensor": "transformer.ln_f.weight",
                    "raw_cosine": 0.99998,
                    "shuffled_raw_cosine": 0.997,
                    "pearson": 0.994,
                    "p_value": 7e-31,
                }
            ],
        },
        "alignment": {
            "language_model": {"method": "shared_tokens+positions", "anchors": 106, "permutation_like": True}
        },
        "layer_alignment": [["transformer.h.0", "transformer.h.0"]],
        "transformations": [],
        "config_likeness": {"likeness": 1.0, "identical": ["n_embd", "n_layer"], "differing": [], "evidence": False},
        "explanation": {"en": "Derived.", "ko": "파생."},
    }


def _report(runtime: Runtime, subject: str, reference: str) -> int:
    with runtime.database.session(write=True) as session:
        subject_repo = repos.find_repo(session, repos.parse_repo_id("model", subject))
        reference_repo = repos.find_repo(session, repos.parse_repo_id("model", reference))
        assert subject_repo is not None and reference_repo is not None
        reference_head = commits.resolve_revision(session, reference_repo, None).oid
        report = ProvenanceReport(
            repo_id=subject_repo.id,
            commit_oid=commits.resolve_revision(session, subject_repo, None).oid,
            reference=f"{reference}@{reference_head}",
            reference_repo_id=reference_repo.id,
            reason="declared",
            verdict="derived",
            relation="finetune",
            p_value=2.5e-32,
            report=_result(),
            summary="",
        )
        session.add(report)
        session.flush()
        return report.id


def test_the_verdict_comes_first_and_the_evidence_reads_as_tables(runtime: Runtime, users: Any) -> None:
    make_repo(runtime, "lab/base-lm", {"model.safetensors": weights(1)})
    make_repo(runtime, "lab/tuned-lm", {"model.safetensors": weights(2)})
    report_id = _report(runtime, "lab/tuned-lm", "lab/base-lm")
    client = browser(runtime)
    ko = client.get(f"/api/provenance/reports/{report_id}.html?lang=ko").text
    en = client.get(f"/api/provenance/reports/{report_id}.html?lang=en").text
    for page in (ko, en):
        main = page.split('<main id="main"', 1)[1].split("<details>", 1)[0]  # all but the JSON for tools
        assert not DICT_REPR.search(main), DICT_REPR.search(main)
        # The verdict sentence precedes every table.
        assert main.index('id="verdict-sentence"') < main.index('id="component-chart"') < main.index('id="evidence"')
    assert re.search(r'id="verdict-sentence">lab/tuned-lm@\w+ was derived from lab/base-lm@\w+, by fine-tuning', en)
    assert "The evidence is very strong: p = 2.5e-32" in en
    assert 'id="reason">the model card declares it as a base (declared)<' in en and "선언됨" in ko
    assert re.search(r'id="verdict-sentence">lab/tuned-lm@\w+ 은\(는\) lab/base-lm@\w+ 에서', ko)
    assert "미세조정" in ko and "증거가 매우 강합니다" in ko
    # Components: kind and status in words; evidence: the nested detail flattened and labelled.
    assert "<td>block</td>" in en and "<td>embeddings</td>" in en and ">블록<" in ko
    assert "<li>reference block: transformer.h.0</li>" in en and "<li>null draws: 2</li>" in en
    assert "<li>nested: a = 1, 2</li>" in en
    assert "no (shown for comparison)" in en and "transformer.ln_f.weight" in en
    # The chart: a bar per tested component and the threshold −log10 0.01 = 2.
    chart = en.split('id="component-chart"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<rect") == 2 and "transformer.h.0 · derived" in chart and "α · 2.00" in chart


def test_a_private_reference_is_sealed_for_whoever_cannot_read_it(runtime: Runtime, users: Any) -> None:
    make_repo(runtime, "lab/secret-base", {"model.safetensors": weights(1)}, private=True)
    make_repo(runtime, "lab/open-tuned", {"model.safetensors": weights(2)})
    report_id = _report(runtime, "lab/open-tuned", "lab/secret-base")
    path = f"/api/provenance/reports/{report_id}.html?lang=en"
    outsider = browser(runtime, "carol").get(path).text
    assert "secret-base" not in outsider and "withheld" in outsider
    assert 'id="verdict-sentence">' in outsider and "derived" in outsider
    assert 'id="evidence"' not in outsider and 'id="norms"' not in outsider and "0.9858" not in outsider
    assert not DICT_REPR.search(outsider.split('<main id="main"', 1)[1].split("<details>", 1)[0])
    member = browser(runtime, "bob").get(path).text
    assert "lab/secret-base" in member and 'id="evidence"' in member

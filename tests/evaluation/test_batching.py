"""How requests reach the model: longest first, a context's choices in one batch and one row, an
over-long item as one left-truncated row (the harness's row) instead of one full window per choice,
and the positions computed counted for the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
from backend_fixtures import make_tiny_gpt2

from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.runner import request_batches
from baton.evaluation.types import Request


@pytest.fixture(scope="module")
def short_window(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_gpt2(tmp_path_factory.mktemp("window") / "gpt2", positions=32)


def test_batches_run_longest_first_and_keep_a_context_together() -> None:
    requests = [
        Request("loglikelihood", context, choice)
        for context in ("short", "a much longer context here", "medium one")
        for choice in (" A", " B", " C")
    ]
    batches = request_batches(requests, batch_size=4)
    flat = [request for batch in batches for request in batch]
    assert sorted(flat, key=lambda r: r.key()) == sorted(requests, key=lambda r: r.key())
    lengths = [len(request.context) for request in flat]
    assert lengths == sorted(lengths, reverse=True)
    contexts_per_batch = [[request.context for request in batch] for batch in batches]
    # A batch ends only between contexts: 3 choices + 3 choices (passing 4 by the second context's), then 3.
    assert [len(batch) for batch in batches] == [6, 3]
    seen: set[str] = set()
    for contexts in contexts_per_batch:
        assert not (set(contexts) & seen)
        seen |= set(contexts)


def test_an_over_long_item_is_one_truncated_row_equal_to_the_harness_row(short_window: Path) -> None:
    shared = HuggingFaceBackend(str(short_window), batch_size=4)
    plain = HuggingFaceBackend(str(short_window), batch_size=4, share_context=False)  # the harness's rows
    context = "The capital of France is Paris. The capital of Korea is Seoul. " * 4 + "Answer:"
    requests = [Request("loglikelihood", context, choice) for choice in (" A", " B", " C", " D")]
    assert len(shared.encode(context)) > shared.max_length  # over-long
    ours = shared.answer(requests)
    theirs = plain.answer(requests)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.loglikelihood == pytest.approx(reference.loglikelihood, rel=1e-6, abs=1e-6)
        assert mine.is_greedy == reference.is_greedy
    stats, reference_stats = shared.compute_stats(), plain.compute_stats()
    assert stats["rows"] == 1 and reference_stats["rows"] == 4
    assert stats["truncated_requests"] == 4
    assert stats["token_positions"] == shared.max_length
    assert reference_stats["token_positions"] == 4 * shared.max_length


def test_a_batch_ends_where_rows_get_much_shorter() -> None:
    from baton.evaluation.backends.local import length_batches

    rows = [[0] * length for length in (100, 95, 90, 40, 39, 38, 37, 10)]
    batches = [[len(row) for row in batch] for batch in length_batches(rows, 3)]
    assert batches == [[100, 95, 90], [40, 39, 38], [37], [10]]

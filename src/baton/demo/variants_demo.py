"""The commons' variants of an eliminated team's released model, for `baton demo`.

After the release, the commons makes torchao weight-only int8 and int4 variants of the released
tiny Llama (``baton.variants.produce``), publishes each as a repo next to it with a card naming
its base, method and runtime and the base's license, and measures each against the base on the
same items of the demo's KoBEST COPA set (``baton.variants.measure``). The models are tiny, so this
takes seconds. The measurement runs in the demo's own process (no child processes, to keep the
start fast), so its peak memory is the whole process's and its manifest says so.

Without torch and torchao (the base install) it says so and makes nothing.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable
from pathlib import Path

from baton.accounts import service as accounts
from baton.core.errors import BatonError
from baton.core.runtime import Runtime
from baton.hub import cards, commits, repos

WEIGHT_ONLY = ((8, "int8", "torchao-int8-weight-only"), (4, "int4", "torchao-int4-weight-only"))


def available() -> bool:
    return all(
        importlib.util.find_spec(name) is not None for name in ("torch", "transformers", "accelerate", "torchao")
    )


def make_and_measure(runtime: Runtime, base_id: str, maker: str, say: Callable[[str], None]) -> list[str]:
    """Variants of the released model ``base_id``, committed by ``maker`` (a member of its owner) and measured."""
    if not available():
        say(
            "variants: skipped (torch, transformers, accelerate and torchao are not all installed: "
            "install Baton's ml extra)"
        )
        return []
    from baton.variants import measure, produce

    with runtime.database.session() as session:
        base = repos.find_repo(session, repos.parse_repo_id("model", base_id))
        if base is None or base.private:
            return []
        head = commits.resolve_revision(session, base, None)
        entries = commits.tree_entries(session, head.tree_id)
        card = measure.read_card(runtime, session, head)
    made: list[str] = []
    with tempfile.TemporaryDirectory(prefix="baton-demo-variants-") as scratch:
        source = measure.snapshot(runtime, entries, head.oid)
        for bits, suffix, method in WEIGHT_ONLY:
            try:
                out = produce.quantize_weight_only(source, Path(scratch) / suffix, bits)
            except BatonError as error:  # the demo goes on without this variant, saying why
                say(f"variants: {base_id}-{suffix} not made: {error.message}")
                continue
            front = {
                "license": card.license or "other",
                "base_model": base_id,
                "base_model_relation": "quantized",
                "tags": ["baton-demo", "variant"],
                "pipeline_tag": "text-generation",
                "library_name": "transformers",
                "variant": {"kind": "quantized", "method": method, "runtime": "transformers", "bits": bits},
            }
            body = (
                f"# {base_id}-{suffix}\n\n{base_id}의 {bits}비트 가중치 양자화 변형입니다 (torchao).\n"
                f"A {bits}-bit weight-only variant of {base_id}, made by the commons with torchao.\n"
            )
            files = {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}
            files["README.md"] = cards.render_card(front, body).encode()
            with runtime.database.session(write=True) as session:
                actor = accounts.actor_for(accounts.get_account(session, maker))
                key = repos.parse_repo_id("model", f"{base_id}-{suffix}")
                repo, _ = repos.create_repo(session, actor, key, private=False)
                commits.initial_commit(session, runtime.store, actor, repo)
                commit = commits.commit_files(
                    session, runtime.store, runtime.settings, actor, repo, files, title=f"Add {method} variant"
                )
                repo_pk, oid, repo_id = repo.id, commit.oid, repo.repo_id
            row = measure.measure(runtime, repo_pk, oid, in_child=False)
            made.append(repo_id)
            if row.status != "ok":
                say(f"variants: {repo_id} made; its measurement failed: {row.error}")
                continue
            assert row.file_size is not None and row.base_file_size is not None
            say(
                f"variants: {repo_id} ({method}): {row.file_size / 1000:.0f} kB of {row.base_file_size / 1000:.0f} kB, "
                f"accuracy {row.variant_accuracy:.3f} vs {row.base_accuracy:.3f}, retained {row.difference:+.3f} "
                f"[{row.difference_low:+.3f}, {row.difference_high:+.3f}] on {row.n_items} items of {row.task}"
            )
    return made

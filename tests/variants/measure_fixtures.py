"""Tiny Llama models, their torchao int8 variants, hub repos with variant cards, and a multiple-choice task."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from baton.accounts import service as accounts
from baton.core.runtime import Runtime
from baton.hub import cards, commits, repos

CORPUS = [
    "The capital of France is Paris. The capital of Korea is Seoul.",
    "Question: what is two plus two? Answer: four. A B C D",
    "1 2 3 4 5 6 7 8 9 10 plus minus equals",
    "The quick brown fox jumps over the lazy dog.",
]
WEIGHT_NAMES = ("model.safetensors",)


def make_tiny_llama(folder: Path, *, seed: int = 0, hidden: int = 32) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(CORPUS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # sharper logits, so the choices differ
        model.lm_head.weight.mul_(8.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_int8(base: Path, out: Path) -> Path:
    """torchao weight-only int8, as the design's produce step does it."""
    from torchao.quantization import Int8WeightOnlyConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TorchAoConfig

    model = AutoModelForCausalLM.from_pretrained(
        base, quantization_config=TorchAoConfig(Int8WeightOnlyConfig()), device_map="cpu"
    )
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def folder_files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def commit_model(
    runtime: Runtime,
    owner: str,
    repo_id: str,
    folder: Path,
    card: dict[str, Any],
    *,
    private: bool = False,
) -> tuple[int, str]:
    """Create the model repo ``repo_id`` as ``owner`` with ``folder``'s files and a card; (repo pk, commit)."""
    with runtime.database.session(write=True) as session:
        actor = accounts.actor_for(accounts.get_account(session, owner))
        repo, _ = repos.create_repo(session, actor, repos.parse_repo_id("model", repo_id), private=private)
        commits.initial_commit(session, runtime.store, actor, repo)
        files = folder_files(folder) | {"README.md": cards.render_card(card, f"# {repo_id}\n").encode()}
        commit = commits.commit_files(session, runtime.store, runtime.settings, actor, repo, files, title="Add")
        return repo.id, commit.oid


def write_task(folder: Path, rows: int = 24) -> Path:
    """A 4-choice arithmetic task in the KMMLU layout (answer 1-4), local CSV data."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "test.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "A", "B", "C", "D", "answer", "Category"])
        for number in range(rows):
            left, right = number % 7 + 1, number % 5 + 2
            right_answer = left + right
            options = [right_answer + offset for offset in (0, 1, 2, 3)]
            shift = number % 4
            options = options[shift:] + options[:shift]
            writer.writerow([f"{left} plus {right} equals", *options, options.index(right_answer) + 1, "arithmetic"])
    (folder / "task.yaml").write_text(
        "name: tiny_sums\nversion: 1\nformat: kmmlu\noutput_type: multiple_choice\n"
        "data:\n  test: test.csv\n"
        'prompt: "{question}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\nAnswer:"\n'
        "choices: [' A', ' B', ' C', ' D']\ntarget: '{answer_index}'\nmetrics: [acc]\n",
        encoding="utf-8",
    )
    return folder / "task.yaml"

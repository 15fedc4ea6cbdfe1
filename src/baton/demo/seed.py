"""Demo data for a fresh Baton: two users, an organization, a tiny model with a card, a dataset,
a gated repo and a private one. Made without torch, so the base install can show it.
"""

from __future__ import annotations

import json
import random
import struct
from array import array
from dataclasses import dataclass

from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.core.runtime import Runtime
from baton.hub import cards, commits, repos
from baton.hub.models import Repo
from baton.provenance import service as provenance

OPERATOR = "operator"
MEMBER = "minji"
ORGANIZATION = "hanbit-ai"


@dataclass(frozen=True)
class SeedResult:
    created: bool
    tokens: dict[str, str]
    repos: list[str]


def safetensors_bytes(tensors: dict[str, tuple[list[int], array[float]]]) -> bytes:
    """Serialize float32 tensors in the safetensors layout (8-byte header length, JSON, data)."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset, blobs = 0, []
    for name, (shape, values) in tensors.items():
        data = values.tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs)


def tiny_gpt2_files(seed: int = 0) -> dict[str, bytes]:
    """A 2-layer GPT-2 with a 16-wide residual stream and a character-level tokenizer."""
    alphabet = list("abcdefghijklmnopqrstuvwxyz .,?!") + list("안녕하세요모델입니다")
    vocab = {"<|endoftext|>": 0} | {char: index + 1 for index, char in enumerate(alphabet)}
    width, layers, positions = 16, 2, 64
    rng = random.Random(seed)

    def tensor(*shape: int, scale: float = 0.02, constant: float | None = None) -> tuple[list[int], array[float]]:
        count = 1
        for dim in shape:
            count *= dim
        values = array("f", [constant if constant is not None else rng.gauss(0.0, scale) for _ in range(count)])
        return list(shape), values

    weights = {
        "transformer.wte.weight": tensor(len(vocab), width),
        "transformer.wpe.weight": tensor(positions, width),
    }
    for layer in range(layers):
        prefix = f"transformer.h.{layer}."
        weights |= {
            prefix + "ln_1.weight": tensor(width, constant=1.0),
            prefix + "ln_1.bias": tensor(width, constant=0.0),
            prefix + "attn.c_attn.weight": tensor(width, 3 * width),
            prefix + "attn.c_attn.bias": tensor(3 * width, constant=0.0),
            prefix + "attn.c_proj.weight": tensor(width, width),
            prefix + "attn.c_proj.bias": tensor(width, constant=0.0),
            prefix + "ln_2.weight": tensor(width, constant=1.0),
            prefix + "ln_2.bias": tensor(width, constant=0.0),
            prefix + "mlp.c_fc.weight": tensor(width, 4 * width),
            prefix + "mlp.c_fc.bias": tensor(4 * width, constant=0.0),
            prefix + "mlp.c_proj.weight": tensor(4 * width, width),
            prefix + "mlp.c_proj.bias": tensor(width, constant=0.0),
        }
    weights |= {
        "transformer.ln_f.weight": tensor(width, constant=1.0),
        "transformer.ln_f.bias": tensor(width, constant=0.0),
    }
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": len(vocab),
        "n_positions": positions,
        "n_embd": width,
        "n_layer": layers,
        "n_head": 2,
        "bos_token_id": 0,
        "eos_token_id": 0,
        "tie_word_embeddings": True,
    }
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": 0,
                "content": "<|endoftext|>",
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {
            "type": "Split",
            "pattern": {"Regex": "."},
            "behavior": "Isolated",
            "invert": False,
        },
        "post_processor": None,
        "decoder": {"type": "Fuse"},
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<|endoftext|>"},
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "model_max_length": positions,
    }
    return {
        "config.json": json.dumps(config, indent=2).encode(),
        "model.safetensors": safetensors_bytes(weights),
        "tokenizer.json": json.dumps(tokenizer, ensure_ascii=False).encode(),
        "tokenizer_config.json": json.dumps(tokenizer_config, indent=2).encode(),
    }


def _model_card(title: str, extra: dict[str, object] | None = None) -> bytes:
    data: dict[str, object] = {
        "license": "apache-2.0",
        "language": ["ko", "en"],
        "tags": ["baton-demo", "tiny"],
        "pipeline_tag": "text-generation",
        "library_name": "transformers",
    } | (extra or {})
    body = f"# {title}\n\n작은 데모 모델입니다. A tiny demo model generated by `baton demo`.\n"
    return cards.render_card(data, body).encode()


def _dataset_files() -> dict[str, bytes]:
    rows = [
        ("대한민국의 수도는?", "서울"),
        ("1 더하기 2는?", "3"),
        ("What is the capital of France?", "Paris"),
        ("한글을 만든 왕은?", "세종대왕"),
    ]
    csv_text = "question,answer\n" + "".join(f"{q},{a}\n" for q, a in rows)
    jsonl = "".join(json.dumps({"question": q, "answer": a}, ensure_ascii=False) + "\n" for q, a in rows)
    card = cards.render_card(
        {
            "license": "cc-by-4.0",
            "language": ["ko", "en"],
            "tags": ["baton-demo", "qa"],
            "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train.csv"}]}],
        },
        "# Tiny Korean QA\n\n네 문항짜리 데모 데이터셋입니다.\n",
    )
    return {
        "README.md": card.encode(),
        "data/train.csv": csv_text.encode(),
        "data/train.jsonl": jsonl.encode(),
    }


def _make_repo(
    session: Session, runtime: Runtime, user: Actor, repo_type: str, repo_id: str, *, private: bool = False
) -> Repo:
    repo, _ = repos.create_repo(session, user, repos.parse_repo_id(repo_type, repo_id), private=private)
    commits.initial_commit(session, runtime.store, user, repo)
    return repo


def seed_demo(runtime: Runtime) -> SeedResult:
    """Load the demo data once; a second call changes nothing and issues no tokens."""
    with runtime.database.session(write=True) as session:
        if accounts.find_account(session, OPERATOR) is not None:
            return SeedResult(created=False, tokens={}, repos=[])
        operator = accounts.create_user(session, OPERATOR, fullname="Challenge Operator", is_admin=True)
        member = accounts.create_user(session, MEMBER, fullname="Kim Minji")
        org = accounts.create_organization(session, ORGANIZATION, creator=operator, fullname="Hanbit AI consortium")
        accounts.set_membership(session, org, member, "write")
        tokens = {
            OPERATOR: accounts.issue_token(session, operator, name="demo").value,
            MEMBER: accounts.issue_token(session, member, name="demo").value,
        }
        settings = runtime.settings
        as_operator, as_member = accounts.actor_for(operator), accounts.actor_for(member)
        made = []

        model = _make_repo(session, runtime, as_member, "model", f"{ORGANIZATION}/tiny-gpt")
        files = tiny_gpt2_files() | {"README.md": _model_card("tiny-gpt")}
        commits.commit_files(session, runtime.store, settings, as_member, model, files, title="Add tiny GPT-2")
        made.append(f"model {model.repo_id}")

        tuned = _make_repo(session, runtime, as_member, "model", f"{ORGANIZATION}/tiny-gpt-chat")
        files = tiny_gpt2_files(seed=1) | {
            "README.md": _model_card("tiny-gpt-chat", {"base_model": model.repo_id, "base_model_relation": "finetune"})
        }
        commits.commit_files(session, runtime.store, settings, as_member, tuned, files, title="Fine-tune tiny-gpt")
        made.append(f"model {tuned.repo_id} (base_model {model.repo_id})")

        dataset = _make_repo(session, runtime, as_member, "dataset", f"{ORGANIZATION}/tiny-ko-qa")
        commits.commit_files(session, runtime.store, settings, as_member, dataset, _dataset_files(), title="Add data")
        made.append(f"dataset {dataset.repo_id}")

        gated = _make_repo(session, runtime, as_operator, "model", f"{ORGANIZATION}/tiny-gpt-gated")
        gated_card = _model_card(
            "tiny-gpt-gated",
            {
                "extra_gated_prompt": "Agree to use this model for research only.",
                "extra_gated_fields": {"Affiliation": "text", "I agree to the terms": "checkbox"},
            },
        )
        files = tiny_gpt2_files(seed=2) | {"README.md": gated_card}
        commits.commit_files(session, runtime.store, settings, as_operator, gated, files, title="Add gated model")
        repos.update_settings(session, as_operator, repos.parse_repo_id("model", gated.repo_id), gated="manual")
        made.append(f"model {gated.repo_id} (gated, manual approval)")

        private = _make_repo(session, runtime, as_member, "model", f"{MEMBER}/private-notes", private=True)
        commits.commit_files(
            session,
            runtime.store,
            settings,
            as_member,
            private,
            {"README.md": b"# Private notes\n\nOnly minji can see this repo.\n"},
            title="Notes",
        )
        made.append(f"model {private.repo_id} (private)")
        # The worker inside `baton demo` fingerprints and compares them: tiny-gpt-chat declares
        # tiny-gpt as its base, but its weights were drawn independently, so the report says the
        # declaration is not confirmed by the weights.
        for repo in (model, tuned, gated):
            provenance.enqueue_scan(session, repo, commits.resolve_revision(session, repo, None).oid)
        return SeedResult(created=True, tokens=tokens, repos=made)

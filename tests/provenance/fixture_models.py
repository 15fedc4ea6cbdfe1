"""Tiny trained models for the provenance validation suite.

Everything here is deterministic (seeded) and small enough to train on 2 CPU cores in about a
minute. The trained state dicts are cached by the caller under a key that hashes this file, so
editing the training recipe regenerates them.

Independent models share the training data (the hardest case: convergent learning) and differ
only by seed. Derivatives are made by further training (fine-tuning, continued pretraining,
a VLM whose language model is trained around a frozen copied vision encoder); the purely
structural ones (permutations, rotations, pruning, quantization) come from
``baton.provenance.synthetic`` in the tests themselves.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

StateDict = dict[str, np.ndarray]

WORDS = [
    *("the", "a", "cat", "dog", "bird", "fish", "sat", "ran", "flew", "swam", "on", "under", "over", "near"),
    *("mat", "log", "tree", "pond", "red", "blue", "green", "small", "big", "quick", "slow", "and", "then"),
    *("it", "saw"),
]
CLASS_WORDS = ["red dot", "blue bar", "green ring", "big cross", "small box", "slow wave", "quick line", "cat face"]
SEQ = 32
LM_WIDTH = 48
LM_LAYERS = 3
LM_MLP = 128


def corpus(seed: int, size: int = 30000) -> str:
    rng = random.Random(seed)
    words = WORDS if seed == 0 else [w[::-1] if rng.random() < 0.5 else w for w in WORDS]
    parts: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(4, 9))) + ". "
        parts.append(sentence)
        total += len(sentence)
    return "".join(parts)


# Printable ASCII: more tokens than the corpus uses, as in real tokenizers (rare rows stay near init).
VOCAB_CHARS = [chr(code) for code in range(32, 127)]
VOCABULARY = {c: i for i, c in enumerate(VOCAB_CHARS)}


def encode(text: str) -> torch.Tensor:
    return torch.tensor([VOCABULARY[c] for c in text], dtype=torch.long)


def batches(text: str, seed: int, batch: int = 16) -> Callable[[], torch.Tensor]:
    data = encode(text)
    generator = torch.Generator().manual_seed(seed)

    def next_batch() -> torch.Tensor:
        starts = torch.randint(0, len(data) - SEQ - 1, (batch,), generator=generator)
        return torch.stack([data[s : s + SEQ + 1] for s in starts.tolist()])

    return next_batch


class RMSNorm(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)


def rotary(x: torch.Tensor) -> torch.Tensor:
    # x: (batch, heads, seq, head_dim)
    half = x.shape[-1] // 2
    frequencies = 1.0 / (10000 ** (torch.arange(half, dtype=torch.float32) / half))
    angles = torch.arange(x.shape[2], dtype=torch.float32)[:, None] * frequencies[None]
    cos, sin = angles.cos(), angles.sin()
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)


class LlamaLayer(nn.Module):
    def __init__(self, width: int, mlp: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, width // heads
        self.input_layernorm = RMSNorm(width)
        self.self_attn = nn.ModuleDict(
            {
                "q_proj": nn.Linear(width, width, bias=False),
                "k_proj": nn.Linear(width, kv_heads * self.head_dim, bias=False),
                "v_proj": nn.Linear(width, kv_heads * self.head_dim, bias=False),
                "o_proj": nn.Linear(width, width, bias=False),
            }
        )
        self.post_attention_layernorm = RMSNorm(width)
        self.mlp = nn.ModuleDict(
            {
                "gate_proj": nn.Linear(width, mlp, bias=False),
                "up_proj": nn.Linear(width, mlp, bias=False),
                "down_proj": nn.Linear(mlp, width, bias=False),
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        h = self.input_layernorm(x)
        attn = self.self_attn
        q = attn["q_proj"](h).view(batch, seq, self.heads, self.head_dim).transpose(1, 2)
        k = attn["k_proj"](h).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        v = attn["v_proj"](h).view(batch, seq, self.kv_heads, self.head_dim).transpose(1, 2)
        repeat = self.heads // self.kv_heads
        k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
        out = attend(rotary(q), rotary(k), v).transpose(1, 2).reshape(batch, seq, -1)
        x = x + attn["o_proj"](out)
        h = self.post_attention_layernorm(x)
        mlp = self.mlp
        return x + mlp["down_proj"](torch.nn.functional.silu(mlp["gate_proj"](h)) * mlp["up_proj"](h))


class LlamaModel(nn.Module):
    def __init__(self, vocab: int, width: int, layers: int, mlp: int) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, width)
        self.layers = nn.ModuleList([LlamaLayer(width, mlp, 4, 2) for _ in range(layers)])
        self.norm = RMSNorm(width)

    def forward(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        x = inputs_embeds
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)  # type: ignore[no-any-return]


class LlamaLM(nn.Module):
    """Llama-style causal LM with the tensor names of transformers' LlamaForCausalLM."""

    def __init__(self, *, tied: bool, vocab: int = 0, width: int = LM_WIDTH, layers: int = LM_LAYERS) -> None:
        super().__init__()
        self.tied = tied
        self.model = LlamaModel(vocab or len(VOCABULARY), width, layers, LM_MLP)
        self.lm_head = nn.Linear(width, vocab or len(VOCABULARY), bias=False)
        if tied:
            self.lm_head.weight = self.model.embed_tokens.weight
        for name, parameter in self.named_parameters():
            if parameter.dim() == 2:
                nn.init.normal_(parameter, std=0.05)
            elif name.endswith("weight"):
                nn.init.ones_(parameter)

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.model(self.model.embed_tokens(tokens)))  # type: ignore[no-any-return]


def conv1d(rows: int, columns: int) -> nn.ParameterDict:
    # GPT-2 stores its projections as Conv1D: weight (in, out).
    return nn.ParameterDict(
        {"weight": nn.Parameter(torch.randn(rows, columns) * 0.02), "bias": nn.Parameter(torch.zeros(columns))}
    )


class GPT2Block(nn.Module):
    def __init__(self, width: int, mlp: int) -> None:
        super().__init__()
        self.heads = 4
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.ModuleDict({"c_attn": conv1d(width, 3 * width), "c_proj": conv1d(width, width)})
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.ModuleDict({"c_fc": conv1d(width, mlp), "c_proj": conv1d(mlp, width)})

    @staticmethod
    def apply(parameters: nn.ParameterDict, x: torch.Tensor) -> torch.Tensor:
        return x @ parameters["weight"] + parameters["bias"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, width = x.shape
        qkv = self.apply(self.attn["c_attn"], self.ln_1(x)).view(batch, seq, 3, self.heads, width // self.heads)
        q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
        out = attend(q, k, v).transpose(1, 2).reshape(batch, seq, width)
        x = x + self.apply(self.attn["c_proj"], out)
        hidden = torch.nn.functional.gelu(self.apply(self.mlp["c_fc"], self.ln_2(x)))
        return x + self.apply(self.mlp["c_proj"], hidden)


class GPT2Transformer(nn.Module):
    def __init__(self, vocab: int, width: int, layers: int, mlp: int) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(64, width)
        self.h = nn.ModuleList([GPT2Block(width, mlp) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(width)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)


class GPT2LM(nn.Module):
    """GPT-2 with the tensor names of transformers' GPT2LMHeadModel (tied head)."""

    def __init__(self) -> None:
        super().__init__()
        self.transformer = GPT2Transformer(len(VOCABULARY), LM_WIDTH, LM_LAYERS, LM_MLP)

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        t = self.transformer
        x = t.wte(tokens) + t.wpe.weight[: tokens.shape[1]]
        for block in t.h:
            x = block(x)
        return t.ln_f(x) @ t.wte.weight.T  # type: ignore[no-any-return]


def llama(seed: int, *, tied: bool) -> LlamaLM:
    torch.manual_seed(seed)
    return LlamaLM(tied=tied)


def gpt2(seed: int) -> GPT2LM:
    torch.manual_seed(seed)
    return GPT2LM()


def train_lm(model: Any, text: str, *, seed: int, steps: int, lr: float) -> Any:
    next_batch = batches(text, seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        tokens = next_batch()
        logits = model.logits(tokens[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def state(model: nn.Module) -> StateDict:
    # Tied weights appear once, under the name the checkpoint keeps (as save_pretrained does).
    seen: set[int] = set()
    out: StateDict = {}
    for name, tensor in model.state_dict().items():
        if "rotary_emb" in name or name.endswith(".attn.bias") or name.endswith("masked_bias"):
            continue
        pointer = tensor.data_ptr()
        if pointer in seen:
            continue
        seen.add(pointer)
        out[name] = tensor.detach().float().numpy().copy()
    return out


# --- a tiny vision-language model -------------------------------------------------------------


class VisionLayer(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(width)
        self.self_attn = nn.ModuleDict(
            {name: nn.Linear(width, width) for name in ("q_proj", "k_proj", "v_proj", "out_proj")}
        )
        self.layer_norm2 = nn.LayerNorm(width)
        self.mlp = nn.ModuleDict({"fc1": nn.Linear(width, 2 * width), "fc2": nn.Linear(2 * width, width)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layer_norm1(x)
        attn = self.self_attn
        q, k, v = attn["q_proj"](h), attn["k_proj"](h), attn["v_proj"](h)
        weights = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1)
        x = x + attn["out_proj"](weights @ v)
        return x + self.mlp["fc2"](torch.nn.functional.gelu(self.mlp["fc1"](self.layer_norm2(x))))


class VisionTower(nn.Module):
    def __init__(self, width: int = 32, layers: int = 2, patch: int = 4, image: int = 16) -> None:
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, width, patch, patch)
        self.position_embedding = nn.Embedding((image // patch) ** 2, width)
        self.encoder = nn.ModuleDict({"layers": nn.ModuleList([VisionLayer(width) for _ in range(layers)])})
        self.post_layernorm = nn.LayerNorm(width)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embedding(images).flatten(2).transpose(1, 2) + self.position_embedding.weight
        for layer in self.encoder["layers"]:
            x = layer(x)
        return self.post_layernorm(x)  # type: ignore[no-any-return]


class TinyVLM(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.vision_tower = VisionTower()
        self.multi_modal_projector = nn.ModuleDict(
            {"linear_1": nn.Linear(32, LM_WIDTH), "linear_2": nn.Linear(LM_WIDTH, LM_WIDTH)}
        )
        self.language_model = llama(seed + 1000, tied=False)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        image_states = self.multi_modal_projector["linear_2"](
            torch.nn.functional.gelu(self.multi_modal_projector["linear_1"](self.vision_tower(images)))
        )
        text = self.language_model.model.embed_tokens(tokens[:, :-1])
        inputs = torch.cat([image_states, text], dim=1)
        labels = torch.cat([torch.full(image_states.shape[:2], -100), tokens[:, 1:]], dim=1)
        # labels are pre-shifted: predict token t+1 from position t; pass through the LM head manually.
        hidden = self.language_model.model(inputs)
        logits = self.language_model.lm_head(hidden)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def image_batch(rng: torch.Generator, templates: torch.Tensor, batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    classes = torch.randint(0, len(CLASS_WORDS), (batch,), generator=rng)
    images = templates[classes] + 0.3 * torch.randn((batch, 3, 16, 16), generator=rng)
    width = max(len(w) for w in CLASS_WORDS) + 1
    tokens = torch.stack([encode(("#" + CLASS_WORDS[c]).ljust(width + 1, ".")) for c in classes.tolist()])
    return images, tokens


def train_vlm(seed: int, *, steps: int, frozen_tower: dict[str, torch.Tensor] | None = None) -> TinyVLM:
    model = TinyVLM(seed)
    if frozen_tower is not None:
        model.vision_tower.load_state_dict(frozen_tower)
        for parameter in model.vision_tower.parameters():
            parameter.requires_grad_(False)
    templates = torch.randn((len(CLASS_WORDS), 3, 16, 16), generator=torch.Generator().manual_seed(4242))
    rng = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3, weight_decay=0.0)
    for _ in range(steps):
        images, tokens = image_batch(rng, templates)
        loss = model(images, tokens)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def generate() -> dict[str, StateDict]:
    """Every trained model of the suite, by name."""
    torch.set_num_threads(1)
    text = corpus(0)
    models: dict[str, StateDict] = {}
    trained: dict[str, Any] = {}
    for seed in range(8):
        model = train_lm(llama(seed, tied=seed % 2 == 0), text, seed=seed, steps=150, lr=3e-3)
        trained[f"llama{seed}"] = model
        models[f"llama{seed}"] = state(model)
    for seed in range(3):
        model = train_lm(gpt2(100 + seed), text, seed=100 + seed, steps=150, lr=3e-3)
        trained[f"gpt2_{seed}"] = model
        models[f"gpt2_{seed}"] = state(model)

    def copy_of(name: str, seed: int) -> nn.Module:
        source = trained[name]
        fresh: nn.Module = llama(seed, tied=source.tied) if isinstance(source, LlamaLM) else gpt2(seed)
        fresh.load_state_dict(trained[name].state_dict())
        return fresh

    # Derivatives of llama1 (untied) and gpt2_0.
    models["llama1_finetune"] = state(train_lm(copy_of("llama1", 1), corpus(1), seed=501, steps=80, lr=1e-3))
    models["llama1_finetune_b"] = state(train_lm(copy_of("llama1", 1), corpus(2), seed=502, steps=80, lr=1e-3))
    models["llama1_continued"] = state(train_lm(copy_of("llama1", 1), corpus(3), seed=503, steps=150, lr=1e-2))
    models["llama0_finetune"] = state(train_lm(copy_of("llama0", 0), corpus(1), seed=504, steps=80, lr=1e-3))
    models["gpt2_0_finetune"] = state(train_lm(copy_of("gpt2_0", 100), corpus(1), seed=505, steps=80, lr=1e-3))

    vlm_a = train_vlm(7, steps=120)
    vlm_b = train_vlm(8, steps=120)
    vlm_c = train_vlm(9, steps=120, frozen_tower=vlm_a.vision_tower.state_dict())
    models["vlm_a"] = state(vlm_a)
    models["vlm_b"] = state(vlm_b)
    # The copied encoder sits under another prefix in the offending checkpoint.
    models["vlm_copied_tower"] = {
        (name.replace("vision_tower.", "model.vision_encoder.", 1) if name.startswith("vision_tower.") else name): v
        for name, v in state(vlm_c).items()
    }
    return models

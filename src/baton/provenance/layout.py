"""Recognise the components of a checkpoint from its tensor names.

Works from names (and shapes) only, across the common families: GPT-2 (``transformer.h.N``,
Conv1D weights stored ``(in, out)``), Llama/Mistral/Qwen (``model.layers.N``), Mixtral/Qwen-MoE
experts, CLIP/SigLIP-style vision towers under any prefix, ``lm_head``, embeddings and norms.

A *component* is named by its module prefix in the checkpoint: each language-model block
(``model.layers.2``), each encoder tower as a whole (``vision_tower``), and every other module
(``model.embed_tokens``, ``lm_head``, ``model.norm``, ``multi_modal_projector.linear_1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STACK_SEGMENTS = {"layers", "h", "blocks", "layer", "block"}
TOWER_WORDS = ("vision", "visual", "image", "audio", "siglip", "clip", "vit", "speech")

ATTENTION_WORDS = ("attn", "attention")
MLP_WORDS = ("mlp", "ffn", "feed_forward", "moe", "experts")

ROLE_BY_MODULE: dict[str, str] = {
    "q_proj": "q", "query": "q", "wq": "q", "q": "q",
    "k_proj": "k", "key": "k", "wk": "k", "k": "k",
    "v_proj": "v", "value": "v", "wv": "v", "v": "v",
    "c_attn": "qkv", "qkv_proj": "qkv", "query_key_value": "qkv", "wqkv": "qkv", "qkv": "qkv",
    "o_proj": "o", "out_proj": "o", "wo": "o", "dense": "o", "c_proj": "o", "proj": "o",
    "gate_proj": "gate", "w1": "gate",
    "up_proj": "up", "c_fc": "up", "fc1": "up", "w3": "up", "dense_h_to_4h": "up", "fc_in": "up",
    "down_proj": "down", "fc2": "down", "w2": "down", "dense_4h_to_h": "down", "fc_out": "down",
}  # fmt: skip
# Inside an MLP, a few names change meaning.
MLP_OVERRIDES = {"c_proj": "down", "wo": "down", "dense": "down", "proj": "down", "wi": "up"}

NORM_BEFORE_ATTENTION = {"input_layernorm", "ln_1", "layer_norm1", "attention_norm", "norm1", "ln1", "layernorm_before"}
NORM_BEFORE_MLP = {"post_attention_layernorm", "ln_2", "layer_norm2", "ffn_norm", "norm2", "ln2", "layernorm_after"}
TOKEN_EMBEDDING_MODULES = {"embed_tokens", "wte", "word_embeddings", "tok_embeddings", "embed_in"}
POSITION_EMBEDDING_MODULES = {"wpe", "position_embedding", "position_embeddings", "embed_positions"}
PATCH_EMBEDDING_MODULES = {"patch_embedding", "patch_embed", "patch_embeddings", "proj", "conv1"}
LM_HEAD_MODULES = {"lm_head", "embed_out", "output"}
FINAL_NORM_MODULES = {"norm", "ln_f", "final_layernorm", "final_layer_norm", "post_layernorm", "norm_f"}

READER_ROLES = ("q", "k", "v", "qkv", "gate", "up")
WRITER_ROLES = ("o", "down")


@dataclass
class Block:
    """One transformer block: its tensors by role (weights only; biases stay in ``names``)."""

    name: str
    stack: str
    index: int
    component: str  # the block itself in a language model, the tower root in an encoder
    tower: str | None
    conv1d: bool = False  # GPT-2 Conv1D: weights stored (in, out)
    roles: dict[str, str] = field(default_factory=dict)
    experts: dict[int, dict[str, str]] = field(default_factory=dict)
    router: str | None = None
    names: list[str] = field(default_factory=list)


@dataclass
class Layout:
    blocks: list[Block]
    component_of: dict[str, str]  # tensor name -> component name
    token_embedding: str | None = None
    position_embedding: str | None = None
    lm_head: str | None = None
    final_norm: str | None = None
    tower_anchors: dict[str, list[str]] = field(default_factory=dict)  # tower root -> patch/position embeddings
    tower_final_norms: dict[str, str] = field(default_factory=dict)

    def stacks(self) -> dict[str, list[Block]]:
        out: dict[str, list[Block]] = {}
        for block in self.blocks:
            out.setdefault(block.stack, []).append(block)
        for blocks in out.values():
            blocks.sort(key=lambda b: b.index)
        return out

    def language_stack(self) -> list[Block]:
        stacks = [blocks for blocks in self.stacks().values() if blocks[0].tower is None]
        return max(stacks, key=len) if stacks else []

    def tower_stacks(self) -> dict[str, list[Block]]:
        out: dict[str, list[Block]] = {}
        for blocks in self.stacks().values():
            tower = blocks[0].tower
            if tower is not None and (tower not in out or len(blocks) > len(out[tower])):
                out[tower] = blocks
        return out

    def components(self) -> list[str]:
        return list(dict.fromkeys(self.component_of.values()))


def tower_root(name: str) -> str | None:
    """The prefix up to the first segment that names an encoder tower (``vision_tower``), if any."""
    segments = name.split(".")
    for position, segment in enumerate(segments[:-1]):
        lowered = segment.lower()
        if any(word in lowered for word in TOWER_WORDS):
            return ".".join(segments[: position + 1])
    return None


_BLOCK = re.compile(r"^(?P<stack>(?:[^.]+\.)*?(?:layers|h|blocks|layer|block))\.(?P<index>\d+)\.(?P<rest>.+)$")
_EXPERT = re.compile(r"(?:^|\.)experts\.(?P<expert>\d+)\.")


def _module_of(name: str) -> str:
    return name.rsplit(".", 1)[0] if name.endswith((".weight", ".bias")) else name


def _role(rest: str) -> str | None:
    """Role of a block-relative weight name, e.g. ``self_attn.q_proj.weight`` -> ``q``."""
    if not rest.endswith(".weight"):
        return None
    segments = rest[: -len(".weight")].split(".")
    module = segments[-1].lower()
    parents = ".".join(segments[:-1]).lower()
    if module in NORM_BEFORE_ATTENTION:
        return "norm_attention"
    if module in NORM_BEFORE_MLP:
        return "norm_mlp"
    in_mlp = any(word in parents for word in MLP_WORDS)
    in_attention = any(word in parents for word in ATTENTION_WORDS)
    if in_mlp and module in MLP_OVERRIDES:
        return MLP_OVERRIDES[module]
    if in_mlp and module == "gate":
        return "router"
    role = ROLE_BY_MODULE.get(module)
    if role in ("q", "k", "v", "qkv", "o") and in_mlp and not in_attention:
        return None
    return role


def analyse(names: list[str]) -> Layout:
    """Group tensor names into blocks and components."""
    blocks: dict[str, Block] = {}
    component_of: dict[str, str] = {}
    layout = Layout(blocks=[], component_of=component_of)
    for name in names:
        tower = tower_root(name)
        match = _BLOCK.match(name)
        if match and (tower is None or len(match.group("stack")) > len(tower)):
            stack, index, rest = match.group("stack"), int(match.group("index")), match.group("rest")
            block_name = f"{stack}.{index}"
            block = blocks.get(block_name)
            if block is None:
                block = Block(block_name, stack, index, component=tower or block_name, tower=tower)
                blocks[block_name] = block
            block.names.append(name)
            component_of[name] = block.component
            if any(part in rest for part in ("c_attn", "c_fc")):
                block.conv1d = True
            expert = _EXPERT.search("." + rest)
            role = _role(rest)
            if role is None:
                continue
            if expert is not None:
                block.experts.setdefault(int(expert.group("expert")), {})[role] = name
            elif role == "router":
                block.router = name
            else:
                block.roles.setdefault(role, name)
            continue
        module = _module_of(name)
        last = module.split(".")[-1].lower()
        component_of[name] = tower or module
        if not name.endswith(".weight"):
            continue
        if tower is not None:
            if last in PATCH_EMBEDDING_MODULES or last in POSITION_EMBEDDING_MODULES:
                layout.tower_anchors.setdefault(tower, []).append(name)
            elif last in FINAL_NORM_MODULES:
                layout.tower_final_norms[tower] = name
            continue
        if last in TOKEN_EMBEDDING_MODULES and layout.token_embedding is None:
            layout.token_embedding = name
        elif last in POSITION_EMBEDDING_MODULES and layout.position_embedding is None:
            layout.position_embedding = name
        elif last in LM_HEAD_MODULES and layout.lm_head is None:
            layout.lm_head = name
        elif last in FINAL_NORM_MODULES and layout.final_norm is None:
            layout.final_norm = name
    layout.blocks = sorted(blocks.values(), key=lambda b: (b.stack, b.index))
    for block in layout.blocks:
        if block.conv1d:
            continue
        # Fused names alone (``qkv``) do not say the orientation; GPT-2 is recognised by c_attn/c_fc.
    return layout

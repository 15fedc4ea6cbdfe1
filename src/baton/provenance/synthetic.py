"""Function-preserving (or nearly) transformations of numpy state dicts.

The derivations an adversary can apply to hide where weights came from, and the ordinary ones
(pruning, upcycling, merging, quantization), as reusable functions for tests and benchmarks.
Every function returns a new state dict and leaves its input untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import ml_dtypes
import numpy as np
import numpy.typing as npt

from baton.core.errors import NotSupportedError
from baton.provenance.layout import Block, analyse

StateDict = dict[str, npt.NDArray[np.generic]]


def _copy(state: StateDict) -> dict[str, npt.NDArray[np.float32]]:
    return {name: np.array(value, dtype=np.float32) for name, value in state.items()}


def _mlp_roles(block: Block) -> dict[str, str]:
    return {role: block.roles[role] for role in ("gate", "up", "down") if role in block.roles}


def _bias(name: str, state: Mapping[str, object]) -> str | None:
    bias = name[: -len("weight")] + "bias"
    return bias if bias in state else None


def permute_hidden_units(state: StateDict, seed: int = 0) -> dict[str, npt.NDArray[np.float32]]:
    """Permute every block's MLP hidden units (gate/up rows, down columns). Exact symmetry."""
    out = _copy(state)
    rng = np.random.default_rng(seed)
    for block in analyse(list(state)).blocks:
        roles = _mlp_roles(block)
        if "up" not in roles:
            continue
        units = out[roles["up"]].shape[1 if block.conv1d else 0]
        order = rng.permutation(units)
        for role, name in roles.items():
            unit_axis = (1 if role != "down" else 0) if block.conv1d else (0 if role != "down" else 1)
            out[name] = np.take(out[name], order, axis=unit_axis)
            bias = _bias(name, out)
            if bias and role != "down":
                out[bias] = out[bias][order]
    return out


def _residual_axes(name: str, block: Block | None, role: str | None, conv1d: bool) -> list[int]:
    """Axes of a tensor that live in the residual stream."""
    if role in ("q", "k", "v", "qkv", "gate", "up"):
        return [0 if conv1d else 1]
    if role in ("o", "down"):
        return [1 if conv1d else 0]
    return []


def rotate_residual(
    state: StateDict, rotation: npt.NDArray[np.float64] | None = None, *, seed: int = 0, fold_norms: bool = True
) -> dict[str, npt.NDArray[np.float32]]:
    """Rotate the residual stream by an orthogonal matrix (Haar-random when not given).

    RMSNorm commutes with rotations only when its gain is 1, so the gains are folded into the
    matrices that read the normalised stream (as SliceGPT does) and set to 1. A signed permutation
    needs no folding (``fold_norms=False`` then permutes the gains). LayerNorm models (GPT-2) are
    supported for signed permutations only.
    """
    layout = analyse(list(state))
    out = _copy(state)
    stack = layout.language_stack()
    if not stack:
        raise NotSupportedError("no transformer blocks found to rotate")
    width = out[stack[0].roles.get("o") or stack[0].roles["down"]].shape[1 if stack[0].conv1d else 0]
    if rotation is None:
        gaussian = np.random.default_rng(seed).standard_normal((width, width))
        q, r = np.linalg.qr(gaussian)
        rotation = q * np.sign(np.diag(r))[None, :]
    signed_permutation = bool(
        np.all(np.isclose(np.abs(rotation).sum(axis=0), 1.0)) and np.allclose(np.abs(rotation).max(axis=0), 1.0)
    )
    if stack[0].conv1d and not signed_permutation:
        raise NotSupportedError("rotating a LayerNorm model's residual stream is not function-preserving")
    q_matrix = rotation.astype(np.float64)  # new residual x' = x @ Q

    def fold(gain_name: str | None, readers: list[str], conv1d: bool) -> None:
        if gain_name is None or not fold_norms or signed_permutation:
            return
        gain = out[gain_name].astype(np.float64)
        for name in readers:
            if conv1d:
                out[name] = (out[name] * gain[:, None]).astype(np.float32)
            else:
                out[name] = (out[name] * gain[None, :]).astype(np.float32)
        out[gain_name] = np.ones_like(out[gain_name])

    permutation = np.abs(q_matrix)  # for 1-D residual parameters when signed_permutation
    for block in stack:
        readers_attention = [block.roles[r] for r in ("q", "k", "v", "qkv") if r in block.roles]
        readers_mlp = [block.roles[r] for r in ("gate", "up") if r in block.roles]
        fold(block.roles.get("norm_attention"), readers_attention, block.conv1d)
        fold(block.roles.get("norm_mlp"), readers_mlp, block.conv1d)
        for role, name in block.roles.items():
            if role.startswith("norm"):
                if signed_permutation:
                    out[name] = (out[name] @ permutation).astype(np.float32)
                    bias = _bias(name, out)
                    if bias:
                        out[bias] = (out[bias] @ q_matrix).astype(np.float32)
                continue
            for axis in _residual_axes(name, block, role, block.conv1d):
                out[name] = np.moveaxis(np.moveaxis(out[name], axis, -1) @ q_matrix, -1, axis).astype(np.float32)
            if role in ("o", "down"):
                bias = _bias(name, out)
                if bias:
                    out[bias] = (out[bias] @ q_matrix).astype(np.float32)
    for anchor in (layout.token_embedding, layout.position_embedding):
        if anchor:
            out[anchor] = (out[anchor].astype(np.float64) @ q_matrix).astype(np.float32)
    head: str | None = layout.lm_head
    if head is None and layout.token_embedding is not None and not stack[0].conv1d:
        # Tied head: untie, since folding the final norm changes the head alone.
        head = "lm_head.weight"
        out[head] = np.array(state[layout.token_embedding], dtype=np.float32)
    if layout.final_norm:
        if signed_permutation:
            out[layout.final_norm] = (out[layout.final_norm] @ permutation).astype(np.float32)
            bias = _bias(layout.final_norm, out)
            if bias:
                out[bias] = (out[bias] @ q_matrix).astype(np.float32)
        elif head is not None:
            fold(layout.final_norm, [head], False)
    if head is not None and head in out and head != layout.token_embedding:
        out[head] = (out[head].astype(np.float64) @ q_matrix).astype(np.float32)
    return out


def permute_residual(state: StateDict, seed: int = 0, *, signs: bool = True) -> dict[str, npt.NDArray[np.float32]]:
    """Relabel (and sign-flip) the residual coordinates. Exact symmetry, also for LayerNorm models."""
    layout = analyse(list(state))
    block = layout.language_stack()[0]
    width = np.asarray(state[block.roles["o"]]).shape[1 if block.conv1d else 0]
    rng = np.random.default_rng(seed)
    matrix = np.zeros((width, width))
    flips = rng.choice([-1.0, 1.0], size=width) if signs else np.ones(width)
    if layout.language_stack()[0].roles.get("norm_attention") and _bias(block.roles["norm_attention"], state):
        flips = np.ones(width)  # LayerNorm subtracts the mean: sign flips are not a symmetry there
    matrix[np.arange(width), rng.permutation(width)] = flips
    return rotate_residual(state, matrix)


def rescale(state: StateDict, seed: int = 0) -> dict[str, npt.NDArray[np.float32]]:
    """Function-preserving rescaling: residual stream ×c (norms are scale-invariant), up ×s / down ÷s,
    q ×t / k ÷t (attention logits unchanged)."""
    layout = analyse(list(state))
    out = _copy(state)
    rng = np.random.default_rng(seed)
    residual = float(rng.uniform(2.0, 4.0))
    for name in (layout.token_embedding, layout.position_embedding):
        if name:
            out[name] = out[name] * residual
    if layout.lm_head is None and layout.token_embedding and layout.final_norm:
        # Tied head reads the scaled embedding: compensate in the final norm gain.
        out[layout.final_norm] = out[layout.final_norm] / residual
        bias = _bias(layout.final_norm, out)
        if bias:
            out[bias] = out[bias] / residual
    for block in layout.language_stack():
        for role in ("o", "down"):
            if role in block.roles:
                out[block.roles[role]] = out[block.roles[role]] * residual
                bias = _bias(block.roles[role], out)
                if bias:
                    out[bias] = out[bias] * residual
        if "up" in block.roles and "down" in block.roles and "gate" in block.roles:
            scale = float(rng.uniform(0.3, 3.0))
            out[block.roles["up"]] = out[block.roles["up"]] * scale
            out[block.roles["down"]] = out[block.roles["down"]] / scale
        if "q" in block.roles and "k" in block.roles:
            scale = float(rng.uniform(0.5, 2.0))
            out[block.roles["q"]] = out[block.roles["q"]] * scale
            out[block.roles["k"]] = out[block.roles["k"]] / scale
    return out


def prune_layers(state: StateDict, drop: Sequence[int]) -> dict[str, npt.NDArray[np.float32]]:
    """Remove whole blocks of the language stack and renumber the rest."""
    layout = analyse(list(state))
    stack = layout.language_stack()
    prefix = stack[0].stack
    kept = [block.index for block in stack if block.index not in set(drop)]
    renumber = {old: new for new, old in enumerate(kept)}
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(.*)$")
    out: dict[str, npt.NDArray[np.float32]] = {}
    for name, value in _copy(state).items():
        match = pattern.match(name)
        if match is None:
            out[name] = value
        elif int(match.group(1)) in renumber:
            out[f"{prefix}.{renumber[int(match.group(1))]}.{match.group(2)}"] = value
    return out


def prune_mlp_width(state: StateDict, keep: float = 0.75) -> dict[str, npt.NDArray[np.float32]]:
    """Keep the hidden units with the largest weight norms in every MLP (structured pruning)."""
    out = _copy(state)
    for block in analyse(list(state)).blocks:
        roles = _mlp_roles(block)
        if "up" not in roles or "down" not in roles:
            continue
        axis_in = 1 if block.conv1d else 0
        axis_down = 0 if block.conv1d else 1
        up, down = out[roles["up"]], out[roles["down"]]
        score = np.linalg.norm(up, axis=1 - axis_in) * np.linalg.norm(down, axis=1 - axis_down)
        chosen = np.sort(np.argsort(-score)[: max(1, round(keep * score.size))])
        for role, name in roles.items():
            axis = axis_down if role == "down" else axis_in
            out[name] = np.take(out[name], chosen, axis=axis)
            bias = _bias(name, out)
            if bias and role != "down":
                out[bias] = out[bias][chosen]
    return out


def upcycle(
    state: StateDict, experts: int = 4, noise: float = 0.02, seed: int = 0
) -> dict[str, npt.NDArray[np.float32]]:
    """Sparse upcycling: each dense MLP becomes ``experts`` perturbed copies plus a fresh router
    (Qwen-MoE naming: ``mlp.experts.N.*_proj``, router ``mlp.gate``)."""
    layout = analyse(list(state))
    rng = np.random.default_rng(seed)
    out = _copy(state)
    for block in layout.language_stack():
        roles = _mlp_roles(block)
        if "up" not in roles:
            continue
        width = out[roles["up"]].shape[0 if block.conv1d else 1]
        for name in roles.values():
            value = out.pop(name)
            module = name[: -len(".weight")]
            parent, leaf = module.rsplit(".", 1)
            for expert in range(experts):
                scale = noise * float(np.std(value))
                out[f"{parent}.experts.{expert}.{leaf}.weight"] = (value + rng.normal(0, scale, value.shape)).astype(
                    np.float32
                )
        parent = roles["up"][: -len(".weight")].rsplit(".", 1)[0]
        out[f"{parent}.gate.weight"] = rng.normal(0, 0.02, (experts, width)).astype(np.float32)
    return out


def merge(states: Sequence[StateDict], weights: Sequence[float] | None = None) -> dict[str, npt.NDArray[np.float32]]:
    """Weighted average of models with the same tensors (model soup / linear merge)."""
    weights = list(weights) if weights is not None else [1.0 / len(states)] * len(states)
    names = list(states[0])
    return {
        name: np.sum(
            [w * np.asarray(s[name], dtype=np.float64) for s, w in zip(states, weights, strict=True)], axis=0
        ).astype(np.float32)
        for name in names
    }


def quantize_round_trip(state: StateDict, fmt: str = "bf16", *, store: bool = True) -> StateDict:
    """Round-trip weights through bf16 or fp8 (e4m3, per-tensor scale).

    ``store=True`` keeps bf16 tensors as ``ml_dtypes.bfloat16`` arrays (as a bf16 checkpoint would
    store them); fp8 round trips are returned dequantized in float32, the values on the fp8 grid.
    """
    out: StateDict = {}
    for name, value in state.items():
        array = np.asarray(value, dtype=np.float32)
        if fmt == "bf16":
            rounded = array.astype(ml_dtypes.bfloat16)
            out[name] = rounded if store else rounded.astype(np.float32)
        elif fmt in ("fp8", "fp8_e4m3"):
            if array.ndim < 2:
                out[name] = array.astype(ml_dtypes.bfloat16).astype(np.float32)
                continue
            scale = float(np.max(np.abs(array))) / 448.0 or 1.0
            codes = (array / scale).astype(ml_dtypes.float8_e4m3fn)
            out[name] = (codes.astype(np.float32) * np.float32(scale)).astype(np.float32)
        else:
            raise NotSupportedError(f"unknown format {fmt!r}", hint="Use 'bf16' or 'fp8_e4m3'.")
    return out


def rename_prefix(state: StateDict, old: str, new: str) -> StateDict:
    """Move every tensor under ``old.`` to ``new.`` (e.g. a copied encoder under another name)."""
    return {(new + name[len(old) :] if name.startswith(old + ".") else name): value for name, value in state.items()}


def add_low_rank_adapter(
    state: StateDict, rank: int = 2, scale: float = 0.5, seed: int = 0
) -> dict[str, npt.NDArray[np.float32]]:
    """Merge a random LoRA update (B @ A, rank ``rank``) into every attention and MLP matrix."""
    rng = np.random.default_rng(seed)
    out = _copy(state)
    for block in analyse(list(state)).blocks:
        for role in ("q", "v", "up", "down"):
            if role in block.roles:
                name = block.roles[role]
                rows, columns = out[name].shape
                update = rng.normal(size=(rows, rank)) @ rng.normal(size=(rank, columns))
                update *= scale * float(np.std(out[name])) / float(np.std(update))
                out[name] = (out[name] + update).astype(np.float32)
    return out

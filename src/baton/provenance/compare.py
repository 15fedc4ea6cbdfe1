"""Decide from the weights whether model ``a`` was derived from reference ``b``.

``compare(a, b)`` reads both checkpoints through :class:`TensorSource`, a few tensors at a time:

1. exact copies: per-tensor digests, matched under any name; for copied-then-lightly-tuned
   tensors, the fraction of bit-identical values against its chance rate;
2. residual alignment: orthogonal Procrustes on anchors (shared-token embedding rows, position
   embeddings, patch embeddings), which undoes residual permutations, sign flips, rotations and
   scaling;
3. layer alignment when depths differ (monotone matching of per-layer sketches);
4. per block: attention projections by unbiased CKA and MLP hidden units by Hungarian matching,
   each against a null of random residual rotations; norm gains by centered correlation against
   a permutation null (with raw cosine and its shuffle baseline shown beside it);
5. corrections across tests and components (``verdict.CORRECTION``) and the verdict.

Memory stays within a small multiple of the largest tensor (in float32), whatever the depth:
tensors are read as float32 and never widened whole to float64; the alignment accumulates d × d
cross-products over row blocks; layers are streamed in pairs (one block of the reference and one
of the model at a time, the model's blocks read again for each pairing, in the same order of
random draws), and all that is kept per layer is a handful of numbers (plus, when depths differ,
one 256 × 256 Gram sketch per layer).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from baton.core import multiple_testing
from baton.core.errors import BadRequestError, NotSupportedError
from baton.provenance import hashing, statistics
from baton.provenance.alignment import (
    AnchorStatistics,
    ResidualAlignment,
    identity,
    monotone_layer_alignment,
    shared_token_rows,
)
from baton.provenance.layout import Block, Layout, analyse
from baton.provenance.source import TensorSource
from baton.provenance.verdict import (
    CORRECTION,
    ComparisonResult,
    ComponentEvidence,
    ComponentResult,
    Evidence,
    NormEvidence,
    decide,
    explain,
    overall_verdict,
)

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]
VECTOR_CACHE = 64  # 1-D tensors (norm gains, biases) kept for reuse, least recently used dropped
CKA_CONTEXT = (
    "Attention CKA (as AWM) is shown for comparison but not counted: independently trained models "
    "learn similar attention subspaces, most of all in the first layers, so its null is not calibrated."
)
LOW_PRECISION = {"BF16", "BFLOAT16", "F16", "FLOAT16", "F8_E4M3", "F8_E5M2", "FLOAT8_E4M3FN", "FLOAT8_E5M2"}
# What the readers report for the integer-quantized weights they dequantize (torchao int8/int4,
# onnxruntime int8 and uint8): below low precision, so int8 made from a BF16 base is ``quantized``.
INTEGER_PRECISION = {"I8", "U8"}
_PRECISION_RANK = {"integer": 0, "low": 1, "full": 2}


@dataclass
class Options:
    alpha: float = 0.01
    seed: int = 0
    max_units: int = 512  # hidden units per block sampled for matching
    max_residual: int = 1024  # residual coordinates sampled for CKA
    null_draws: int = 40


@dataclass
class _Side:
    source: TensorSource
    layout: Layout
    cache: OrderedDict[str, Float32Array] = field(default_factory=OrderedDict)

    def read(self, name: str) -> Float32Array:
        """The tensor in float32 (never modify it: an in-memory source may hand out its own array).

        1-D tensors (norm gains, reused by several matrices) go through a small LRU cache of
        ``VECTOR_CACHE`` entries, so it does not grow with depth; matrices are never cached.
        """
        cached = self.cache.get(name)
        if cached is not None:
            self.cache.move_to_end(name)
            return cached
        array = np.asarray(self.source.read(name), dtype=np.float32)
        if array.ndim == 1:
            self.cache[name] = array
            if len(self.cache) > VECTOR_CACHE:
                self.cache.popitem(last=False)
        return array


def compare(
    a: TensorSource,
    b: TensorSource,
    *,
    alpha: float = 0.01,
    seed: int = 0,
    max_units: int = 512,
    null_draws: int = 40,
) -> ComparisonResult:
    """Is ``a`` derived from ``b``? Evidence, per-component localisation and a verdict."""
    if not 0 < alpha < 1:
        raise BadRequestError(f"alpha must be between 0 and 1, got {alpha}", hint="Use e.g. --alpha 0.01.")
    options = Options(alpha=alpha, seed=seed, max_units=max_units, null_draws=null_draws)
    side_a = _Side(a, analyse(a.names()))
    side_b = _Side(b, analyse(b.names()))
    if not side_a.layout.component_of or not side_b.layout.component_of:
        raise BadRequestError("a checkpoint has no tensors", hint="Check the folder or revision holds *.safetensors.")
    rng = np.random.default_rng(seed)
    gathered = {name: ComponentEvidence(name) for name in side_a.layout.components()}

    _exact_copies(side_a, side_b, gathered, alpha)

    norms: list[NormEvidence] = []
    layer_pairs: list[tuple[str, str]] = []
    alignments: dict[str, Any] = {}
    transformations: set[str] = set()
    block_facts: list[dict[str, Any]] = []

    # The language model stack.
    stack_a, stack_b = side_a.layout.language_stack(), side_b.layout.language_stack()
    if stack_a and stack_b:
        alignment, anchors = _language_alignment(side_a, side_b)
        alignments["language_model"] = _alignment_json(alignment)
        pairs, block_facts = _compare_stack(
            side_a, side_b, stack_a, stack_b, alignment, anchors, options, rng, gathered, norms
        )
        layer_pairs.extend((block_a.name, block_b.name) for block_a, block_b in pairs)
        _compare_head(side_a, side_b, alignment, options, rng, gathered, norms)
        _note_transformations(alignment, block_facts, transformations)

    # Encoder towers (vision, audio): each tower of a against each tower of b.
    for tower_a, blocks_a in side_a.layout.tower_stacks().items():
        for tower_b, blocks_b in side_b.layout.tower_stacks().items():
            alignment, anchors = _tower_alignment(side_a, side_b, tower_a, tower_b)
            alignments[f"{tower_a}~{tower_b}"] = _alignment_json(alignment)
            pairs, _ = _compare_stack(
                side_a, side_b, blocks_a, blocks_b, alignment, anchors, options, rng, gathered, norms
            )
            layer_pairs.extend((block_a.name, block_b.name) for block_a, block_b in pairs)

    components, p_value, _ = decide(list(gathered.values()), alpha)
    verdict = overall_verdict(components, p_value, alpha, {block.component for block in stack_a})
    relation = _relation(verdict, components, side_a, side_b, stack_a, stack_b, block_facts, layer_pairs)
    flagged = [c.name for c in components if c.status in ("derived", "copied")]
    evidence = [e for c in gathered.values() for e in c.tests]
    return ComparisonResult(
        model=a.label,
        reference=b.label,
        verdict=verdict,
        relation=relation,
        p_value=p_value,
        alpha=alpha,
        correction=CORRECTION,
        components=components,
        evidence=evidence,
        norms=norms,
        alignment=alignments,
        layer_alignment=layer_pairs,
        transformations=sorted(transformations),
        config_likeness=config_likeness(a.config(), b.config()),
        explanation=explain(verdict, relation, p_value, alpha, flagged),
    )


# --- exact copies -----------------------------------------------------------------------------


def _informative(array: npt.NDArray[np.floating[Any]]) -> bool:
    """Constant tensors (fresh norm gains, zero biases) match by chance, not by copying."""
    if array.size < 16:
        return False
    flat = array.reshape(-1)
    return bool(np.unique(flat[: min(flat.size, 4096)]).size >= 16)


def _relative(name: str, layout: Layout) -> str:
    component = layout.component_of.get(name, "")
    return name[len(component) + 1 :] if component and name.startswith(component + ".") else name


def _exact_copies(side_a: _Side, side_b: _Side, gathered: dict[str, ComponentEvidence], alpha: float) -> None:
    by_digest: dict[str, str] = {}
    for name in side_b.source.names():
        by_digest.setdefault(side_b.source.digest(name), name)
    by_relative: dict[tuple[str, tuple[int, ...]], str] = {}
    for name in side_b.source.names():
        by_relative.setdefault((_relative(name, side_b.layout), side_b.source.meta(name).shape), name)
    totals: Counter[str] = Counter()
    copied: Counter[str] = Counter()
    sources: dict[str, Counter[str]] = {}
    p_values: dict[str, list[float]] = {}
    for name in side_a.source.names():
        component = side_a.layout.component_of[name]
        meta = side_a.source.meta(name)
        match = by_digest.get(side_a.source.digest(name))
        partner = match or by_relative.get((_relative(name, side_a.layout), meta.shape))
        if partner is None:
            array_size = int(np.prod(meta.shape))
            totals[component] += array_size
            continue
        array_a = np.asarray(side_a.source.read(name), dtype=np.float32)
        if not _informative(array_a):
            continue
        totals[component] += array_a.size
        if match is not None:
            fraction, p_value = 1.0, 0.0
        else:
            array_b = np.asarray(side_b.source.read(partner), dtype=np.float32)
            fraction, _, p_value = hashing.bit_identical_fraction(array_a, array_b)
            if p_value > alpha:
                continue
        copied[component] += int(fraction * array_a.size)
        sources.setdefault(component, Counter())[side_b.layout.component_of.get(partner, partner)] += array_a.size
        p_values.setdefault(component, []).append(p_value)
    for component, total in totals.items():
        if total == 0 or component not in copied:
            continue
        evidence = gathered[component]
        evidence.copied_fraction = copied[component] / total
        evidence.copied_source = sources[component].most_common(1)[0][0]
        evidence.copy_p_value = multiple_testing.sidak(p_values[component])


# --- alignment --------------------------------------------------------------------------------


def _alignment_json(alignment: ResidualAlignment) -> dict[str, Any]:
    return {
        "method": alignment.method,
        "anchors": alignment.anchors,
        "fit": alignment.fit,
        "permutation_like": alignment.permutation_like,
    }


def _width(side: _Side, blocks: list[Block]) -> int:
    block = blocks[0]
    for role in ("q", "qkv", "up", "gate"):
        if role in block.roles:
            shape = side.source.meta(block.roles[role]).shape
            return int(shape[0] if block.conv1d else shape[1])
    raise BadRequestError(f"cannot tell the residual width of {block.name}")


def _language_alignment(side_a: _Side, side_b: _Side) -> tuple[ResidualAlignment, AnchorStatistics | None]:
    layout_a, layout_b = side_a.layout, side_b.layout
    width_a = _width(side_a, layout_a.language_stack())
    width_b = _width(side_b, layout_b.language_stack())
    anchors = AnchorStatistics()
    method = "identity"
    if layout_a.token_embedding and layout_b.token_embedding:
        rows_a = side_a.source.meta(layout_a.token_embedding).shape[0]
        rows_b = side_b.source.meta(layout_b.token_embedding).shape[0]
        index_a, index_b, method = shared_token_rows(
            side_a.source.vocabulary(), side_b.source.vocabulary(), rows_a, rows_b
        )
        if index_a.size:
            # Both embeddings as read (float32); the shared rows are taken a block at a time.
            embedding_a = side_a.read(layout_a.token_embedding)
            embedding_b = side_b.read(layout_b.token_embedding)
            whole = method == "same_vocabulary_size"  # every row, in order: no index needed
            anchors.add(embedding_a, embedding_b, None if whole else index_a, None if whole else index_b)
            del embedding_a, embedding_b
    if layout_a.position_embedding and layout_b.position_embedding:
        positions_a = side_a.read(layout_a.position_embedding)
        positions_b = side_b.read(layout_b.position_embedding)
        rows = min(positions_a.shape[0], positions_b.shape[0])
        anchors.add(positions_a[:rows], positions_b[:rows])
        method = method + "+positions" if method != "identity" else "positions"
    if anchors.rows_a == 0:
        return identity(width_a, width_b, "identity (no shared anchors)"), None
    return anchors.alignment(method, width_a, width_b), anchors


def _tower_alignment(
    side_a: _Side, side_b: _Side, tower_a: str, tower_b: str
) -> tuple[ResidualAlignment, AnchorStatistics | None]:
    anchors = AnchorStatistics()
    by_kind_b = {name.rsplit(".", 2)[-2]: name for name in side_b.layout.tower_anchors.get(tower_b, [])}
    for name_a in side_a.layout.tower_anchors.get(tower_a, []):
        name_b = by_kind_b.get(name_a.rsplit(".", 2)[-2])
        if name_b is None:
            continue
        array_a, array_b = side_a.read(name_a), side_b.read(name_b)
        if array_a.ndim > 2:  # patch embedding (out, channels, h, w): the pixel side is shared
            array_a, array_b = array_a.reshape(array_a.shape[0], -1).T, array_b.reshape(array_b.shape[0], -1).T
        if array_a.shape[0] != array_b.shape[0]:
            rows = min(array_a.shape[0], array_b.shape[0])
            array_a, array_b = array_a[:rows], array_b[:rows]
        anchors.add(array_a, array_b)
    width_a = _width(side_a, side_a.layout.tower_stacks()[tower_a])
    width_b = _width(side_b, side_b.layout.tower_stacks()[tower_b])
    if anchors.rows_a == 0:
        return identity(width_a, width_b, "identity (no shared anchors)"), None
    return anchors.alignment("patch_and_position_embeddings", width_a, width_b), anchors


# --- block matrices ---------------------------------------------------------------------------


def _matrix(side: _Side, block: Block, name: str) -> Float32Array:
    array = side.read(name)
    return array.T if block.conv1d else array


def _readers(side: _Side, block: Block, roles: dict[str, str], norm_role: str) -> dict[str, Float32Array]:
    """Matrices that read the residual (units × d), with the preceding norm gain folded in."""
    gain = side.read(block.roles[norm_role]) if norm_role in block.roles else None
    out: dict[str, Float32Array] = {}
    for role, name in roles.items():
        matrix = _matrix(side, block, name)
        if gain is not None and gain.shape[0] == matrix.shape[1]:
            matrix = matrix * gain[None, :]
        out[role] = matrix
    return out


def _split_fused(readers: dict[str, Float32Array]) -> list[Float32Array]:
    parts: list[Float32Array] = []
    for role in ("q", "k", "v"):
        if role in readers:
            parts.append(readers[role])
    if "qkv" in readers:
        fused = readers["qkv"]
        parts.extend(np.split(fused, 3, axis=0) if fused.shape[0] % 3 == 0 else [fused])
    return [part / np.float32(max(1e-12, float(np.linalg.norm(part)))) for part in parts]


def _attention_parts(side: _Side, block: Block) -> tuple[list[Float32Array], Float32Array] | None:
    """The q/k/v readers (each rows × d, scaled to unit norm, norm gain folded in) and the writer o (d × heads)."""
    roles: dict[str, str] = {r: block.roles[r] for r in ("q", "k", "v", "qkv") if r in block.roles}
    if not roles or "o" not in block.roles:
        return None
    return _split_fused(_readers(side, block, roles, "norm_attention")), _matrix(side, block, block.roles["o"])


def _mapped_gram(gram: Float32Array, mapping: Float32Array | None) -> Float32Array:
    """``mappingᵀ @ gram @ mapping``: the Gram of residual coordinates after the map (alignment, projection)."""
    if mapping is None:
        return gram
    mapped: Float32Array = mapping.T @ (gram @ mapping)
    return mapped


def _attention_grams(
    side: _Side, block: Block, mapping: Float32Array | None
) -> tuple[statistics.Gram, statistics.Gram] | None:
    """Gram matrices over residual coordinates of the attention readers and of the writer, in a's basis.

    The features of a residual coordinate are its column in the concatenated q/k/v readers (and
    its row in o); after the map ``x -> x @ mapping`` of reader rows, their Gram is
    ``mappingᵀ (Σ_part partᵀ part) mapping``: CKA needs nothing else, so the d × 3d features are
    never formed.
    """
    parts = _attention_parts(side, block)
    if parts is None:
        return None
    readers, writer = parts
    reading: Float32Array | None = None
    for part in readers:
        product = part.T @ part
        reading = product if reading is None else reading + product
    assert reading is not None
    writing: Float32Array = writer @ writer.T
    return (
        statistics.gram_summary(_mapped_gram(reading, mapping)),
        statistics.gram_summary(_mapped_gram(writing, mapping)),
    )


def _unit_roles(roles: dict[str, str]) -> list[str]:
    return [role for role in ("gate", "up", "down") if role in roles]


def _mlp_units(side: _Side, block: Block, roles: dict[str, str], keep: IndexArray | None) -> dict[str, Float32Array]:
    """Per hidden unit: its gate and up rows (norm gain folded in) and its down column, each (units × d).

    ``keep``: only these units (rows are selected before anything else is computed); None: all.
    """
    gain = side.read(block.roles["norm_mlp"]) if "norm_mlp" in block.roles else None
    units: dict[str, Float32Array] = {}
    for role in ("gate", "up"):
        if role in roles:
            matrix = _matrix(side, block, roles[role])
            if keep is not None:
                matrix = matrix[keep]
            if gain is not None and gain.shape[0] == matrix.shape[1]:
                matrix = matrix * gain[None, :]
            units[role] = matrix
    if "down" in roles:
        down = _matrix(side, block, roles["down"]).T
        units["down"] = down[keep] if keep is not None else down
    return units


def _unit_counts(side: _Side, block: Block) -> dict[int, int]:
    """Hidden units per expert (-1: a dense MLP), from the tensor shapes alone."""
    counts: dict[int, int] = {}
    for expert, roles in (block.experts or {-1: block.roles}).items():
        present = _unit_roles(roles)
        if not present:
            continue
        shape = side.source.meta(roles[present[0]]).shape
        reads_residual = present[0] != "down"  # gate/up: (units × d) as used; down: (d × units)
        counts[expert] = int(shape[1] if block.conv1d == reads_residual else shape[0])
    return counts


def _subsample(rows: int, limit: int, rng: np.random.Generator) -> IndexArray:
    if rows <= limit:
        return np.arange(rows, dtype=np.int64)
    return np.sort(rng.choice(rows, size=limit, replace=False)).astype(np.int64)


# --- layer alignment --------------------------------------------------------------------------


def _pair_layers(
    side_a: _Side,
    side_b: _Side,
    stack_a: list[Block],
    stack_b: list[Block],
    alignment: ResidualAlignment,
    options: Options,
    rng: np.random.Generator,
) -> list[tuple[Block, Block]]:
    if len(stack_a) == len(stack_b):
        return list(zip(stack_a, stack_b, strict=True))
    # Depths differ: sketch every layer once (attention Gram on sampled residual coordinates).
    width = alignment.matrix.shape[1]
    coordinates = _subsample(width, 256, rng)
    select_a = np.eye(width, dtype=np.float32)[:, coordinates]
    select_b = alignment.matrix[:, coordinates].astype(np.float32)
    sketches_a = [_sketch(side_a, block, select_a) for block in stack_a]
    sketches_b = [_sketch(side_b, block, select_b) for block in stack_b]
    similarity = np.zeros((len(stack_a), len(stack_b)))
    for i, sketch_a in enumerate(sketches_a):
        for j, sketch_b in enumerate(sketches_b):
            if sketch_a is not None and sketch_b is not None:
                similarity[i, j] = statistics.cka_of_grams(sketch_a, sketch_b)
    if len(stack_a) < len(stack_b):
        return [(stack_a[i], stack_b[j]) for i, j in monotone_layer_alignment(similarity)]
    # a is deeper (layers duplicated or added): each of a's layers meets its most similar layer of b.
    return [(stack_a[i], stack_b[int(np.argmax(similarity[i]))]) for i in range(len(stack_a))]


def _sketch(side: _Side, block: Block, columns: Float32Array) -> statistics.Gram | None:
    """Gram over sampled residual coordinates (``columns``: d × 256, a selection or the aligned one) of the readers."""
    parts = _attention_parts(side, block)
    if parts is None:
        return None
    gram: Float32Array | None = None
    for part in parts[0]:
        sampled = part @ columns
        product = sampled.T @ sampled
        gram = product if gram is None else gram + product
    assert gram is not None
    return statistics.gram_summary(gram)


# --- block tests ------------------------------------------------------------------------------


def _learned_subspace_projection(anchors: AnchorStatistics | None, width: int) -> FloatArray | None:
    """Projector removing the top principal directions of a's anchors (a third of the width).

    Independently trained models learn similar features (convergent learning), concentrated in the
    leading directions of their embeddings; a derived model also shares the rest, which for an
    independent model is its own initialisation noise. Comparing in the complement keeps the
    signal of derivation and drops most of the convergent similarity.
    """
    if anchors is None or anchors.width_a != width or width < 6:
        return None
    leading = anchors.principal_directions(width // 3)
    if leading is None:
        return None
    projection: FloatArray = np.eye(width) - leading @ leading.T
    return projection


@dataclass
class _BlockView:
    """What one block contributes to the tests; built for one layer pair at a time, then dropped.

    Unit rows are float32 with unit norm (the similarity is a cosine, so they are normalised once).
    """

    units: dict[int, dict[str, Float32Array]]  # expert (-1: dense) -> role -> (units × d), aligned + projected
    stored: dict[int, dict[str, Float32Array]]  # same, in the stored basis (exact-null test)
    attention: tuple[statistics.Gram, statistics.Gram] | None


def _block_view(
    side: _Side,
    block: Block,
    mapping: Float32Array | None,
    keep: dict[int, IndexArray] | None,
) -> _BlockView:
    """``mapping``: residual map into a's basis and projection (d_side × d_a), None for none;
    ``keep``: the sampled units of each expert, None for all units."""
    experts = block.experts or {-1: block.roles}
    units: dict[int, dict[str, Float32Array]] = {}
    stored: dict[int, dict[str, Float32Array]] = {}
    for expert, roles in experts.items():
        if not _unit_roles(roles):
            continue
        raw = _mlp_units(side, block, roles, keep.get(expert) if keep is not None else None)
        stored[expert] = {role: statistics.normalise_rows(matrix) for role, matrix in raw.items()}
        if mapping is None:
            units[expert] = stored[expert]
        else:
            units[expert] = {role: statistics.normalise_rows(matrix @ mapping) for role, matrix in raw.items()}
        del raw
    return _BlockView(units, stored, _attention_grams(side, block, mapping))


def _mlp_statistic(view_a: _BlockView, view_b: _BlockView) -> float | None:
    """Best matched-unit similarity over the expert pairs (experts of an upcycled MoE vs a dense MLP)."""
    values = []
    for expert_a, units_a in view_a.units.items():
        for expert_b, units_b in view_b.units.items():
            if expert_a >= 0 and expert_b >= 0 and expert_a != expert_b:
                continue
            shared = [role for role in ("gate", "up", "down") if role in units_a and role in units_b]
            if shared:
                values.append(
                    statistics.matched_similarity(
                        statistics.similarity_of_normalised([units_a[r] for r in shared], [units_b[r] for r in shared])
                    )[0]
                )
    return max(values) if values else None


def _compare_stack(
    side_a: _Side,
    side_b: _Side,
    stack_a: list[Block],
    stack_b: list[Block],
    alignment: ResidualAlignment,
    anchors_a: AnchorStatistics | None,
    options: Options,
    rng: np.random.Generator,
    gathered: dict[str, ComponentEvidence],
    norms: list[NormEvidence],
) -> tuple[list[tuple[Block, Block]], list[dict[str, Any]]]:
    """MLP matching and attention CKA for the paired blocks, against a cross-layer null.

    The null of each statistic is its value for *unpaired* layers (a's layer i against b's layer
    j ≠ pair(i)) under the same residual alignment: those pairs share everything independent
    training shares (the alignment, convergent features) except a common origin.

    Streaming: b's layers are visited once each; for every (i, j) wanted with b's layer j, a's
    layer i is read again (its sampled units were drawn up front, so the random draws are the same
    as if all of a's layers were held). Only the statistics are kept per layer.
    """
    pairs = _pair_layers(side_a, side_b, stack_a, stack_b, alignment, options, rng)
    selection = max(1, len(stack_b) - len(stack_a) + 1) if len(stack_a) < len(stack_b) else 1
    width = alignment.matrix.shape[1]
    projection = _learned_subspace_projection(anchors_a, width)
    mapping_a = None if projection is None else projection.astype(np.float32)
    mapping_b = (alignment.matrix if projection is None else alignment.matrix @ projection).astype(np.float32)
    # The units of a's layers to sample, drawn in layer order (small: max_units indices per expert).
    keeps = [
        {expert: _subsample(count, options.max_units, rng) for expert, count in _unit_counts(side_a, block).items()}
        for block in stack_a
    ]
    partner = {id(block_a): block_b for block_a, block_b in pairs}
    # Which (i, j) to evaluate: the pairs, plus up to `extra` unpaired layers of b for each i.
    extra = 3
    wanted: dict[int, set[int]] = {j: set() for j in range(len(stack_b))}
    index_b = {id(block): j for j, block in enumerate(stack_b)}
    for i, block_a in enumerate(stack_a):
        j_pair = index_b[id(partner[id(block_a)])]
        wanted[j_pair].add(i)
        others = [j for j in range(len(stack_b)) if j != j_pair]
        chosen = others if len(others) <= extra else list(rng.choice(others, size=extra, replace=False))
        for j in chosen:
            wanted[int(j)].add(i)
    mlp: dict[tuple[int, int], float] = {}
    cka: dict[tuple[int, int], float] = {}
    stored_tests: dict[int, statistics.TestOutcome] = {}
    for j, block_b in enumerate(stack_b):
        if not wanted[j]:
            continue
        view_b = _block_view(side_b, block_b, mapping_b, None)
        for i in sorted(wanted[j]):
            view_a = _block_view(side_a, stack_a[i], mapping_a, keeps[i])
            value = _mlp_statistic(view_a, view_b)
            if value is not None:
                mlp[(i, j)] = value
            if view_a.attention is not None and view_b.attention is not None:
                grams_a, grams_b = view_a.attention, view_b.attention
                cka[(i, j)] = float(
                    np.mean(
                        [
                            statistics.cka_of_grams(grams_a[0], grams_b[0]),
                            statistics.cka_of_grams(grams_a[1], grams_b[1]),
                        ]
                    )
                )
            if partner[id(stack_a[i])] is block_b and alignment.matrix.shape[0] == alignment.matrix.shape[1]:
                outcome = _stored_basis_test(view_a, view_b, rng, options)
                if outcome is not None:
                    stored_tests[i] = outcome
            del view_a
        del view_b
    facts: list[dict[str, Any]] = []
    for i, (block_a, block_b) in enumerate(pairs):
        j = index_b[id(block_b)]
        i = stack_a.index(block_a)
        component = gathered[block_a.component]
        detail = {"block": block_a.name, "reference_block": block_b.name}
        for test, table in (("mlp_unit_matching", mlp), ("attention_cka", cka)):
            if (i, j) not in table:
                continue
            pool = [value for (k, m), value in table.items() if partner[id(stack_a[k])] is not stack_b[m]]
            outcome = statistics.p_from_pool(table[(i, j)], pool)
            if outcome is None:
                continue
            extra_detail: dict[str, Any] = {"null": "unpaired layers", "null_size": outcome.draws}
            counted = test != "attention_cka"
            if not counted:
                extra_detail["why"] = CKA_CONTEXT
            component.tests.append(
                Evidence(
                    block_a.component, block_b.component, test, outcome.statistic, outcome.null_mean,
                    outcome.null_std, min(1.0, outcome.p_value * selection), detail | extra_detail, counted,
                )
            )  # fmt: skip
        if i in stored_tests:
            outcome = stored_tests[i]
            null = {"null": "signed permutations of the reference's residual basis"}
            component.tests.append(
                Evidence(
                    block_a.component,
                    block_b.component,
                    "mlp_unit_matching_stored_basis",
                    outcome.statistic,
                    outcome.null_mean,
                    outcome.null_std,
                    min(1.0, outcome.p_value * selection),
                    detail | null,
                )
            )
        for role in ("norm_attention", "norm_mlp"):
            if role in block_a.roles and role in block_b.roles:
                _compare_norm(
                    side_a,
                    side_b,
                    block_a.roles[role],
                    block_b.roles[role],
                    block_a.component,
                    alignment,
                    rng,
                    component,
                    block_b.component,
                    norms,
                    selection,
                )
        facts.append(
            {
                "a": block_a.name,
                "b": block_b.name,
                "upcycled": bool(block_a.experts) and not block_b.experts,
                "units_a": _unit_count(side_a, block_a),
                "units_b": _unit_count(side_b, block_b),
                "mlp_statistic": mlp.get((i, j)),
                "sampled_units": [int(keep.size) for keep in keeps[i].values()],
            }
        )
    return pairs, facts


def _unit_count(side: _Side, block: Block) -> int:
    roles = block.experts[min(block.experts)] if block.experts else block.roles
    for role in ("up", "gate"):
        if role in roles:
            shape = side.source.meta(roles[role]).shape
            return int(shape[1] if block.conv1d else shape[0])
    return 0


def _stored_basis_test(
    view_a: _BlockView, view_b: _BlockView, rng: np.random.Generator, options: Options
) -> statistics.TestOutcome | None:
    units_a = view_a.stored.get(-1) or next(iter(view_a.stored.values()), None)
    units_b = view_b.stored.get(-1) or next(iter(view_b.stored.values()), None)
    if units_a is None or units_b is None:
        return None
    shared = [role for role in ("gate", "up", "down") if role in units_a and role in units_b]
    if not shared or units_a[shared[0]].shape[1] != units_b[shared[0]].shape[1]:
        return None
    return statistics.matching_permutation_test(
        [units_a[r] for r in shared],
        [units_b[r] for r in shared],
        rng,
        max(10, options.null_draws // 2),
        normalised=True,
    )


def _compare_norm(
    side_a: _Side,
    side_b: _Side,
    name_a: str,
    name_b: str,
    component_name: str,
    alignment: ResidualAlignment,
    rng: np.random.Generator,
    component: ComponentEvidence,
    source: str,
    norms: list[NormEvidence],
    selection: int = 1,
) -> None:
    gains_a = side_a.read(name_a)
    gains_b = side_b.read(name_b)
    if gains_b.shape != gains_a.shape:
        return
    # In the stored basis: coordinates are exchangeable under independent training, so the
    # permutation null is exact. (A residual permutation defeats it; the MLP tests cover that.)
    comparison = statistics.compare_vectors(gains_a, gains_b, rng)
    norms.append(
        NormEvidence(
            component_name,
            name_a,
            name_b,
            comparison.raw_cosine,
            comparison.shuffled_raw_cosine,
            comparison.pearson,
            comparison.outcome.p_value,
        )
    )
    if np.ptp(gains_a) == 0 or np.ptp(gains_b) == 0:
        return  # untrained or folded gains carry no information
    outcome = comparison.outcome
    component.tests.append(
        Evidence(
            component_name, source, "norm_gain_pearson", outcome.statistic, outcome.null_mean, outcome.null_std,
            min(1.0, outcome.p_value * selection),
            {
                "tensor": name_a,
                "reference_tensor": name_b,
                "raw_cosine": comparison.raw_cosine,
                "shuffled_raw_cosine": comparison.shuffled_raw_cosine,
            },
        )
    )  # fmt: skip


def _compare_head(
    side_a: _Side,
    side_b: _Side,
    alignment: ResidualAlignment,
    options: Options,
    rng: np.random.Generator,
    gathered: dict[str, ComponentEvidence],
    norms: list[NormEvidence],
) -> None:
    layout_a, layout_b = side_a.layout, side_b.layout
    if layout_a.final_norm and layout_b.final_norm:
        component = gathered[layout_a.component_of[layout_a.final_norm]]
        source = layout_b.component_of[layout_b.final_norm]
        _compare_norm(
            side_a,
            side_b,
            layout_a.final_norm,
            layout_b.final_norm,
            component.name,
            alignment,
            rng,
            component,
            source,
            norms,
        )


# --- relation ---------------------------------------------------------------------------------


def _note_transformations(alignment: ResidualAlignment, facts: list[dict[str, Any]], found: set[str]) -> None:
    matrix = alignment.matrix
    if matrix.shape[0] == matrix.shape[1] and alignment.fit > 0.5:
        if alignment.permutation_like:
            if float(np.mean(np.abs(np.diag(matrix)))) < 0.8:
                found.add("residual_permutation")
        else:
            found.add("residual_rotation")


def _precision(source: TensorSource, name: str) -> str:
    """``integer`` (int8/int4 dequantized), ``low`` (16 or 8-bit floats, or values that fit them) or ``full``."""
    dtype = source.meta(name).dtype.upper()
    if dtype in INTEGER_PRECISION:
        return "integer"
    if dtype in LOW_PRECISION:
        return "low"
    values = np.asarray(source.read(name), dtype=np.float32)
    import ml_dtypes

    if np.array_equal(values.astype(ml_dtypes.bfloat16).astype(np.float32), values):
        return "low"
    if np.unique(values).size <= 256 < values.size:
        return "low"
    return "full"


def _relation(
    verdict: str,
    components: list[ComponentResult],
    side_a: _Side,
    side_b: _Side,
    stack_a: list[Block],
    stack_b: list[Block],
    facts: list[dict[str, Any]],
    layer_pairs: list[tuple[str, str]],
) -> str | None:
    if verdict not in ("derived", "copied"):
        return None
    language_blocks = {block.component for block in stack_a}
    tested_language = [c for c in components if c.name in language_blocks and c.status != "inconclusive"]
    derived_language = [c for c in tested_language if c.status in ("derived", "copied")]
    if not tested_language or len(derived_language) * 2 < len(tested_language):
        return "copied_component"
    if any(f.get("upcycled") for f in facts):
        return "upcycled"
    if len(stack_a) < len(stack_b) or any(f["units_a"] < f["units_b"] for f in facts):
        return "pruned"
    if verdict == "copied":
        return None  # the whole model is a bit-exact copy
    if any("lora_a" in name.lower() or "lora_b" in name.lower() for name in side_a.source.names()):
        return "adapter"
    names_b = set(side_b.source.names())
    same_named = [block.roles[r] for block in stack_a for r in ("q", "up", "down") if block.roles.get(r) in names_b]
    direct = _direct_similarity(side_a, side_b, same_named)
    if direct and min(direct.values()) > 0.95:
        sample = same_named[:3]
        # Every sampled weight of a is of lower precision than the most precise of b's.
        ranks_a = [_PRECISION_RANK[_precision(side_a.source, n)] for n in sample]
        ranks_b = [_PRECISION_RANK[_precision(side_b.source, n)] for n in sample]
        if ranks_a and max(ranks_a) < max(ranks_b):
            return "quantized"
    if direct and min(direct.values()) > 0.3 and _low_rank_deltas(side_a, side_b, same_named):
        return "adapter"
    return "finetune"


def _centered_cosine(a: Float32Array, b: Float32Array, chunk: int = 1 << 20) -> float:
    """Pearson correlation of two flat float32 arrays, reduced in float64 a chunk at a time."""
    mean_a, mean_b = float(np.mean(a, dtype=np.float64)), float(np.mean(b, dtype=np.float64))
    dot = energy_a = energy_b = 0.0
    for start in range(0, a.size, chunk):
        x = a[start : start + chunk].astype(np.float64) - mean_a
        y = b[start : start + chunk].astype(np.float64) - mean_b
        dot, energy_a, energy_b = dot + float(x @ y), energy_a + float(x @ x), energy_b + float(y @ y)
    spread = math.sqrt(energy_a) * math.sqrt(energy_b)
    return dot / spread if spread > 0 else 0.0


def _direct_similarity(side_a: _Side, side_b: _Side, names: Iterable[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        array_a = side_a.read(name).reshape(-1)
        array_b = side_b.read(name).reshape(-1)
        if array_a.shape != array_b.shape:
            continue
        out[name] = _centered_cosine(array_a, array_b)
    return out


def _low_rank_deltas(side_a: _Side, side_b: _Side, names: list[str]) -> bool:
    """An adapter merged into the weights leaves a low-rank difference in every matrix it touched."""
    ranks = []
    for name in names:
        delta = side_a.read(name) - side_b.read(name)
        if delta.ndim != 2 or not np.any(delta):
            continue
        singular = np.linalg.svd(delta.astype(np.float64), compute_uv=False)
        del delta
        energy = np.cumsum(singular**2) / np.sum(singular**2)
        rank = max(1, singular.size // 8)  # min(delta.shape) // 8
        ranks.append(bool(energy[rank - 1] > 0.99))
    return bool(ranks) and sum(ranks) * 2 > len(ranks)


# --- context ----------------------------------------------------------------------------------

ARCHITECTURE_KEYS = (
    "model_type", "architectures", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "vocab_size", "max_position_embeddings", "rope_theta", "hidden_act", "rms_norm_eps",
    "tie_word_embeddings", "n_embd", "n_layer", "n_head", "n_inner", "num_experts", "num_local_experts",
)  # fmt: skip


def config_likeness(config_a: dict[str, object], config_b: dict[str, object]) -> dict[str, Any]:
    """How alike the two architectures are. Context only: never evidence of derived weights."""
    keys = [k for k in ARCHITECTURE_KEYS if k in config_a or k in config_b]
    identical = [k for k in keys if k in config_a and k in config_b and config_a[k] == config_b[k]]
    return {
        "compared_keys": len(keys),
        "identical": identical,
        "differing": [k for k in keys if k not in identical],
        "likeness": (len(identical) / len(keys)) if keys else None,
        "evidence": False,
        "note": "Architecture likeness is context only; randomly initialised weights can share a configuration.",
    }


DIGEST_ONLY_MIN_BYTES = 4096  # smaller tensors (norm gains of ones) are alike in unrelated models


def compare_digests(
    a: TensorSource,
    b: TensorSource,
    *,
    alpha: float,
    unreadable: dict[str, str],
    reference_unreadable: int = 0,
) -> ComparisonResult:
    """Exact copies only, for checkpoints whose weights the readers cannot decode (``unreadable``:
    tensor of ``a`` -> why, e.g. GPTQ or bitsandbytes; ``reference_unreadable``: how many of ``b``'s
    tensors cannot be read, counted but never named, since the explanation is shown to readers who
    may not see the reference): a component is ``copied`` when every one of its
    tensors of at least ``DIGEST_ONLY_MIN_BYTES`` is bit-identical to one of the reference's, under
    any name; nothing else can be tested, so every other component is ``inconclusive`` (never
    ``independent``: different bytes say nothing about where quantized weights came from)."""
    by_digest: dict[str, str] = {}
    for name in b.names():
        if b.meta(name).nbytes >= DIGEST_ONLY_MIN_BYTES:
            by_digest.setdefault(b.digest(name), name)
    layout_a, layout_b = analyse(a.names()), analyse(b.names())
    sizeable: Counter[str] = Counter()
    matched: dict[str, list[str]] = {}
    for name in a.names():
        if a.meta(name).nbytes < DIGEST_ONLY_MIN_BYTES:
            continue
        component = layout_a.component_of.get(name, name)
        sizeable[component] += 1
        partner = by_digest.get(a.digest(name))
        if partner is not None:
            matched.setdefault(component, []).append(layout_b.component_of.get(partner, partner))
    components: list[ComponentResult] = []
    for component in layout_a.components():
        copies = matched.get(component, [])
        whole = bool(copies) and len(copies) == sizeable[component]
        components.append(
            ComponentResult(
                name=component,
                status="copied" if whole else "inconclusive",
                source=Counter(copies).most_common(1)[0][0] if whole else None,
                p_value=0.0 if whole else None,
                test="exact_copy",
                statistics={"copied_fraction": len(copies) / sizeable[component]} if sizeable[component] else {},
            )
        )
    flagged = [c.name for c in components if c.status == "copied"]
    every = bool(components) and len(flagged) == len(components)
    verdict = "copied" if every else ("derived" if flagged else "inconclusive")
    relation = None if verdict != "derived" else "copied_component"
    p_value = 0.0 if flagged else 1.0
    examples = ", ".join(sorted(unreadable)[:3])
    reasons = "; ".join(sorted(set(unreadable.values())))
    ours_en = f"{len(unreadable)} of this model's tensors (e.g. {examples}) are {reasons}" if unreadable else ""
    ours_ko = f"이 모델의 텐서 {len(unreadable)}개(예: {examples})" if unreadable else ""
    theirs_en = f"{reference_unreadable} of the reference's tensors are" if reference_unreadable else ""
    theirs_ko = f"기준 모델의 텐서 {reference_unreadable}개" if reference_unreadable else ""
    note = {
        "en": (
            " Only exact copies could be looked for: "
            + " and ".join(part for part in (ours_en, theirs_en) if part)
            + (" stored in formats" if theirs_en else "")
            + " provenance cannot read; the statistical comparison was not run."
        ),
        "ko": (
            " 완전히 같은 텐서만 찾을 수 있었습니다: "
            + ", ".join(part for part in (ours_ko, theirs_ko) if part)
            + "가 출처 분석이 읽을 수 없는 형식으로 저장되어 통계적 비교를 하지 않았습니다."
        ),
    }
    explanation = explain(verdict, relation, p_value, alpha, flagged)
    return ComparisonResult(
        model=a.label,
        reference=b.label,
        verdict=verdict,
        relation=relation,
        p_value=p_value,
        alpha=alpha,
        correction="Exact copies only (sha256 of each tensor's stored bytes); no statistical test was run.",
        components=components,
        evidence=[],
        norms=[],
        alignment={},
        layer_alignment=[],
        transformations=[],
        config_likeness=config_likeness(a.config(), b.config()),
        explanation={language: text + note[language] for language, text in explanation.items()},
    )


def unreadable_tensors(source: TensorSource) -> dict[str, str]:
    """Tensor -> why its reader refuses to decode it (``SafetensorsCheckpoint.unsupported_tensors``)."""
    listed = getattr(source, "unsupported_tensors", None)
    return dict(listed()) if callable(listed) else {}


def compare_checkpoints(a: TensorSource, b: TensorSource, *, alpha: float = 0.01) -> dict[str, Any]:
    """``compare`` as JSON; when either side holds tensors its reader cannot decode (GPTQ,
    bitsandbytes, ...), ``compare_digests`` instead, with ``unreadable`` (tensor -> why, at most 20,
    either side's: a report's full view only) added."""
    ours, theirs = unreadable_tensors(a), unreadable_tensors(b)
    if not ours and not theirs:
        try:
            return compare(a, b, alpha=alpha).to_json()
        except NotSupportedError as error:  # found only when read (e.g. an ONNX data type not decoded)
            found = {str(error.extra.get("tensor", "?")): str(error.extra.get("reason", error.message))}
            ours, theirs = (found, {}) if error.extra.get("tensor") in a.names() else ({}, found)
    result = compare_digests(a, b, alpha=alpha, unreadable=ours, reference_unreadable=len(theirs)).to_json()
    result["unreadable"] = dict(sorted((ours | theirs).items())[:20])
    return result

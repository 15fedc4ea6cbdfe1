"""Component fingerprints and the hub-wide index that picks candidates per component.

Whole-model candidates (declared base, shared digests, equal residual width) miss a copied
component inside a model whose other parts differ: a retrained copy of a foreign vision tower
beside a language model of another width shares no digest and no width with its source. So
every component of a fingerprinted revision also gets a short vector, and a scan looks, for each
of its components, for the nearest components of the same *signature* anywhere in the hub.
The index only chooses what to compare; the verdict still comes from the calibrated test in
``compare``.

What a component's vector is made of, per matrix (convolutions flattened to output × rest),
each feature invariant to any permutation of hidden units and moved by at most about ε (in RMS)
by a change of relative L2 size ε:

- ``QUANTILES`` quantiles of its values over their RMS, and the log of the RMS. The quantiles
  are the sorted values, which a permutation of rows or columns only reorders; a change of size
  ε moves the sorted values (the 2-Wasserstein distance of the two value distributions) by at
  most ε in RMS;
- its ``SINGULAR_VALUES`` largest singular values over the Frobenius norm, times
  √``SINGULAR_VALUES``: invariant to permutations and to any orthogonal change of basis of
  either side (residual rotations too), and moved by at most ε in RMS (Mirsky's inequality).

Norm gains and biases (1-D) contribute no features, only their shapes to the signature (see
:func:`tensor_features`). Light retraining is not adversarial: copies changed by 5 % with random
directions move by about 0.01, well inside the match distance.

Tensors are ordered by a key made of the numbers in their name relative to the component (the
layer index inside a tower), their role (``q``, ``up``... from ``layout``, else the module
name) and their shape, so a copy under another prefix gives the same vector. The concatenated
per-tensor features are then projected to ``DIMENSIONS`` numbers by a fixed ±1 random
projection (Johnson–Lindenstrauss: distances kept within a few tens of per cent), derived from
sha256 so it never changes with a library version. Stored vectors are float32, 512 bytes.

The *signature* is the component's kind (``tower``, ``block`` or ``module``) plus the sorted list
of (key, shape): a vision tower is only matched with towers of the same structure, an attention
block with blocks of the same shapes, whatever the rest of either model is.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from baton.provenance.layout import ROLE_BY_MODULE, analyse
from baton.provenance.source import TensorSource

Float32Array = npt.NDArray[np.float32]
SCHEME = "c1"  # bump when the features change: vectors of different schemes are never compared
QUANTILES = 16
SINGULAR_VALUES = 8
DIMENSIONS = 128
EXACT_SVD_LIMIT = 512  # larger matrices get a randomized top-k SVD
SAMPLE_LIMIT = 1 << 18  # quantiles of larger tensors from a seeded sample of this many values
MIN_COMPONENT_VALUES = 256  # smaller components (a lone bias) say nothing
# A neighbour is a candidate when its distance is at most this (the L2 distance of projected
# vectors, which estimates the RMS difference of the raw features). A 5 % change moves a print by
# at most about 0.05 plus the projection's distortion; copies changed by 5 % with random
# directions and permuted measure 0.009-0.015 (tests/provenance/test_component_index.py). Tiny
# near-initialisation models of one shape lie at 0.035-0.09 from each other, so for them the
# ranking (``Neighbour.relative``) rather than this bound keeps the copy first.
MATCH_DISTANCE = 0.08
NEIGHBOURS = 3  # nearest repos per component of the scanned model
MEDIAN_GROUP = 5  # signature groups at least this large rank neighbours by their relative distance


@dataclass(frozen=True)
class ComponentPrint:
    component: str
    kind: str  # tower, block, module
    signature: str  # hex digest of the scheme, kind and tensor keys with shapes
    vector: Float32Array  # DIMENSIONS float32 values


@dataclass(frozen=True)
class Neighbour:
    owner: int  # whatever the index rows were keyed by (a fingerprint id in the hub)
    component: str  # the indexed component
    query: str  # the scanned model's component it is near to
    distance: float
    # distance over the median distance from the query to its whole signature group (over
    # MATCH_DISTANCE when the group is too small for a median): how much this neighbour stands out.
    # Neighbours are ranked by it, so a copied tower is not crowded out by the many near-alike
    # blocks of models that share only their initialisation scheme.
    relative: float


def _key(relative: str, shape: Sequence[int]) -> tuple[tuple[int, ...], str, str, tuple[int, ...]]:
    segments = relative.split(".")
    kind = segments[-1] if segments[-1] in ("weight", "bias") else ""
    module = segments[-2] if kind and len(segments) > 1 else segments[-1]
    numbers = tuple(int(part) for part in segments if part.isdigit())
    role = ROLE_BY_MODULE.get(module.lower(), re.sub(r"\d+", "", module.lower()))
    return numbers, role, kind, tuple(int(dim) for dim in shape)


def _top_singular_values(matrix: Float32Array) -> npt.NDArray[np.float64]:
    rows, columns = matrix.shape
    if min(rows, columns) <= EXACT_SVD_LIMIT:
        values = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
    else:
        # Randomized range finder with one power iteration (Halko et al.; the top 8 of a 16-wide
        # sketch); the test matrix is seeded, and its distribution does not depend on the order
        # of the columns. Four passes over the matrix.
        rng = np.random.default_rng(0)
        omega = rng.standard_normal((columns, 2 * SINGULAR_VALUES)).astype(np.float32)
        basis, _ = np.linalg.qr(matrix @ omega)
        basis, _ = np.linalg.qr(matrix @ (matrix.T @ basis))
        # B = Qᵀ M, computed as (Mᵀ Q)ᵀ: the same numbers, a faster product.
        values = np.linalg.svd((matrix.T @ basis).T.astype(np.float64), compute_uv=False)
    top = np.zeros(SINGULAR_VALUES)
    count = min(SINGULAR_VALUES, values.size)
    top[:count] = values[:count]
    return top


def tensor_features(array: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
    """Permutation-invariant summary of one tensor (see the module's docstring).

    Norm gains and biases (1-D) give no features (they stay in the signature): many start
    constant (ones, zeros), where retraining moves their sorted values and scale by the whole
    change while independent models stay equal, so they would only hide a copy.
    """
    values = np.asarray(array, dtype=np.float32)
    if values.ndim < 2:
        return np.zeros(0)
    matrix = values.reshape(values.shape[0], -1)
    frobenius = math.sqrt(float(np.einsum("ij,ij->", matrix, matrix, dtype=np.float64))) or 1e-12
    rms = frobenius / math.sqrt(matrix.size)
    flat = values.reshape(-1)
    if flat.size > SAMPLE_LIMIT:
        # A seeded sample (with replacement): its quantiles are within a few thousandths of a
        # standard deviation of the full ones, far below what a 5 % change moves them.
        flat = flat[np.random.default_rng(flat.size).integers(0, flat.size, SAMPLE_LIMIT)]
    levels = (np.arange(QUANTILES) + 0.5) / QUANTILES
    return np.concatenate(
        [
            np.quantile(flat.astype(np.float64) / rms, levels),
            [math.log(rms)],
            # Scaled so their RMS moves by at most the relative change (Mirsky: the vector of
            # singular values moves by at most the Frobenius norm of the change).
            _top_singular_values(matrix) / frobenius * math.sqrt(SINGULAR_VALUES),
        ]
    )


@lru_cache(maxsize=64)
def _projection(raw: int) -> Float32Array:
    """A fixed raw × DIMENSIONS matrix of ±1/√(raw·DIMENSIONS), from sha256 (same on every machine).

    Scaled so the L2 distance of two projected vectors estimates the RMS difference of their
    raw features, whatever the number of tensors in the component.
    """
    needed = raw * DIMENSIONS
    stream = bytearray()
    counter = 0
    while len(stream) * 8 < needed:
        stream += hashlib.sha256(f"baton-component-projection-{SCHEME}-{raw}-{counter}".encode()).digest()
        counter += 1
    bits = np.unpackbits(np.frombuffer(bytes(stream), dtype=np.uint8))[:needed]
    signs = bits.astype(np.float32) * 2.0 - 1.0
    return (signs.reshape(raw, DIMENSIONS) / math.sqrt(DIMENSIONS * raw)).astype(np.float32)


def component_prints(source: TensorSource) -> list[ComponentPrint]:
    """One print per component of a checkpoint that holds a matrix; tensors read one at a time."""
    names = source.names()
    shapes = {name: tuple(source.meta(name).shape) for name in names}
    wanted = set(indexed_tensors(shapes))
    return assemble(shapes, {name: tensor_features(source.read(name)) for name in names if name in wanted})


def _members(shapes: dict[str, tuple[int, ...]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Tensors by component, for the components worth indexing, and each such component's kind."""
    layout = analyse(list(shapes))
    towers = set(layout.tower_stacks())
    language = {block.component for block in layout.language_stack()}
    members: dict[str, list[str]] = {}
    for name in shapes:
        members.setdefault(layout.component_of.get(name, name), []).append(name)
    kept: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for component, tensors in members.items():
        if not any(len(shapes[name]) >= 2 for name in tensors):
            continue
        if sum(math.prod(shapes[name]) for name in tensors) < MIN_COMPONENT_VALUES:
            continue
        kept[component] = tensors
        kinds[component] = "tower" if component in towers else "block" if component in language else "module"
    return kept, kinds


def indexed_tensors(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """The tensors whose features the prints need (those of components worth indexing)."""
    members, _ = _members(shapes)
    return [name for tensors in members.values() for name in tensors]


def assemble(shapes: dict[str, tuple[int, ...]], features: dict[str, npt.NDArray[np.float64]]) -> list[ComponentPrint]:
    """Prints from per-tensor features computed elsewhere (fingerprinting computes them as it
    reads each tensor for its digest, so a checkpoint is read once)."""
    members, kinds = _members(shapes)
    prints: list[ComponentPrint] = []
    for component, tensors in members.items():
        prefix = component + "."
        keyed = sorted(
            (_key(name[len(prefix) :] if name.startswith(prefix) else name, shapes[name]), name) for name in tensors
        )
        kind = kinds[component]
        described = json.dumps([SCHEME, kind, [[list(key[0]), key[1], key[2], list(key[3])] for key, _ in keyed]])
        signature = hashlib.sha256(described.encode()).hexdigest()[:40]
        raw = np.concatenate([features[name] for _, name in keyed])
        vector = (raw.astype(np.float32) @ _projection(raw.size)).astype(np.float32)
        prints.append(ComponentPrint(component, kind, signature, vector))
    return prints


class ComponentIndex:
    """Component vectors grouped by signature, one contiguous float32 matrix per signature."""

    def __init__(self, rows: Iterable[tuple[int, str, str, bytes]]) -> None:
        """``rows``: (owner, component, signature, vector bytes); owner is e.g. a fingerprint id."""
        grouped: dict[str, tuple[list[int], list[str], list[bytes]]] = {}
        for owner, component, signature, vector in rows:
            owners, components, vectors = grouped.setdefault(signature, ([], [], []))
            owners.append(owner)
            components.append(component)
            vectors.append(vector)
        self.groups: dict[str, tuple[npt.NDArray[np.int64], list[str], Float32Array]] = {}
        for signature, (owners, components, vectors) in grouped.items():
            matrix = np.frombuffer(b"".join(vectors), dtype=np.float32).reshape(len(vectors), DIMENSIONS)
            self.groups[signature] = (np.asarray(owners, dtype=np.int64), components, matrix)

    def __len__(self) -> int:
        return sum(len(group[1]) for group in self.groups.values())

    def nearest(
        self,
        prints: Iterable[ComponentPrint],
        *,
        exclude: set[int] | frozenset[int] = frozenset(),
        neighbours: int = NEIGHBOURS,
        max_distance: float = MATCH_DISTANCE,
    ) -> list[Neighbour]:
        """For each print, up to ``neighbours`` nearest owners within ``max_distance``.

        All of them together, most outstanding (smallest ``relative``) first.
        """
        found: list[Neighbour] = []
        for query in prints:
            group = self.groups.get(query.signature)
            if group is None:
                continue
            owners, components, matrix = group
            difference = matrix - query.vector[None, :]
            distances = np.sqrt(np.einsum("ij,ij->i", difference, difference))
            typical = float(np.median(distances)) if distances.size >= MEDIAN_GROUP else MATCH_DISTANCE
            close = np.flatnonzero(distances <= max_distance)
            taken: set[int] = set()
            for position in close[np.argsort(distances[close], kind="stable")]:
                owner = int(owners[position])
                if owner in exclude or owner in taken:
                    continue
                taken.add(owner)
                value = float(distances[position])
                found.append(
                    Neighbour(owner, components[position], query.component, value, value / max(typical, 1e-12))
                )
                if len(taken) >= neighbours:
                    break
        return sorted(found, key=lambda item: (item.relative, item.distance))


def distance(a: ComponentPrint, b: ComponentPrint) -> float:
    """The index's distance between two prints (infinite across signatures)."""
    if a.signature != b.signature:
        return math.inf
    return float(np.linalg.norm(a.vector - b.vector))

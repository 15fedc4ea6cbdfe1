"""Peak memory of ``compare`` on two ~1B-parameter checkpoints, against the bound of issue 3.

The bound: memory during a comparison stays within "a small multiple of the largest tensor in
float32 plus a fixed amount", whatever the number of layers.

Writes a Llama-style reference checkpoint (hidden 2048, MLP 5632, 18 layers, vocabulary 32000,
full multi-head attention: 1.06 B parameters, BF16, sharded with an index) and two models to
compare with it:

- ``derived``: made from the reference layer by layer with ``baton.provenance.synthetic``
  (hidden-unit permutation, a Haar-random residual rotation with the norms folded in, then
  Gaussian noise of 10 % of each tensor's spread as a stand-in for fine-tuning), stored in BF16;
- ``independent``: other random weights of the same shapes.

Each measurement runs in a fresh Python process: its peak resident set (``VmHWM`` from
``/proc/self/status``, cross-checked by sampling ``VmRSS`` from outside every 50 ms) is set
against the largest tensor in float32. The fixed amount is the process's resident memory after
the imports, before anything is read. A reader-only pass (``read`` of every tensor, one at a
time) shows what the streaming reader alone needs.

    .venv/bin/python bench/provenance_memory.py --layers 18 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _common as common
import _provenance as prov
import numpy as np

TARGET_MULTIPLE = 4.0  # what "a small multiple" is taken to mean here


def status_bytes(field_name: str) -> int:
    return common.read_status_kib(os.getpid(), field_name) * 1024


class PhaseSampler:
    """Samples this process's VmRSS every ``interval`` s with the engine function running at the time.

    The phase is the chain of ``compare.py`` functions below ``compare`` on the main thread's
    stack (e.g. ``_compare_stack > <listcomp> > _block_view``), so the peak can be attributed.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PhaseSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _phase(self) -> str:
        frame = sys._current_frames().get(self._main or 0)
        chain: list[str] = []
        while frame is not None:
            if frame.f_code.co_filename.endswith("provenance/compare.py"):
                chain.append(frame.f_code.co_name)
            frame = frame.f_back
        chain.reverse()  # outermost first: compare, _compare_stack, ...
        return " > ".join(chain[1:4]) or ("compare" if chain else "outside compare")

    def _run(self) -> None:
        while not self._stop.is_set():
            phase = self._phase()
            rss = status_bytes("VmRSS")
            self.peaks[phase] = max(self.peaks.get(phase, 0), rss)
            self._stop.wait(self.interval)


# -- generation -------------------------------------------------------------------------------------


def write_reference(folder: Path, shape: prov.LlamaShape, dtype: str, seed: int, shards: int) -> None:
    prov.write_checkpoint(
        folder,
        shape.specs(),
        dtype,
        lambda name, dims: prov.random_tensor(name, dims, dtype, seed=seed),
        shards=shards,
        config=prov.llama_config(shape, dtype),
    )


def write_derived(folder: Path, reference: Path, shape: prov.LlamaShape, dtype: str, shards: int) -> None:
    """The reference with synthetic.py's transformations applied one layer at a time.

    ``permute_hidden_units`` and ``rotate_residual`` work on any state dict whose names they
    recognise, so each is given one block's tensors (the same rotation ``q`` for every block);
    the embedding, final norm and head go through ``rotate_residual`` with the first block (whose
    output there is discarded: it is made again, permuted, in the per-block pass).
    """
    from baton.provenance import synthetic
    from baton.provenance.reader import LocalCheckpoint

    source = LocalCheckpoint(reference)
    gaussian = np.random.default_rng(77).standard_normal((shape.hidden, shape.hidden))
    q, r = np.linalg.qr(gaussian)
    rotation = q * np.sign(np.diag(r))[None, :]
    noise_rng = np.random.default_rng(78)
    store_type = prov.DTYPES[dtype]
    held: dict[str, Any] = {}
    layer_of = {
        name: (int(name.split(".")[2]) if name.startswith("model.layers.") else None) for name, _ in shape.specs()
    }

    def finish(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for name, value in state.items():
            if value.ndim > 1:  # "fine-tuning": noise on the matrices, 10 % of their spread
                value = value + noise_rng.normal(0.0, 0.1 * float(value.std()), value.shape).astype(np.float32)
            out[name] = value.astype(store_type)
        return out

    def block_names(index: int) -> list[str]:
        return [name for name, layer in layer_of.items() if layer == index]

    # Embedding, final norm and head (rotated with the first block, whose result is dropped).
    extras = [name for name, layer in layer_of.items() if layer is None]
    rotated = synthetic.rotate_residual({n: source.read(n) for n in extras + block_names(0)}, rotation)
    held.update(finish({n: rotated[n] for n in extras}))
    del rotated

    def tensor(name: str, dims: tuple[int, ...]) -> np.ndarray:
        if name not in held:
            layer = layer_of[name]
            assert layer is not None
            for key in [k for k in held if layer_of.get(k) is not None]:
                del held[key]  # one block at a time
            state = {n: source.read(n) for n in block_names(layer)}
            state = synthetic.permute_hidden_units(state, seed=layer)
            state = synthetic.rotate_residual(state, rotation)
            held.update(finish(state))
        return held.pop(name)

    prov.write_checkpoint(folder, shape.specs(), dtype, tensor, shards=shards, config=prov.llama_config(shape, dtype))


# -- the measured child -----------------------------------------------------------------------------


def child(mode: str, model: str, reference: str) -> None:
    """Runs in a fresh interpreter; prints one JSON line."""
    from baton.provenance.compare import compare
    from baton.provenance.reader import LocalCheckpoint

    fixed = status_bytes("VmRSS")
    started = time.perf_counter()
    out: dict[str, Any] = {"fixed_rss": fixed}
    if mode == "compare":
        with PhaseSampler() as sampler:
            result = compare(LocalCheckpoint(model), LocalCheckpoint(reference))
        out |= {"verdict": result.verdict, "relation": result.relation, "p_value": result.p_value}
        out["peak_rss_by_phase"] = sampler.peaks
    else:  # read every tensor once, as float32, one at a time
        source = LocalCheckpoint(model)
        for name in source.names():
            source.read(name)
    out["seconds"] = time.perf_counter() - started
    out["peak_rss"] = status_bytes("VmHWM")
    print(json.dumps(out))


def measure(mode: str, model: Path, reference: Path) -> dict[str, Any]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, str(model), str(reference)],
        stdout=subprocess.PIPE,
        text=True,
    )
    with common.RssSampler(process.pid) as sampler:
        stdout, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"child {mode} {model.name} failed with code {process.returncode}")
    data: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    data["sampled_peak_rss"] = sampler.peak
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=2048)
    parser.add_argument("--intermediate", type=int, default=5632)
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=32)
    parser.add_argument("--dtype", choices=sorted(prov.DTYPES), default="BF16")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--pairs", default="derived,independent", help="comma-separated: derived, independent")
    parser.add_argument("--runs", type=int, default=1, help="compare runs per pair (peak memory is deterministic)")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--no-json", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "MODEL", "REFERENCE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    shape = prov.LlamaShape(args.hidden, args.intermediate, args.layers, args.vocab, args.heads, args.kv_heads)
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()]
    itemsize = prov.DTYPES[args.dtype].itemsize
    checkpoint_bytes = shape.parameters() * itemsize
    base = Path(args.work_dir or tempfile.gettempdir())
    common.check_free_disk(base, checkpoint_bytes * (1 + len(pairs)) + common.GIB)
    largest = max(int(np.prod(dims)) for _, dims in shape.specs()) * 4
    work = Path(tempfile.mkdtemp(prefix="baton-bench-mem-", dir=base))
    measurements: dict[str, list[dict[str, Any]]] = {}
    loads: list[str] = []
    try:
        reference = work / "reference"
        started = time.perf_counter()
        write_reference(reference, shape, args.dtype, seed=1, shards=args.shards)
        print(f"reference: {shape.parameters() / 1e9:.2f} B parameters, {checkpoint_bytes / common.GIB:.2f} GiB "
              f"in {time.perf_counter() - started:.0f} s", file=sys.stderr)  # fmt: skip
        models: dict[str, Path] = {}
        for pair in pairs:
            started = time.perf_counter()
            models[pair] = work / pair
            if pair == "derived":
                write_derived(models[pair], reference, shape, args.dtype, args.shards)
            elif pair == "independent":
                write_reference(models[pair], shape, args.dtype, seed=2, shards=args.shards)
            else:
                raise SystemExit(f"unknown pair {pair!r}")
            print(f"{pair}: written in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        loads.append(common.load_average())
        measurements["read_only"] = [measure("read", reference, reference)]
        for pair in pairs:
            for _ in range(args.runs):
                loads.append(common.load_average())
                measurements[pair] = [*measurements.get(pair, []), measure("compare", models[pair], reference)]
                last = measurements[pair][-1]
                print(f"{pair}: {last['seconds']:.0f} s, peak {last['peak_rss'] / common.MIB:.0f} MiB, "
                      f"verdict {last.get('verdict')}", file=sys.stderr)  # fmt: skip
        loads.append(common.load_average())
    finally:
        prov.remove(work)

    rows = []
    for label, runs in measurements.items():
        peak = max(r["peak_rss"] for r in runs)
        fixed = min(r["fixed_rss"] for r in runs)
        seconds = common.median([r["seconds"] for r in runs])
        multiple = (peak - fixed) / largest
        verdict = "-" if label == "read_only" else f"{runs[0]['verdict']} (p={runs[0]['p_value']:.1e})"
        rows.append([
            "reader only (read every tensor)" if label == "read_only" else f"compare, {label} pair",
            f"{peak / common.MIB:.0f}", f"{fixed / common.MIB:.0f}", f"{multiple:.1f}",
            "yes" if multiple <= TARGET_MULTIPLE else "no", f"{seconds:.0f}", verdict,
        ])  # fmt: skip
    print()
    print(
        f"Checkpoints: Llama-style, hidden {shape.hidden}, MLP {shape.intermediate}, {shape.layers} layers, "
        f"vocabulary {shape.vocab}, {shape.parameters() / 1e9:.2f} B parameters, {args.dtype} "
        f"({checkpoint_bytes / common.GIB:.2f} GiB each, {args.shards} shards). Largest tensor in float32: "
        f"{largest / common.MIB:.0f} MiB (embedding / head, {shape.vocab} x {shape.hidden})."
    )
    print()
    print(common.markdown_table(
        ["run", "peak RSS MiB", "fixed (after imports) MiB", "(peak - fixed) / largest f32",
         f"within {TARGET_MULTIPLE:.0f}x", "seconds", "verdict"],
        rows,
    ))  # fmt: skip
    print()
    for label, runs in measurements.items():
        phases = runs[0].get("peak_rss_by_phase")
        if not phases:
            continue
        fixed = runs[0]["fixed_rss"]
        top = sorted(phases.items(), key=lambda item: -item[1])[:8]
        print()
        print(f"Peak RSS by engine phase (sampled every 20 ms), {label} pair:")
        print()
        print(common.markdown_table(
            ["phase (compare.py functions, outermost first)", "peak RSS MiB", "(peak - fixed) / largest f32"],
            [[f"`{phase}`", f"{rss / common.MIB:.0f}", f"{(rss - fixed) / largest:.1f}"] for phase, rss in top],
        ))  # fmt: skip
    print()
    print(f"load average: {loads[0]} (start) .. {loads[-1]} (end)")
    if not args.no_json:
        path = common.write_results(
            "provenance_memory",
            {
                "shape": shape.__dict__,
                "dtype": args.dtype,
                "largest_tensor_f32_bytes": largest,
                "measurements": measurements,
                "load_averages": loads,
            },
        )
        print(f"\nraw numbers: {path.relative_to(common.REPO_ROOT)}")


if __name__ == "__main__":
    main()

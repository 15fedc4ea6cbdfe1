"""Making variants of a causal LM saved with ``save_pretrained``: an ONNX graph, ONNX dynamic int8, and
torchao weight-only int8 / int4 safetensors that ``transformers`` loads back.

Each function reads a model folder and writes ``out`` with the weights, ``config.json`` and the
tokenizer files (no README: the card is the caller's). torch, transformers, torchao and onnxruntime
are imported inside the functions, so importing this module costs nothing.

Formats (see docs/variants.md):

- ``export_onnx``: ``model.onnx`` (fp32) with inputs ``input_ids`` and ``attention_mask`` (batch
  and sequence dynamic) and output ``logits``. The exporter names the pre-transposed Linear weights
  ``val_<n>``; they are renamed ``<module>.weight.T`` (stored transposed, [in, out]) and parameters
  keep their own names, so a reader can match the graph's tensors to the base's parameters.
- ``quantize_onnx_int8``: onnxruntime's ``quantize_dynamic`` (int8 weights, activations quantized on
  the fly): ``<name>_quantized``, ``<name>_scale``, ``<name>_zero_point``.
- ``quantize_weight_only``: torchao ``Int8WeightOnlyConfig`` (8 bits) or ``IntxWeightOnlyConfig``
  (4 bits, groups of 32, one value per int8 byte: torchao's packed int4 layouts do not run on CPU).
  torchao quantizes ``nn.Linear`` only; a model with none (GPT-2's ``Conv1D``) is refused.
"""

from __future__ import annotations

import ast
import inspect
import json
import shutil
from pathlib import Path
from typing import Any

from baton.core.errors import BadRequestError

ONNX_FILE = "model.onnx"
# Files beside the weights a variant keeps (the tokenizer and generation defaults).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "spiece.model",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
)
WRAPPER = "m"  # the attribute the export wrapper holds the model under (the graph's scope prefix)
NAME_SCOPES = "pkg.torch.onnx.name_scopes"
GROUP_SIZE = 32  # int4: one scale and zero point per 32 weights of a row


class VariantProductionError(BadRequestError):
    code = "VariantProductionFailed"
    default_hint = "Check that the base is a causal LM saved with save_pretrained whose layers are nn.Linear."


def _config(src: Path) -> dict[str, Any]:
    path = src / "config.json"
    if not path.is_file():
        raise VariantProductionError(f"{src} has no config.json: it is not a model saved with save_pretrained.")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VariantProductionError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(config, dict):
        raise VariantProductionError(f"{path} does not hold a JSON object.")
    return config


def copy_side_files(src: Path, out: Path, *, config: bool = True) -> list[str]:
    """Copy ``config.json`` (unless ``config`` is false) and the tokenizer files present in ``src``."""
    out.mkdir(parents=True, exist_ok=True)
    names = (("config.json",) if config else ()) + TOKENIZER_FILES
    copied = []
    for name in names:
        source = src / name
        if source.is_file() and not (out / name).exists():
            shutil.copyfile(source, out / name)
            copied.append(name)
    return copied


def _load_fp32(src: Path) -> Any:
    import torch
    import transformers

    _config(src)
    try:
        model: Any = transformers.AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32, device_map="cpu")
    except (OSError, ValueError, KeyError) as error:
        raise VariantProductionError(f"Could not load {src} as a causal LM: {error}") from error
    return model.eval()


# -- ONNX -------------------------------------------------------------------------------------------


def _module_scope(node: Any) -> str | None:
    """The module a node was traced in (its last ``m.``-prefixed name scope), without the wrapper prefix."""
    raw = node.metadata_props.get(NAME_SCOPES)
    if not raw:
        return None
    try:
        scopes = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(scopes, list | tuple) or len(scopes) < 2:
        return None
    module = scopes[-2]  # the last entry is the operation's own name
    if not isinstance(module, str) or not module.startswith(f"{WRAPPER}."):
        return None
    return module.removeprefix(f"{WRAPPER}.")


def _rename_initializers(graph: Any, model: Any) -> int:
    """Give the graph's weights the base's parameter names; returns how many Linear weights were renamed."""
    import torch

    parameters = set(dict(model.named_parameters(remove_duplicate=False))) | set(
        dict(model.named_buffers(remove_duplicate=False))
    )
    taken = set(graph.initializers)
    renamed = 0
    for value in list(graph.initializers.values()):
        name = value.name or ""
        if name.startswith(f"{WRAPPER}.") and name.removeprefix(f"{WRAPPER}.") in parameters:
            target = name.removeprefix(f"{WRAPPER}.")
            if target not in taken:
                taken.discard(name)
                value.name = target
                taken.add(target)
    for node in graph:
        if node.op_type != "MatMul" or len(node.inputs) < 2:
            continue
        weight = node.inputs[1]
        if weight is None or not weight.is_initializer() or (weight.name or "") in parameters:
            continue
        module_name = _module_scope(node)
        if module_name is None:
            continue
        try:
            module = model.get_submodule(module_name)
        except AttributeError:
            continue
        if not isinstance(module, torch.nn.Linear) or weight.shape is None:
            continue
        if tuple(weight.shape) != (module.in_features, module.out_features):
            continue
        consumers = {_module_scope(user) for user, _ in weight.uses()}
        target = f"{module_name}.weight.T"
        if consumers != {module_name} or target in taken:
            continue
        taken.discard(weight.name)
        weight.name = target
        taken.add(target)
        renamed += 1
    return renamed


LOGIT_POSITIONS = "logit_positions"  # the graph input naming the positions whose logits are returned


def export_onnx(src: Path, out: Path) -> Path:
    """Export the causal LM in ``src`` to ``out/model.onnx`` (fp32); returns ``out``."""
    import torch

    model = _load_fp32(src)

    class _Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.m = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            logits: torch.Tensor = self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
            return logits

    class _LogitsAt(_Logits):
        """Logits at the given positions only (``logits_to_keep``): the output layer runs on those."""

        def forward(  # type: ignore[override]
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, logit_positions: torch.Tensor
        ) -> torch.Tensor:
            output = self.m(
                input_ids=input_ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=logit_positions
            )
            logits: torch.Tensor = output.logits
            return logits

    vocab = int(getattr(model.config, "vocab_size", 2) or 2)
    input_ids = torch.arange(16, dtype=torch.long).reshape(2, 8) % vocab
    attention_mask = torch.ones_like(input_ids)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    shapes: dict[str, Any] = {"input_ids": {0: batch, 1: sequence}, "attention_mask": {0: batch, 1: sequence}}
    # Scoring needs the logits of a few positions per row, and the output layer (vocabulary x hidden)
    # is a large part of a small model's work: graphs of models that take ``logits_to_keep`` get an
    # input ``logit_positions`` (int64 [k], the same positions for every row) and return [batch, k,
    # vocabulary]. Other models' graphs return every position.
    keeps = "logits_to_keep" in inspect.signature(model.forward).parameters
    wrapper: torch.nn.Module = _LogitsAt(model) if keeps else _Logits(model)
    arguments: tuple[torch.Tensor, ...] = (input_ids, attention_mask)
    names = ["input_ids", "attention_mask"]
    if keeps:
        arguments = (*arguments, torch.arange(3, 8, dtype=torch.long))
        names.append(LOGIT_POSITIONS)
        shapes[LOGIT_POSITIONS] = {0: torch.export.Dim("positions")}
    try:
        program = torch.onnx.export(
            wrapper.eval(),
            arguments,
            None,
            input_names=names,
            output_names=["logits"],
            dynamic_shapes=shapes,
            dynamo=True,
            verbose=False,
        )
    except Exception as error:  # the exporter raises many types: say which model and why
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise VariantProductionError(
            f"torch.onnx.export could not export {src}: {first}",
            hint="The ONNX export supports the architectures torch.export can trace; try the torchao variants.",
        ) from error
    if program is None:
        raise VariantProductionError(f"torch.onnx.export returned no program for {src}.")
    _rename_initializers(program.model.graph, model)
    del model
    out.mkdir(parents=True, exist_ok=True)
    program.save(out / ONNX_FILE)
    del program
    copy_side_files(src, out)
    return out


def quantize_onnx_int8(fp32_folder: Path, out: Path, *, per_channel: bool = False) -> Path:
    """Dynamic int8 quantization of ``fp32_folder/model.onnx`` into ``out/model.onnx``; returns ``out``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    source = fp32_folder / ONNX_FILE
    if not source.is_file():
        raise VariantProductionError(f"{fp32_folder} has no {ONNX_FILE}.", hint="Export the model first (export_onnx).")
    out.mkdir(parents=True, exist_ok=True)
    target = out / ONNX_FILE
    large = source.stat().st_size > 1_800_000_000 or any(p.suffix == ".data" for p in fp32_folder.iterdir())
    try:
        quantize_dynamic(
            source, target, weight_type=QuantType.QInt8, per_channel=per_channel, use_external_data_format=large
        )
    except Exception as error:  # onnxruntime's tooling raises many types
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise VariantProductionError(f"onnxruntime could not quantize {source}: {first}") from error
    graph = onnx.load(str(target), load_external_data=False).graph
    if not any(initializer.name.endswith("_quantized") for initializer in graph.initializer):
        target.unlink()
        raise VariantProductionError(
            f"onnxruntime quantized nothing in {source}: the graph has no MatMul or Gather with constant weights.",
            hint="Publish the fp32 ONNX export instead of a variant identical to it.",
        )
    copy_side_files(fp32_folder, out)
    return out


# -- torchao weight-only ----------------------------------------------------------------------------


def torchao_config(bits: int) -> Any:
    """The torchao configuration for weight-only ``bits``-bit quantization (8 or 4) that runs on CPU."""
    import torch
    from torchao.quantization import Int8WeightOnlyConfig, IntxWeightOnlyConfig  # type: ignore[import-untyped]
    from torchao.quantization.granularity import PerGroup  # type: ignore[import-untyped]

    if bits == 8:
        return Int8WeightOnlyConfig()
    if bits == 4:
        int4 = torch.int4  # type: ignore[attr-defined]
        return IntxWeightOnlyConfig(weight_dtype=int4, granularity=PerGroup(GROUP_SIZE))
    raise VariantProductionError(f"Weight-only quantization takes bits 8 or 4, not {bits}.", hint="Use 8 or 4.")


def quantize_weight_only(src: Path, out: Path, bits: int) -> Path:
    """torchao weight-only quantization of the causal LM in ``src``, saved as safetensors in ``out``."""
    import torch
    import transformers
    from torchao.utils import TorchAOBaseTensor  # type: ignore[import-untyped]

    config = torchao_config(bits)
    _config(src)
    try:
        model: Any = transformers.AutoModelForCausalLM.from_pretrained(
            src, quantization_config=transformers.TorchAoConfig(config), device_map="cpu"
        )
    except (OSError, ValueError, KeyError) as error:
        raise VariantProductionError(f"Could not load {src} for {bits}-bit quantization: {error}") from error
    # The body's layers: what a weight-only variant exists for (embeddings and the output layer aside).
    output = model.get_output_embeddings()
    body = [
        module
        for module in model.modules()
        if isinstance(getattr(module, "weight", None), torch.Tensor)
        and module.weight.ndim == 2
        and not isinstance(module, torch.nn.Embedding)
        and module is not output
    ]
    quantized = sum(isinstance(module.weight, TorchAOBaseTensor) for module in body)
    if quantized == 0:
        kinds = sorted({type(module).__name__ for module in body})
        raise VariantProductionError(
            f"torchao quantized nothing in {src}: it quantizes nn.Linear layers and the layers of this "
            f"{type(model).__name__} are {', '.join(kinds) or 'none'}. "
            "The variant would be the base unchanged, so none is made.",
            hint="Weight-only variants need a model built from nn.Linear (e.g. Llama); GPT-2's Conv1D is not.",
        )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    del model
    copy_side_files(src, out, config=False)
    return out

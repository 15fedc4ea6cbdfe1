"""transformers and datasets, unmodified, loading models and data sets from a real Baton server.

The client code runs in a subprocess with ``HF_ENDPOINT`` pointing at the server: huggingface_hub
reads the endpoint when it is imported, and a fresh process is also the most faithful picture of
"a user's own script, pointed at Baton". Models and data are made in the test: nothing is
downloaded from the internet.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi

pytestmark = pytest.mark.integration

SENTENCES = [
    "the model reads the data",
    "the hub keeps every model",
    "a small model learns fast",
    "모델 은 데이터 를 읽는다",
    "허브 는 모든 모델 을 지킨다",
]
PROMPT = "the hub keeps the 모델"
SUBPROCESS_TIMEOUT = 180


# Tiny models, built once per module -------------------------------------------------------------


def _state_checksum(model: Any) -> str:
    """sha256 over every tensor of the state dict, by name: equal only if every weight is equal."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + b"\0" + str(tensor.dtype).encode() + b"\0")
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two GPT-2s with different weights (v1 and v2) sharing one tokenizer, saved as folders."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    special = ["[UNK]", "[PAD]", "[BOS]", "[EOS]"]
    backend = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(SENTENCES, trainers.WordLevelTrainer(special_tokens=special))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", bos_token="[BOS]", eos_token="[EOS]"
    )
    input_ids = tokenizer(PROMPT)["input_ids"]
    assert tokenizer.unk_token_id not in input_ids  # every word of the prompt is in the vocabulary

    root = tmp_path_factory.mktemp("tiny-models")
    result: dict[str, Any] = {"input_ids": input_ids, "vocab_size": len(tokenizer)}
    for version, seed in (("v1", 1), ("v2", 2)):
        torch.manual_seed(seed)
        config = GPT2Config(
            vocab_size=64,
            n_positions=32,
            n_embd=16,
            n_layer=2,
            n_head=2,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = GPT2LMHeadModel(config).eval()
        folder = root / version
        model.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        with torch.no_grad():
            logits = model(torch.tensor([input_ids])).logits[0]
        result[version] = {
            "folder": folder,
            "checksum": _state_checksum(model),
            "logits": logits[-1].tolist(),
            "logits_sum": float(logits.sum()),
        }
    assert result["v1"]["checksum"] != result["v2"]["checksum"]
    assert len(input_ids) > 3 and result["vocab_size"] <= 64
    return result


# Running client code in a fresh process ---------------------------------------------------------


def run_client(
    script: str, tmp_path: Path, server_url: str, token: str | None, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a new interpreter whose HF_ENDPOINT is the Baton server."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"client_{hashlib.sha1(script.encode()).hexdigest()[:8]}.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(
        HF_ENDPOINT=server_url,
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HOME=str(tmp_path / "hf"),
        PYTHONIOENCODING="utf-8",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
    )
    if token is not None:
        env["HF_TOKEN"] = token
    return subprocess.run(
        [sys.executable, str(path), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=SUBPROCESS_TIMEOUT,
    )


def last_json_line(completed: subprocess.CompletedProcess[str]) -> Any:
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result printed (exit {completed.returncode})\n{completed.stdout}\n{completed.stderr[-4000:]}"
    return json.loads(lines[-1])


# Models -----------------------------------------------------------------------------------------

MODEL_CLIENT = """
import hashlib, json, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(1)
repo_id, prompt = sys.argv[1], sys.argv[2]
revisions = sys.argv[3:]

def checksum(model):
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + b"\\0" + str(tensor.dtype).encode() + b"\\0")
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()

result = {}
for revision in revisions:
    tokenizer = AutoTokenizer.from_pretrained(repo_id, revision=revision)
    model = AutoModelForCausalLM.from_pretrained(repo_id, revision=revision).eval()
    input_ids = tokenizer(prompt)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([input_ids])).logits[0]
    result[revision] = {
        "model_class": type(model).__name__,
        "input_ids": list(input_ids),
        "decoded": tokenizer.decode(input_ids),
        "checksum": checksum(model),
        "logits": logits[-1].tolist(),
        "logits_sum": float(logits.sum()),
    }
print(json.dumps(result))
"""


def test_transformers_loads_model_and_tokenizer_at_revisions(
    live_server: Any, users: dict[str, str], tiny_models: dict[str, Any], tmp_path: Path
) -> None:
    api = HfApi(endpoint=live_server.url, token=users["bob"])
    api.create_repo("bob/tiny-gpt")
    first = api.upload_folder(folder_path=tiny_models["v1"]["folder"], repo_id="bob/tiny-gpt", commit_message="v1")
    api.create_tag("bob/tiny-gpt", tag="v1", revision=first.oid)
    second = api.upload_folder(folder_path=tiny_models["v2"]["folder"], repo_id="bob/tiny-gpt", commit_message="v2")
    assert second.oid != first.oid
    files = set(api.list_repo_files("bob/tiny-gpt"))
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= files

    completed = run_client(
        MODEL_CLIENT, tmp_path, live_server.url, users["bob"], "bob/tiny-gpt", PROMPT, "main", "v1", first.oid
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    loaded = last_json_line(completed)

    for revision, version in (("main", "v2"), ("v1", "v1"), (first.oid, "v1")):
        got, expected = loaded[revision], tiny_models[version]
        assert got["model_class"] == "GPT2LMHeadModel"
        assert got["input_ids"] == tiny_models["input_ids"], "the tokenizer came back different"
        assert "모델" in got["decoded"]
        # Every weight byte-for-byte, and the forward pass agrees with the in-memory model.
        assert got["checksum"] == expected["checksum"], f"weights at {revision} differ from {version}"
        assert got["logits"] == pytest.approx(expected["logits"], abs=1e-5)
        assert got["logits_sum"] == pytest.approx(expected["logits_sum"], rel=1e-5, abs=1e-4)


def test_transformers_private_model_needs_a_token(
    live_server: Any, users: dict[str, str], tiny_models: dict[str, Any], tmp_path: Path
) -> None:
    api = HfApi(endpoint=live_server.url, token=users["bob"])
    api.create_repo("lab/secret-gpt", private=True)
    api.upload_folder(folder_path=tiny_models["v1"]["folder"], repo_id="lab/secret-gpt")
    # One process tries three callers: no token, an outsider's, a member's (token=False: none at all).
    script = """
    import json, sys
    from transformers import AutoConfig
    result = {}
    for caller, token in json.loads(sys.argv[2]).items():
        try:
            config = AutoConfig.from_pretrained(sys.argv[1], token=token if token else False)
            result[caller] = {"model_type": config.model_type, "n_layer": config.n_layer}
        except Exception as error:
            result[caller] = {"error": type(error).__name__, "message": str(error)}
    print(json.dumps(result))
    """
    callers = {"anonymous": None, "carol": users["carol"], "bob": users["bob"]}
    completed = run_client(script, tmp_path, live_server.url, None, "lab/secret-gpt", json.dumps(callers))
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = last_json_line(completed)
    for caller in ("anonymous", "carol"):
        # transformers' own wording for a repo the Hub would not show: "...private repository..."
        assert result[caller].get("error") == "OSError", result[caller]
        assert "lab/secret-gpt" in result[caller]["message"], result[caller]
        assert "private repository" in result[caller]["message"], result[caller]
    assert result["bob"] == {"model_type": "gpt2", "n_layer": 2}


# Data sets --------------------------------------------------------------------------------------

ROWS = [
    {"id": 1, "text": "안녕하세요, 세계", "label": 0, "score": 0.5},
    {"id": 2, "text": "독자 AI 파운데이션 모델", "label": 1, "score": 1.25},
    {"id": 3, "text": 'comma, "quote" and 한글', "label": 1, "score": -2.0},
    {"id": 4, "text": "줄바꿈 없이 긴 문장입니다", "label": 0, "score": 3.75},
]
TEST_ROWS = [{"id": 10, "text": "평가용 문장", "label": 1, "score": 0.0}]

DATASET_CARD = """\
---
license: cc-by-4.0
language:
- ko
- en
configs:
- config_name: everything
  default: true
  data_files:
  - split: train
    path: parquet/train.parquet
  - split: test
    path: parquet/test.parquet
- config_name: evaluation
  data_files:
  - split: test
    path: parquet/test.parquet
---

# Korean corpus

A few rows in three formats. The configs are Parquet only: `datasets` picks one file format
for all the configs of a repo (from the first one), as on the Hugging Face Hub.
"""

DATASET_CLIENT = """
import json, sys
from datasets import load_dataset

calls = json.loads(sys.argv[1])
result, failed = {}, False
for label, (path, kwargs) in calls.items():
    try:
        loaded = load_dataset(path, **kwargs)
        if hasattr(loaded, "to_list"):  # a single split was asked for
            result[label] = {"rows": loaded.to_list(), "features": sorted(loaded.features)}
        else:
            result[label] = {
                split: {"rows": loaded[split].to_list(), "features": sorted(loaded[split].features)}
                for split in loaded
            }
    except Exception as error:
        failed = True
        result[label] = {"error": type(error).__name__, "message": str(error)}
print(json.dumps(result, ensure_ascii=False))
sys.exit(3 if failed else 0)
"""


def _write_rows(folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "csv").mkdir(parents=True)
    (folder / "jsonl").mkdir()
    (folder / "parquet").mkdir()
    with (folder / "csv" / "train.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ROWS[0]))
        writer.writeheader()
        writer.writerows(ROWS)
    (folder / "jsonl" / "train.jsonl").write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS), encoding="utf-8"
    )
    pq.write_table(pa.Table.from_pylist(ROWS), folder / "parquet" / "train.parquet")
    pq.write_table(pa.Table.from_pylist(TEST_ROWS), folder / "parquet" / "test.parquet")
    (folder / "README.md").write_text(DATASET_CARD, encoding="utf-8")


def test_datasets_loads_csv_jsonl_parquet_and_private_data(
    live_server: Any, users: dict[str, str], tmp_path: Path
) -> None:
    api = HfApi(endpoint=live_server.url, token=users["bob"])
    folder = tmp_path / "corpus"
    _write_rows(folder)
    api.create_repo("lab/ko-corpus", repo_type="dataset")
    api.upload_folder(folder_path=folder, repo_id="lab/ko-corpus", repo_type="dataset")
    info = api.dataset_info("lab/ko-corpus", files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings or []}
    assert siblings["parquet/train.parquet"].lfs is not None  # binary data went through LFS
    assert (info.card_data or {}).get("configs")

    api.create_repo("bob/private-notes", repo_type="dataset", private=True)
    api.upload_file(
        path_or_fileobj=json.dumps({"note": "비공개 메모", "n": 7}, ensure_ascii=False).encode() + b"\n",
        path_in_repo="notes.jsonl",
        repo_id="bob/private-notes",
        repo_type="dataset",
    )

    repo = "lab/ko-corpus"
    calls = {
        "default": [repo, {}],
        "evaluation": [repo, {"name": "evaluation"}],
        "csv": [repo, {"data_files": {"train": "csv/train.csv"}}],
        "jsonl": [repo, {"data_files": "jsonl/train.jsonl"}],
        "parquet_split": [repo, {"data_files": {"train": "parquet/train.parquet"}, "split": "train"}],
        "hf_path": ["json", {"data_files": f"hf://datasets/{repo}/jsonl/*.jsonl"}],
    }
    completed = run_client(DATASET_CLIENT, tmp_path, live_server.url, users["bob"], json.dumps(calls))
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    loaded = last_json_line(completed)
    expected_features = sorted(ROWS[0])
    assert sorted(loaded["default"]) == ["test", "train"]  # the card's default config
    assert loaded["default"]["train"]["rows"] == ROWS
    assert loaded["default"]["test"]["rows"] == TEST_ROWS
    assert loaded["default"]["train"]["features"] == expected_features
    assert list(loaded["evaluation"]) == ["test"] and loaded["evaluation"]["test"]["rows"] == TEST_ROWS
    for label in ("csv", "jsonl", "hf_path"):
        assert list(loaded[label]) == ["train"], label
        assert loaded[label]["train"]["features"] == expected_features, label
        assert loaded[label]["train"]["rows"] == ROWS, label
    assert loaded["parquet_split"] == {"rows": ROWS, "features": expected_features}

    private_call = json.dumps({"private": ["bob/private-notes", {}]})
    owner = run_client(DATASET_CLIENT, tmp_path, live_server.url, users["bob"], private_call)
    assert owner.returncode == 0, owner.stdout[-4000:] + owner.stderr[-4000:]
    assert last_json_line(owner)["private"]["train"]["rows"] == [{"note": "비공개 메모", "n": 7}]

    for token in (None, users["carol"]):
        refused = run_client(
            DATASET_CLIENT, tmp_path / ("anon" if token is None else "carol"), live_server.url, token, private_call
        )
        assert refused.returncode == 3, refused.stdout[-4000:] + refused.stderr[-4000:]
        error = last_json_line(refused)["private"]
        assert error["error"] == "DatasetNotFoundError", error
        assert "bob/private-notes" in error["message"], error
        assert "비공개" not in refused.stdout

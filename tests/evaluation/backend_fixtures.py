"""A tiny GPT-2 with a byte-level BPE tokenizer, made in a second and saved with save_pretrained."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

CORPUS = [
    "The capital of France is Paris. The capital of Korea is Seoul.",
    "질문: 대한민국의 수도는 어디입니까?\n답변: 서울",
    "Question: what is two plus two? Answer: four. A B C D",
    "하늘은 파랗고 바다는 넓다. 정답은 A 입니다.",
    "The quick brown fox jumps over the lazy dog.",
]


def make_tiny_gpt2(folder: Path, *, seed: int = 0, layers: int = 2, positions: int = 128) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(CORPUS * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=positions,
        n_embd=32,
        n_layer=layers,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # sharper logits than the default init, so greedy and argmax vary
        model.lm_head.weight.mul_(4.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def train_tiny_gpt2(
    folder: Path,
    texts: list[str],
    *,
    steps: int = 30,
    seed: int = 0,
    positions: int = 1024,
    position_scale: float = 1.0,
    bos: bool = False,
) -> Path:
    """A tiny GPT-2 (tokenizer trained on ``texts`` too) fitted briefly to ``texts``.

    ``position_scale`` then amplifies the position embeddings, so that what the model prefers after
    a fixed answer prompt ("정답：") depends on where it stands, that is on the item, instead of
    being one fixed letter everywhere (which a tiny model fitted for seconds tends to answer).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<s>"] if bos else ["<|endoftext|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(CORPUS * 4 + texts, trainer)
    if bos:
        # Llama-style: the tokenizer itself starts every encoding with <s> (add_special_tokens=True,
        # its default), which the harness's hf model follows; tokenizer(text, add_special_tokens=False) does not.
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", backend.token_to_id("<s>"))]
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>" if bos else "<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=positions,
        n_embd=48,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    encoded = [tokenizer(text)["input_ids"][: positions - 1] for text in texts if text]
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _step in range(steps):
        picks = torch.randint(len(encoded), (8,), generator=generator).tolist()
        width = max(len(encoded[index]) for index in picks)
        batch = torch.full((len(picks), width), tokenizer.eos_token_id)
        labels = torch.full((len(picks), width), -100)
        for row, index in enumerate(picks):
            batch[row, : len(encoded[index])] = torch.tensor(encoded[index])
            labels[row, : len(encoded[index])] = torch.tensor(encoded[index])
        loss = model(input_ids=batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    if position_scale != 1.0:
        with torch.no_grad():
            model.transformer.wpe.weight.mul_(position_scale)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@contextmanager
def serving(
    command: list[str], *, env: Mapping[str, str], log: Path, port: int, name: str, timeout: float, poll: float = 0.2
) -> Iterator[str]:
    """Run an OpenAI-compatible server process; yield its ``/v1`` URL once ``/models`` answers, stop it after."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=dict(env), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer:\n{log.read_text()[-4000:]}")
            time.sleep(poll)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

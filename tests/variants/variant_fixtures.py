"""A tiny Llama (and a tiny GPT-2) with a byte-level BPE tokenizer, made in a second, for the variants tests."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "The capital of France is Paris. The capital of Korea is Seoul.",
    "질문: 대한민국의 수도는 어디입니까?\n답변: 서울",
    "Question: what is two plus two? Answer: four. A B C D",
    "하늘은 파랗고 바다는 넓다. 정답은 A 입니다.",
    "The quick brown fox jumps over the lazy dog.",
]


def _tokenizer(*, bos: bool) -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(CORPUS * 4, trainer)
    if bos:  # Llama-style: the tokenizer starts every encoding with <s>
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", backend.token_to_id("<s>"))]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>" if bos else "<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )


def make_tiny_llama(folder: Path, *, seed: int = 0, steps: int = 20, hidden: int = 64, layers: int = 2) -> Path:
    """A Llama with hidden size ``hidden`` and ``layers`` layers, fitted ``steps`` steps to the corpus."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer: object = _tokenizer(bos=True)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,  # type: ignore[attr-defined]
        eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    if steps:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        encoded = [tokenizer(text)["input_ids"] for text in CORPUS]  # type: ignore[operator]
        model.train()
        for step in range(steps):
            ids = torch.tensor([encoded[step % len(encoded)]])
            loss = model(input_ids=ids, labels=ids).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]
    return folder


def make_tiny_gpt2(folder: Path, *, seed: int = 0) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer: object = _tokenizer(bos=False)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,  # type: ignore[attr-defined]
        eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)  # type: ignore[attr-defined]
    return folder

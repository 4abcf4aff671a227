"""Shared fixtures: a tiny random-weight Llama and a tokenizer built in memory (no download).

`tiny_model` -> (model, tokenizer): a 2-layer LlamaForCausalLM (sdpa attention),
`tiny_eager_model` -> the same weights with eager attention (for methods that read
attention weights), `make_tiny_samples(n, ...)` -> Samples whose prompts the tiny
tokenizer splits into a few dozen tokens. Everything is built from seeds, so tests
are deterministic and take milliseconds.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from negsamp.records import Sample, content_id

WORDS = (
    "the a key pass is was and of to in it that blue green red sky grass sun moon "
    "number remember find hidden text story river mountain city door window house "
    "what where when who one two three four five six seven eight nine zero"
).split()

CHAT_TEMPLATE = (
    "{% for message in messages %}<s>{{ message['role'] }}\n{{ message['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


def build_tiny_tokenizer():
    """A byte-level BPE tokenizer trained in memory on a few sentences (vocab ~ 600: every word one token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(0)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(40)) for _ in range(200)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)]),
        ]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_byte_tokenizer(chat: bool = True):
    """One token per UTF-8 byte (no merges): decoding gives back exact text, lengths are byte counts."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<s>": 0, "<|im_start|>": 1, "<|im_end|>": 2}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[char] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="<|im_end|>",
                                        additional_special_tokens=["<|im_start|>", "<|im_end|>"])
    if chat:
        tokenizer.chat_template = (
            "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
        )
    return tokenizer


def build_tiny_model(tokenizer, attn_implementation: str = "sdpa", seed: int = 0):
    """A 2-layer Llama with random weights, large enough init that greedy choices are clear-cut."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=1024,
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    config._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tiny_tokenizer()


@pytest.fixture(scope="session")
def tiny_model(tiny_tokenizer):
    return build_tiny_model(tiny_tokenizer), tiny_tokenizer


@pytest.fixture(scope="session")
def tiny_eager_model(tiny_tokenizer):
    return build_tiny_model(tiny_tokenizer, attn_implementation="eager"), tiny_tokenizer


def make_tiny_samples(
    n: int = 5, *, words: tuple[int, int] = (30, 60), max_new_tokens: int = 6, seed: int = 0
) -> list[Sample]:
    """Raw-completion samples (context, then a question) of varied lengths."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        context = " ".join(rng.choice(WORDS) for _ in range(rng.randint(*words)))
        question = " what is the pass key? the pass key is"
        prompt = context + question
        out.append(
            Sample(
                sample_id=content_id("tiny", seed, i, prompt),
                task="tiny",
                category="Synthetic",
                source=f"tiny:seed={seed}",
                source_index=i,
                context=context,
                input=question,
                answers=["seven"],
                length=len(context.split()),
                prompt=prompt,
                question_start=len(context),
                max_new_tokens=max_new_tokens,
                chat_template=False,
            )
        )
    return out


@pytest.fixture
def tiny_samples():
    return make_tiny_samples


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = build_tiny_tokenizer()
    build_tiny_model(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_tiny_recipe(path: Path, model_dir: Path, **overrides) -> Path:
    recipe = {
        "name": "negsamp-test",
        "dataset_version": "0.0.1",
        "model": str(model_dir),
        "config": "tiny",
        "max_length": 512,
        "batch_size": 2,
        "tasks": ["passkey:lengths=200,count=3,seed=1", "kv_retrieval:lengths=200,count=3,seed=1"],
        "methods": ["streamingllm:ratio=0.5", "kivi:bits=2,group=4,residual=8"],
        "rule": {"statistic": "median", "t": 0.1, "mode": "all"},
        "control": {"per_task": 1, "seed": 0},
    }
    recipe.update(overrides)
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path

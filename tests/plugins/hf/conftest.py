"""Fixtures for the hf plugin tests: a recording TrainContext, small data, a tiny 'hub' model."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fteval.plugin import Example, Prompt
from fteval.testing import RecordingTrainContext

COLOURS = ["red", "green", "blue", "amber", "violet", "white", "black", "grey"]
THINGS = ["sky", "grass", "sea", "sun", "snow", "coal", "cloud", "plum", "fire", "moss"]


def _make_examples(n: int, seed: int = 0, system: str | None = None) -> list[Example]:
    """Rows like 'Colour of the sea, then the grass?' -> 'blue, green' (a learnable mapping)."""
    rng = random.Random(seed)
    colour = {t: COLOURS[i % len(COLOURS)] for i, t in enumerate(THINGS)}
    out = []
    for i in range(n):
        picks = rng.sample(THINGS, rng.randint(1, 3))
        user = "Colours of: " + ", ".join(picks)
        out.append(Example(i, {"i": i}, Prompt(system, user), ", ".join(colour[p] for p in picks)))
    return out


@pytest.fixture
def examples() -> list[Example]:
    return _make_examples(48)


@pytest.fixture
def make_examples() -> Any:
    return _make_examples


@pytest.fixture
def make_ctx(tmp_path: Path) -> Any:
    """Build a RecordingTrainContext over the given rows (workdir under tmp_path unless given)."""

    def build(
        train: list[Example],
        valid: list[Example] | None = None,
        workdir: Path | None = None,
        seed: int = 0,
    ):
        return RecordingTrainContext(train, valid or [], workdir or tmp_path / "work", seed=seed)

    return build


@pytest.fixture(scope="session")
def tiny_hub_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~100k-parameter LlamaForCausalLM + tokenizer saved like a hub model (save_pretrained)."""
    from fteval_hf.formatting import prompt_text
    from fteval_hf.scratch import train_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    texts = [prompt_text(e.prompt) + e.target for e in _make_examples(200, seed=1)]
    tokenizer = train_tokenizer(texts, 300)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    import torch

    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def hf_config() -> Any:
    """Build a validated hf target config with small, fast training defaults."""
    from fteval_hf.config import HFConfig

    def build(model: dict[str, Any], **train: Any) -> HFConfig:
        defaults = {"max_steps": 6, "batch_size": 8, "lr": 3e-3, "warmup_steps": 1, "eval_every": 3}
        return HFConfig.model_validate({"model": model, "train": {**defaults, **train}})

    return build


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread (and steadily on a shared, loaded machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

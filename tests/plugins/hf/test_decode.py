"""Batched KV-cache generation: matches transformers, and prefix sharing changes no token."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from fteval_hf.decode import generate
from tiny_models import tiny_llama as make_tiny_llama

VIGGO = Path(__file__).resolve().parents[2] / "data" / "reference" / "viggo_validation.jsonl"
PAD, EOS = 0, 1


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def viggo_prompts() -> list[list[int]]:
    """100 real ViGGO prompts (reference system prompt + sentence), BPE-tokenized."""
    if not VIGGO.exists():
        pytest.skip(f"{VIGGO} not found")
    rows = [json.loads(line)["messages"] for line in VIGGO.read_text().splitlines()[:100]]
    texts = [f"{m[0]['content']}\n### Target sentence:\n{m[1]['content']}\n### Meaning:\n" for m in rows]
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>"])
    tok.train_from_iterator(texts + [m[2]["content"] for m in rows], trainer)
    return [tok.encode(t).ids for t in texts]


def tiny_llama(vocab: int = 400) -> transformers.LlamaForCausalLM:
    """The shared tiny Llama with a wide init, in eval mode."""
    return make_tiny_llama(vocab, pad=PAD, eos=EOS, init_range=0.2, max_positions=1024).eval()


def test_greedy_matches_transformers_generate():
    model = tiny_llama(vocab=60)
    gen = torch.Generator().manual_seed(0)
    prompts = [torch.randint(2, 60, (k,), generator=gen).tolist() for k in (5, 17, 9, 1)]
    ours = generate(model, prompts, max_new_tokens=12, eos_token_id=EOS, pad_token_id=PAD)
    for prompt, out in zip(prompts, ours, strict=False):
        ref = model.generate(
            torch.tensor([prompt]),
            max_new_tokens=12,
            do_sample=False,
            eos_token_id=EOS,
            pad_token_id=PAD,
        )[0, len(prompt) :].tolist()
        assert out == [t for t in ref if t != EOS][: len(out)] and len(out) <= 12
        assert len(out) == 12 or ref[len(out)] == EOS


@pytest.mark.parametrize("batch_size", [16, 100])
def test_prefix_sharing_is_token_identical_on_viggo(viggo_prompts, batch_size):
    model = tiny_llama()
    kwargs = {
        "max_new_tokens": 8,
        "eos_token_id": EOS,
        "pad_token_id": PAD,
        "batch_size": batch_size,
    }
    plain = generate(model, viggo_prompts, shared_prefix="off", **kwargs)
    shared = generate(model, viggo_prompts, shared_prefix="on", **kwargs)
    assert shared == plain
    assert len({tuple(o) for o in plain}) > 10  # outputs depend on the prompt


def test_prefix_sharing_through_lora(viggo_prompts):
    peft = pytest.importorskip("peft")
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    model = peft.get_peft_model(tiny_llama(), config)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.1)
    kwargs = {"max_new_tokens": 5, "eos_token_id": EOS, "pad_token_id": PAD, "batch_size": 20}
    prompts = viggo_prompts[:40]
    assert generate(model, prompts, shared_prefix="on", **kwargs) == generate(model, prompts, **kwargs)


def test_stops_at_eos_and_stop_sequences():
    model = tiny_llama(vocab=60)
    prompts = [[5, 6, 7], [9, 3]]
    free = generate(model, prompts, max_new_tokens=6, eos_token_id=None, pad_token_id=PAD)
    assert [len(o) for o in free] == [6, 6]
    # Declaring the row's 3rd generated token as EOS ends that row after 2 tokens.
    eos = free[0][2]
    cut = generate(model, prompts, max_new_tokens=6, eos_token_id=[eos], pad_token_id=PAD)
    assert cut[0] == free[0][: free[0].index(eos)]
    stop = free[1][3:5]
    stopped = generate(model, prompts, max_new_tokens=6, eos_token_id=None, pad_token_id=PAD, stop_sequences=[stop])
    first = next(i for i in range(len(free[1]) - 1) if free[1][i : i + 2] == stop)
    assert stopped[1] == free[1][:first]


def test_sampling_is_deterministic_per_seed():
    model = tiny_llama(vocab=60)
    prompts = [[5, 6, 7], [9, 3], [4]]
    kwargs = {
        "max_new_tokens": 10,
        "eos_token_id": None,
        "pad_token_id": PAD,
        "temperature": 1.0,
        "top_p": 0.9,
    }
    first = generate(model, prompts, seed=1, **kwargs)
    assert generate(model, prompts, seed=1, **kwargs) == first
    assert generate(model, prompts, seed=2, **kwargs) != first


def test_rejects_unknown_mode_and_keeps_training_flag():
    model = tiny_llama(vocab=60).train()
    generate(model, [[3, 4]], max_new_tokens=2, eos_token_id=EOS, pad_token_id=PAD, shared_prefix="auto")
    assert model.training
    with pytest.raises(ValueError, match="auto, on or off"):
        generate(model, [[3]], max_new_tokens=1, eos_token_id=EOS, pad_token_id=PAD, shared_prefix="y")

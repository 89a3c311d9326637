"""The lean greedy loop (static_decode.py) gives the general loop's outputs, and is chosen only where it applies."""

from __future__ import annotations

from collections import Counter

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from fteval_hf.decode import DecodeStats, generate
from fteval_hf.static_decode import supports_static_greedy
from tiny_models import assert_matches_generate
from tiny_models import tiny_llama as make_tiny_llama

PAD, EOS = 0, 1
VOCAB = 60

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_llama(attn: str = "sdpa", kv_heads: int = 2) -> transformers.LlamaForCausalLM:
    """The shared tiny Llama (wide init: no near-ties) with the given attention and kv heads."""
    model = make_tiny_llama(VOCAB, pad=PAD, eos=EOS, init_range=0.2, max_positions=1024)
    if kv_heads != model.config.num_key_value_heads:
        config = model.config
        config.num_key_value_heads = kv_heads
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(config)
    model.config._attn_implementation = attn
    return model.eval()


def prompts(n: int = 40, seed: int = 0, shared: list[int] | None = None) -> list[list[int]]:
    """``n`` random prompts of 1 to 29 tokens (left padding differs per row), after ``shared``."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 30, (n,), generator=gen).tolist()
    return [(shared or []) + torch.randint(2, VOCAB, (k,), generator=gen).tolist() for k in lengths]


def both(model, rows, **kwargs) -> tuple[list[list[int]], list[list[int]], DecodeStats, DecodeStats]:
    """Outputs and counters of the general and the static loop on the same inputs."""
    kwargs = {"pad_token_id": PAD, "max_new_tokens": 16, **kwargs}
    general_stats, static_stats = DecodeStats(), DecodeStats()
    general = generate(model, rows, loop="general", stats=general_stats, **kwargs)
    static = generate(model, rows, loop="static", stats=static_stats, **kwargs)
    assert set(general_stats.loops) == {"general"} and set(static_stats.loops) == {"static"}
    return general, static, general_stats, static_stats


@pytest.mark.parametrize("batch_size", [1, 7, None])
def test_same_outputs_with_eos_left_padding_and_early_rows(batch_size):
    model = tiny_llama()
    rows = prompts()
    free = generate(model, rows, max_new_tokens=16, eos_token_id=None, pad_token_id=PAD)
    # The most frequent generated token as EOS: rows end at different steps (some at once).
    eos = Counter(t for out in free for t in out).most_common(1)[0][0]
    general, static, g_stats, s_stats = both(model, rows, eos_token_id=[eos, 11], batch_size=batch_size)
    assert static == general
    lengths = [len(o) for o in general]
    assert 0 in lengths and 16 in lengths and len(set(lengths)) > 8  # ended at once, early, at the cap
    if batch_size is None:  # one batch: finished rows were dropped
        assert s_stats.row_steps < s_stats.steps * len(rows)
    if batch_size == 7:  # freed slots were refilled from the queue: fuller steps, fewer of them
        assert s_stats.loops["static"] > len(rows) // 7
        assert s_stats.row_steps / s_stats.steps > g_stats.row_steps / g_stats.steps
        assert s_stats.steps < g_stats.steps


def test_same_outputs_without_eos_run_to_the_cap():
    general, static, _, _ = both(tiny_llama(), prompts(12), eos_token_id=None, max_new_tokens=9)
    assert static == general and all(len(o) == 9 for o in static)


def test_stop_sequences_first_match_wins_and_eos_first():
    model = tiny_llama()
    rows = prompts(30, seed=3)
    free = generate(model, rows, max_new_tokens=16, eos_token_id=None, pad_token_id=PAD)
    # Stops taken from real outputs: a 2-token one, a 1-token one that is a suffix of it, a 3-token one.
    two, three = free[0][4:6], free[1][2:5]
    stops = [two, [two[1]], three]
    general, static, _, _ = both(model, rows, eos_token_id=[free[2][3]], stop_sequences=stops)
    assert static == general
    assert static[0] == free[0][:4] or len(static[0]) < 4  # ended at the 2-token stop (or earlier)
    assert any(len(o) < 16 for o in static[3:])


def test_same_outputs_with_a_shared_prefix():
    model = tiny_llama()
    rows = prompts(24, seed=5, shared=list(range(2, 20)))
    general, static, _, _ = both(model, rows, eos_token_id=[7], shared_prefix="on", batch_size=10)
    plain, _, _, _ = both(model, rows, eos_token_id=[7], shared_prefix="off", batch_size=10)
    assert static == general == plain


@pytest.mark.parametrize(("attn", "kv_heads"), [("eager", 2), ("sdpa", 4), ("eager", 4)])
def test_same_outputs_for_eager_attention_and_plain_heads(attn, kv_heads):
    model = tiny_llama(attn, kv_heads)
    general, static, _, _ = both(model, prompts(20, seed=7), eos_token_id=[7, 11], batch_size=8)
    assert static == general


def test_static_matches_transformers_generate_row_by_row():
    model = tiny_llama()
    rows = prompts(6, seed=9)
    ours = generate(model, rows, max_new_tokens=12, eos_token_id=EOS, pad_token_id=PAD, loop="static")
    assert max(len(o) for o in ours) == 12  # some row ran to the cap
    assert_matches_generate(model, rows, ours, eos=EOS, pad=PAD)


def test_auto_falls_back_for_sampling_adapters_and_other_models():
    model = tiny_llama()
    kwargs = {"max_new_tokens": 4, "eos_token_id": EOS, "pad_token_id": PAD}
    stats = DecodeStats()
    generate(model, [[3, 4], [5]], stats=stats, **kwargs)
    assert stats.loops == {"static": 1}
    stats = DecodeStats()
    generate(model, [[3, 4], [5]], temperature=1.0, stats=stats, **kwargs)
    assert stats.loops == {"general": 1}
    with pytest.raises(ValueError, match="static needs greedy"):
        generate(model, [[3]], temperature=1.0, loop="static", **kwargs)
    with pytest.raises(ValueError, match="auto, static or general"):
        generate(model, [[3]], loop="fast", **kwargs)

    config = transformers.Qwen2Config(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2
    )
    assert not supports_static_greedy(transformers.Qwen2ForCausalLM(config))
    peft = pytest.importorskip("peft")
    lora = peft.LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM")
    wrapped = peft.get_peft_model(tiny_llama(), lora)
    assert not supports_static_greedy(wrapped)
    stats = DecodeStats()
    generate(wrapped, [[3, 4]], stats=stats, **kwargs)
    assert stats.loops == {"general": 1}

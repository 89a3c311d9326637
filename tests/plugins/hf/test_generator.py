"""The hf generator: same tokens as one generate() per example, seeded sampling, stops, stats."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from fteval_hf.formatting import encode_prompt
from fteval_hf.generator import HFGenerator, cut_at_stop, forward_batch_size

from fteval.plugin import GenerationSettings, ModelHandle, Prompt


@pytest.fixture(scope="module")
def handle(tiny_hub_model) -> ModelHandle:
    return ModelHandle(trainer="hf", fingerprint="base", location=str(tiny_hub_model), meta={"method": "base"})


def _load(hf_config, tiny_hub_model, handle, **settings):
    config = hf_config({"id": str(tiny_hub_model)})
    return HFGenerator().load(handle, config, GenerationSettings(**settings))


def test_batched_greedy_matches_one_generate_per_example(hf_config, tiny_hub_model, handle, examples) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = _load(hf_config, tiny_hub_model, handle, max_new_tokens=12, batch_size=5)
    assert type(loaded.model).__name__ == "NativeLlama"  # greedy, plain, a local Llama folder: no transformers
    prompts = [e.prompt for e in examples[:12]]
    outs = loaded.generate(prompts)
    # The reference: transformers' own model and tokenizer, one generate() per example.
    model, tok = (
        AutoModelForCausalLM.from_pretrained(tiny_hub_model).eval(),
        AutoTokenizer.from_pretrained(tiny_hub_model),
    )
    for prompt, out in zip(prompts, outs, strict=True):
        ids = torch.tensor([encode_prompt(tok, prompt)])
        ref = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=12,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )[0, ids.shape[1] :].tolist()
        if tok.eos_token_id in ref:
            ref = ref[: ref.index(tok.eos_token_id)]
        assert out.text == tok.decode(ref, skip_special_tokens=True)
        assert out.completion_tokens == len(ref) and out.prompt_tokens == ids.shape[1]
        assert out.latency_s > 0


def test_sampling_is_deterministic_for_a_seed(hf_config, tiny_hub_model, handle, examples) -> None:
    prompts = [e.prompt for e in examples[:6]]
    runs = [
        [
            g.text
            for g in _load(hf_config, tiny_hub_model, handle, max_new_tokens=15, temperature=1.0, seed=s).generate(
                prompts
            )
        ]
        for s in (7, 7, 8)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_stop_strings_end_the_output() -> None:
    assert cut_at_stop("abc\n\nnext", ["\n\n", "x"]) == "abc"
    assert cut_at_stop("abc", ["zz"]) == "abc"
    assert cut_at_stop("abc", [""]) == "abc"


def test_stop_string_cuts_generated_text(hf_config, tiny_hub_model, handle) -> None:
    prompt = Prompt(None, "Colours of: sky")
    free = _load(hf_config, tiny_hub_model, handle, max_new_tokens=20).generate([prompt])[0].text
    assert len(free) > 2
    stop = free[1:3]
    cut = _load(hf_config, tiny_hub_model, handle, max_new_tokens=20, stop=[stop]).generate([prompt])[0].text
    assert cut == free[: free.index(stop)]


def test_automatic_batch_size_follows_prompt_length() -> None:
    assert forward_batch_size([40, 60], None) == 64
    assert forward_batch_size([400], None) == 10
    assert forward_batch_size([4000], None) == 8
    assert forward_batch_size([4000], 3) == 3


def test_base_model_handle_of_a_hub_target_generates(hf_config, tiny_hub_model, make_ctx, examples) -> None:
    from fteval_hf.trainer import HFTrainer

    config = hf_config({"id": str(tiny_hub_model)})
    handle = HFTrainer(config).base_model(make_ctx(examples))
    # a local directory is identified by its contents, not its name
    assert handle.location == str(tiny_hub_model) and handle.fingerprint.startswith("dir-sha256:")
    out = HFGenerator().load(handle, config, GenerationSettings(max_new_tokens=4)).generate([examples[0].prompt])
    assert out[0].prompt_tokens > 0 and out[0].completion_tokens <= 4


def test_with_settings_shares_the_weights_and_decodes_as_a_fresh_load(
    hf_config, tiny_hub_model, handle, examples
) -> None:
    prompts = [e.prompt for e in examples[:4]]
    warm = _load(hf_config, tiny_hub_model, handle, max_new_tokens=10, temperature=0.5)  # sampling: transformers
    sampled = GenerationSettings(max_new_tokens=10, temperature=1.0, seed=3)
    derived = warm.with_settings(sampled)
    assert derived is not None and derived.model is warm.model and derived.tokenizer is warm.tokenizer
    fresh = _load(hf_config, tiny_hub_model, handle, max_new_tokens=10, temperature=1.0, seed=3)
    assert [g.text for g in derived.generate(prompts)] == [g.text for g in fresh.generate(prompts)]
    # The native runtime decodes greedily only: sampling settings need a fresh (transformers) load.
    greedy = _load(hf_config, tiny_hub_model, handle, max_new_tokens=10)
    assert type(greedy.model).__name__ == "NativeLlama" and greedy.with_settings(sampled) is None
    longer = greedy.with_settings(GenerationSettings(max_new_tokens=12))
    assert longer is not None and longer.model is greedy.model


def test_stream_yields_every_output_once_as_generate_gives_it(hf_config, tiny_hub_model, handle, examples) -> None:
    import time

    from fteval_hf.generator import HFGenerator

    assert HFGenerator.streams  # the engine hands an evaluation's prompts to one stream
    loaded = _load(hf_config, tiny_hub_model, handle, max_new_tokens=12)
    prompts = [e.prompt for e in examples[:20]]
    started = time.perf_counter()
    streamed = list(loaded.stream(prompts))
    wall = time.perf_counter() - started
    assert sorted(i for i, _ in streamed) == list(range(len(prompts)))
    whole = loaded.generate(prompts)
    by_index = dict(streamed)
    assert [by_index[i].text for i in range(len(prompts))] == [g.text for g in whole]
    assert [by_index[i].completion_tokens for i in range(len(prompts))] == [g.completion_tokens for g in whole]
    # Latency: the time since the previous rows ended, shared by the rows ending together.
    assert 0 < sum(g.latency_s for _, g in streamed) <= wall


def test_the_lean_loop_decodes_more_rows_at_once_within_a_cache_budget(tiny_hub_model) -> None:
    from fteval_hf.native_llama import load_native
    from fteval_hf.static_decode import CACHE_BUDGET, MAX_SLOTS, auto_slots

    model = load_native(tiny_hub_model)
    assert auto_slots(model, 250) == MAX_SLOTS
    c = model.config  # keys and values of every layer, for every column of a slot, in float32
    per_slot = 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * 4
    assert auto_slots(model, CACHE_BUDGET // per_slot // 10) == 10
    assert auto_slots(model, CACHE_BUDGET) == 1

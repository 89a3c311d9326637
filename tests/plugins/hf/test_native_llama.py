"""The native Llama runtime gives transformers' numbers and tokens, and is chosen only where it applies."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from fteval_hf.decode import DecodeStats, generate
from fteval_hf.native_llama import NativeLlama, load_native, native_reason
from fteval_hf.native_tokenizer import NativeTokenizer, tokenizer_reason
from tiny_models import assert_matches_generate, tiny_llama

from fteval.errors import PluginError
from fteval.plugin import GenerationSettings, ModelHandle

PAD, EOS, VOCAB = 0, 1, 60

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def saved(tmp_path: Path, kv_heads: int = 2, **config: object) -> tuple[transformers.LlamaForCausalLM, Path]:
    """A tiny Llama (wide init: no near-ties) saved with save_pretrained, and its folder."""
    model = tiny_llama(VOCAB, pad=PAD, eos=EOS, init_range=0.2, max_positions=1024)
    if kv_heads != model.config.num_key_value_heads or config:
        for key, value in {"num_key_value_heads": kv_heads, **config}.items():
            setattr(model.config, key, value)
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(model.config)
    folder = tmp_path / f"llama-{kv_heads}"
    model.save_pretrained(folder)
    return model.eval(), folder


def prompts(n: int, seed: int, shared: list[int] | None = None) -> list[list[int]]:
    """``n`` random prompts of 1 to 29 tokens after ``shared`` (rows are left-padded differently)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 30, (n,), generator=gen).tolist()
    return [(shared or []) + torch.randint(2, VOCAB, (k,), generator=gen).tolist() for k in lengths]


@pytest.mark.parametrize("kv_heads", [2, 4])
def test_prefill_logits_and_keys_equal_transformers_bit_for_bit(tmp_path, kv_heads):
    model, folder = saved(tmp_path, kv_heads)
    native = load_native(folder)
    rows = prompts(9, seed=1)
    width = max(len(r) for r in rows)
    ids = torch.tensor([[PAD] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        ref = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        logits, layers = native(ids, positions, mask)
    assert torch.equal(logits, ref.logits[:, -1].float())
    for (keys, values), layer in zip(layers, ref.cache.layers, strict=True):
        assert torch.equal(keys, layer.keys) and torch.equal(values, layer.values)


@pytest.mark.parametrize(("kv_heads", "shared_prefix", "batch_size"), [(2, "off", 7), (4, "off", None), (2, "on", 10)])
def test_same_tokens_as_the_transformers_model(tmp_path, kv_heads, shared_prefix, batch_size):
    model, folder = saved(tmp_path, kv_heads)
    native = load_native(folder)
    shared = list(range(2, 20)) if shared_prefix == "on" else None
    rows = prompts(30, seed=5, shared=shared)
    free = generate(model, rows, max_new_tokens=16, eos_token_id=None, pad_token_id=PAD)
    eos = Counter(t for out in free for t in out).most_common(1)[0][0]  # rows end at different steps
    stops = [free[0][4:6], free[1][2:5]]
    kwargs = {"max_new_tokens": 16, "eos_token_id": [eos], "pad_token_id": PAD, "batch_size": batch_size}
    kwargs |= {"shared_prefix": shared_prefix, "stop_sequences": stops}
    stats = DecodeStats()
    ours = generate(native, rows, stats=stats, **kwargs)
    assert ours == generate(model, rows, **kwargs)
    assert stats.loops.keys() == {"static"}
    lengths = {len(o) for o in ours}
    assert 0 in lengths and 16 in lengths and len(lengths) > 5  # ended at once, early, at the cap


def test_same_tokens_as_transformers_generate_row_by_row(tmp_path):
    model, folder = saved(tmp_path)
    native = load_native(folder)
    rows = prompts(6, seed=9)
    ours = generate(native, rows, max_new_tokens=12, eos_token_id=EOS, pad_token_id=PAD)
    assert max(len(o) for o in ours) == 12  # some row ran to the cap
    assert_matches_generate(model, rows, ours, eos=EOS, pad=PAD)


def test_the_native_runtime_refuses_sampling_and_the_general_loop(tmp_path):
    native = load_native(saved(tmp_path)[1])
    for kwargs in ({"temperature": 1.0}, {"loop": "general"}):
        with pytest.raises(ValueError, match="greedily only|static needs greedy"):
            generate(native, [[3]], max_new_tokens=2, eos_token_id=EOS, pad_token_id=PAD, **kwargs)


def test_weights_that_do_not_match_the_config_are_refused(tmp_path):
    _, folder = saved(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(PluginError, match="does not match config.json: missing model.layers.2."):
        load_native(folder)
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 99}))
    with pytest.raises(
        PluginError,
        match=r"does not match config.json: .*model.layers.0.mlp.gate_proj.weight is \(160, 64\), config.json makes it \(99, 64\)",
    ):
        load_native(folder)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"<html>not weights</html>")
    with pytest.raises(PluginError, match="is not a readable safetensors file"):
        load_native(folder)


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory) -> Path:
    """A scratch byte-level BPE tokenizer saved by transformers, as the hf trainer saves it."""
    from fteval_hf.scratch import train_tokenizer

    texts = ["name[Little Nightmares], rating[good]\n", "Héllo wörld — ünïcode ✓ 🙂", "select * from t where a = 1"]
    folder = tmp_path_factory.mktemp("tok")
    train_tokenizer(texts * 20, 300, whole=["### Answer:"]).save_pretrained(folder)
    return folder


def test_tokenizer_gives_transformers_ids_and_text(tokenizer_folder):
    theirs = transformers.AutoTokenizer.from_pretrained(tokenizer_folder)
    ours = NativeTokenizer(tokenizer_folder)
    texts = ["name[Little Nightmares]\n", "  leading  spaces", "Héllo 🙂 ✓ ### Answer: x", "", "</s> <s> <pad>"]
    for text in texts:
        for special in (True, False):
            ids = ours(text, add_special_tokens=special)["input_ids"]
            assert ids == theirs(text, add_special_tokens=special)["input_ids"]
            for skip in (True, False):
                assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)
    for name in ("eos_token_id", "bos_token_id", "pad_token_id"):
        assert getattr(ours, name) == getattr(theirs, name)


def test_a_tokenizer_file_that_is_not_one_is_a_clear_error(tmp_path, tokenizer_folder):
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tokenizer_folder / name).read_bytes())
    (tmp_path / "tokenizer.json").write_text('{"version": "1.0", "model": "truncated')
    with pytest.raises(PluginError, match="tokenizer.json is not a tokenizer the tokenizers library reads"):
        NativeTokenizer(tmp_path)


def _edit_json(path: Path, **changes: object) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize(
    ("file", "changes", "reason"),
    [
        ("config.json", {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, "rotary"),
        ("config.json", {"rope_parameters": {"rope_type": "llama3", "rope_theta": 1e4}}, "rotary"),
        ("config.json", {"attention_bias": True}, "attention_bias"),
        ("config.json", {"hidden_act": "gelu"}, "hidden_act"),
        ("config.json", {"dtype": "bfloat16"}, "float32"),
        ("config.json", {"model_type": "mistral"}, "not a llama"),
        ("tokenizer_config.json", {"tokenizer_class": "LlamaTokenizer"}, "tokenizer_class"),
        ("tokenizer_config.json", {"add_bos_token": False}, "add_bos_token"),
        ("tokenizer_config.json", {"chat_template": "{{ messages }}"}, "chat_template"),
        ("tokenizer_config.json", {"clean_up_tokenization_spaces": True}, "clean_up"),
    ],
)
def test_folders_that_need_transformers_say_why(tmp_path, tokenizer_folder, file, changes, reason):
    _, folder = saved(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((tokenizer_folder / name).read_bytes())
    assert native_reason(folder) is None
    _edit_json(folder / file, **changes)
    assert reason in (native_reason(folder) or "")


def test_missing_weights_or_tokenizer_need_transformers(tmp_path, tokenizer_folder):
    _, folder = saved(tmp_path)
    assert "tokenizer" in (native_reason(folder) or "")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).write_bytes((tokenizer_folder / name).read_bytes())
    (folder / "chat_template.jinja").write_text("{{ messages }}")
    assert "chat template" in (tokenizer_reason(folder) or "")
    (folder / "chat_template.jinja").unlink()
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    assert "model.safetensors" in (native_reason(folder) or "")


def test_the_generator_picks_the_runtime_by_settings_and_format(hf_config, tiny_hub_model):
    from fteval_hf.generator import HFGenerator

    handle = ModelHandle(trainer="hf", fingerprint="base", location=str(tiny_hub_model), meta={"method": "base"})
    load = HFGenerator().load
    greedy = load(handle, hf_config({"id": str(tiny_hub_model)}), GenerationSettings(max_new_tokens=4))
    assert isinstance(greedy.model, NativeLlama)
    sampled = load(handle, hf_config({"id": str(tiny_hub_model)}), GenerationSettings(temperature=0.7))
    assert isinstance(sampled.model, transformers.PreTrainedModel)
    as_bf16 = load(handle, hf_config({"id": str(tiny_hub_model), "dtype": "bfloat16"}), GenerationSettings())
    assert isinstance(as_bf16.model, transformers.PreTrainedModel)


def test_a_greedy_evaluation_never_imports_transformers(tiny_hub_model):
    """The reason the runtime exists: a whole load + generate in a fresh process without transformers."""
    script = f"""
import sys
from fteval.errors import PluginError
from fteval.plugin import GenerationSettings, ModelHandle, Prompt
from fteval_hf.config import HFConfig
from fteval_hf.generator import HFGenerator
config = HFConfig.model_validate({{"model": {{"id": {str(tiny_hub_model)!r}}}}})
handle = ModelHandle(trainer="hf", fingerprint="x", location={str(tiny_hub_model)!r}, meta={{"method": "base"}})
out = HFGenerator().load(handle, config, GenerationSettings(max_new_tokens=5)).generate([Prompt(None, "hello")])
assert len(out) == 1 and out[0].completion_tokens <= 5, out
print(sorted(m for m in sys.modules if m.split(".")[0] == "transformers"))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"

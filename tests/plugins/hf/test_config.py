"""The hf target config: model variants, cross-field checks, and imports that stay light."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fteval_hf.config import HFConfig, HubModel, ScratchModel
from pydantic import ValidationError


def test_hub_and_scratch_models_are_told_apart() -> None:
    hub = HFConfig.model_validate({"model": {"id": "org/model", "dtype": "bfloat16"}})
    scratch = HFConfig.model_validate({"model": {"init": "scratch", "preset": "small"}})
    assert isinstance(hub.model, HubModel) and hub.model.dtype == "bfloat16"
    assert isinstance(scratch.model, ScratchModel) and scratch.model.vocab_size == 2000


def test_reference_lora_defaults() -> None:
    lora = HFConfig.model_validate({"model": {"id": "m"}, "train": {"method": "lora"}}).train.lora
    assert (lora.r, lora.alpha, lora.dropout, lora.bias) == (8, 16, 0.05, "none")
    assert lora.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"model": {"init": "scratch", "id": "x"}}, "model.scratch.id"),
        ({"model": {"id": "x", "preset": "tiny"}}, "model.hub.preset"),
        ({"model": {"id": "x"}, "train": {"epochs": 2, "max_steps": 5}}, "not both"),
        ({"model": {"id": "x", "load_in_8bit": True}}, "train.method: lora"),
        ({"model": {"id": "x", "load_in_8bit": True, "load_in_4bit": True}}, "one of"),
        ({"model": {"id": "x"}, "train": {"lora": {"rank": 8}}}, "train.lora.rank"),
        ({"model": {"id": "x"}, "train": {"shared_prefix": "yes"}}, "train.shared_prefix"),
    ],
)
def test_bad_targets_are_rejected_with_the_key(data: dict, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        HFConfig.model_validate(data)
    assert needle in str(info.value)


def test_quantised_lora_is_accepted() -> None:
    cfg = HFConfig.model_validate({"model": {"id": "x", "load_in_4bit": True}, "train": {"method": "lora"}})
    assert cfg.model.load_in_4bit


def test_importing_the_plugins_loads_no_heavy_library() -> None:
    code = (
        "import sys, fteval_hf.trainer, fteval_hf.generator\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def test_hub_token_is_named_by_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from fteval_hf.loading import hub_token

    from fteval.errors import PluginError

    model = HFConfig.model_validate({"model": {"id": "org/gated", "token_env": "FTEVAL_TEST_HUB_TOKEN"}}).model
    monkeypatch.setenv("FTEVAL_TEST_HUB_TOKEN", "hf_FromTheEnvironment0123")
    assert hub_token(model) == "hf_FromTheEnvironment0123"
    monkeypatch.delenv("FTEVAL_TEST_HUB_TOKEN")
    with pytest.raises(PluginError, match="FTEVAL_TEST_HUB_TOKEN .*model.token_env.* is not set"):
        hub_token(model)
    assert hub_token(HubModel(id="org/open")) is None  # no variable named: the hub's own defaults


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ({"id": "x", "token_env": "hf_PastedTheTokenItself012"}, "looks like the secret itself"),
        ({"id": "x", "token_env": "not a name"}, "should match pattern"),
        ({"id": "x", "token": "hf_InlineTokenIsNotAnOption"}, "model.hub.token"),
    ],
)
def test_a_hub_token_is_never_written_into_the_spec(model: dict, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        HFConfig.model_validate({"model": model})
    assert needle in str(info.value)

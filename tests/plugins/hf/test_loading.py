"""Model loading and device choice: clear errors where hardware is missing."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from fteval_hf.config import HubModel
from fteval_hf.devices import pick_device
from fteval_hf.loading import load_pretrained


@pytest.mark.parametrize("flag", ["load_in_8bit", "load_in_4bit"])
def test_quantised_loading_without_cuda_says_what_to_do(tiny_hub_model, flag) -> None:
    with pytest.raises(RuntimeError, match=f"{flag} needs a CUDA GPU.*Remove {flag}"):
        load_pretrained(HubModel(id=str(tiny_hub_model), **{flag: True}), "cpu")


def test_dtype_is_applied(tiny_hub_model) -> None:
    model = load_pretrained(HubModel(id=str(tiny_hub_model), dtype="bfloat16"), "cpu")
    assert next(model.parameters()).dtype == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_a_missing_gpu_fails_clearly() -> None:
    assert pick_device("auto") in ("cpu", "mps")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        pick_device("cuda")

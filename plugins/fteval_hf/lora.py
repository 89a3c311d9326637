"""LoRA adapters through peft: wrapping a model for training and loading a trained adapter."""

from __future__ import annotations

from typing import Any

from fteval_hf.config import LoraSettings

__all__ = ["add_adapter", "load_adapter"]


def add_adapter(model: Any, settings: LoraSettings, quantized: bool = False) -> Any:
    """Wrap ``model`` with a fresh LoRA adapter (only the adapter trains).

    Args:
        model: a causal LM.
        settings: the target's ``train.lora`` section.
        quantized: prepare an 8/4-bit model for training first.

    Returns:
        The peft model.
    """
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model)
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,  # type: ignore[arg-type]  # peft annotates int; a float scales the same
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias=settings.bias,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def load_adapter(model: Any, adapter_dir: str, merge: bool) -> Any:
    """Attach a saved adapter to its base model; merge it into the weights when ``merge``."""
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(model, adapter_dir)
    return peft_model.merge_and_unload() if merge else peft_model

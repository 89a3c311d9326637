"""What identifies an API model: its name plus the snapshot the endpoint reports for it.

A model id such as ``gpt-4o-mini`` can move to a new snapshot; ``GET /v1/models/{id}`` reports the
model's ``created`` time, which changes when it does. Fine-tuned model ids never move.
"""

from __future__ import annotations

from typing import Any

from fteval_openai.client import endpoint_host
from fteval_openai.config import ModelSettings

__all__ = ["base_fingerprint", "finetuned_fingerprint", "model_identity"]


def finetuned_fingerprint(fine_tuned_model: str) -> str:
    """Response-cache identity of a fine-tuned model: ``openai:<fine_tuned_model>``."""
    return f"openai:{fine_tuned_model}"


def base_fingerprint(model: ModelSettings) -> str:
    """Identity of a base model used as is: ``openai:<model>@<endpoint host>``."""
    return f"openai:{model.name}@{endpoint_host(model)}"


def model_identity(client: Any, model: ModelSettings) -> str:
    """``<model id>@<created>`` as the endpoint reports it (its snapshot), or the bare name if unknown."""
    import openai

    try:
        info = client.models.retrieve(model.name)
    except openai.NotFoundError:
        return model.name
    return f"{info.id}@{getattr(info, 'created', '?')}"

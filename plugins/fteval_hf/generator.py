"""The ``hf`` generator plugin: batched KV-cache generation from a saved hf target (or a hub model).

Importing this module loads no torch/transformers; :meth:`HFGenerator.load` does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from fteval.plugin import (
    Generation,
    GenerationSettings,
    Generator,
    LoadedModel,
    ModelHandle,
    PluginConfig,
    Prompt,
)
from fteval_hf.config import GGUFModel, HFConfig, HubModel

__all__ = ["HFGenerator", "HFLoadedModel", "cut_at_stop", "forward_batch_size", "load_model"]

# Prompts per generate() call: enough to sort by length and fill forward batches; a killed run
# loses at most this many outputs (a few seconds of work for a small model).
CALL_SIZE = 256
# Token budget of one forward batch when the batch size is chosen automatically (prompt tokens).
AUTO_BATCH_TOKENS = 4096


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the first stop string (not included)."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=len(text))
    return text[:cut]


def forward_batch_size(prompt_lengths: Sequence[int], requested: int | None) -> int:
    """Rows per forward batch: the spec's, or as many as fit ~4k prompt tokens (8 to 64)."""
    if requested is not None:
        return requested
    longest = max(prompt_lengths, default=1)
    return max(8, min(64, AUTO_BATCH_TOKENS // max(longest, 1)))


class HFLoadedModel(LoadedModel):
    """A transformers model and tokenizer that generate for batches of prompts."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        settings: GenerationSettings,
        *,
        prompt_format: Literal["plain", "chat"],
        shared_prefix: Literal["auto", "on", "off"],
        device: str,
    ) -> None:
        self.model, self.tokenizer, self.settings = model, tokenizer, settings
        self.prompt_format, self.shared_prefix, self.device = prompt_format, shared_prefix, device
        self._stop_ids = [tokenizer(s, add_special_tokens=False)["input_ids"] for s in settings.stop if s]

    def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        """One output per prompt, in order; latency = the call's wall time over its prompts."""
        if not prompts:
            return []
        started = time.perf_counter()
        ids, outs = self._encode(prompts), dict[int, list[int]]()
        for ended in self._decode(ids):
            outs.update(ended)
        latency = (time.perf_counter() - started) / len(prompts)
        return [self._generation(ids[i], outs[i], latency) for i in range(len(prompts))]

    def stream(self, prompts: Sequence[Prompt]) -> Iterator[tuple[int, Generation]]:
        """Outputs as rows end; latency = wall time since the previous rows ended over the rows ending now."""
        if not prompts:
            return
        ids = self._encode(prompts)
        last = time.perf_counter()
        for ended in self._decode(ids):
            now = time.perf_counter()
            latency, last = (now - last) / len(ended), now
            for i, out in ended:
                yield i, self._generation(ids[i], out, latency)

    def _encode(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        from fteval_hf.formatting import encode_prompt

        return [encode_prompt(self.tokenizer, p, self.prompt_format) for p in prompts]

    def _decode(self, ids: list[list[int]]) -> Iterator[list[tuple[int, list[int]]]]:
        """The decode loop's groups of (prompt index, generated ids), as rows end."""
        from fteval_hf.decode import stream

        s = self.settings
        return stream(
            self.model,
            ids,
            max_new_tokens=s.max_new_tokens,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            temperature=s.temperature,
            top_p=s.top_p,
            seed=s.seed,
            stop_sequences=self._stop_ids,
            shared_prefix=self.shared_prefix,
            batch_size=forward_batch_size([len(i) for i in ids], s.batch_size),
            slots=s.batch_size or "auto",  # the lean loop's prefills are sized by its free slots
        )

    def _generation(self, prompt_ids: list[int], out: list[int], latency: float) -> Generation:
        text = cut_at_stop(self.tokenizer.decode(out, skip_special_tokens=True), self.settings.stop)
        return Generation(text, latency, prompt_tokens=len(prompt_ids), completion_tokens=len(out))

    def with_settings(self, settings: GenerationSettings) -> LoadedModel | None:
        """The same weights and tokenizer decoding with ``settings`` (None: sampling needs transformers)."""
        from fteval_hf.native_llama import NativeLlama

        if isinstance(self.model, NativeLlama) and settings.temperature > 0:
            return None
        return HFLoadedModel(
            self.model,
            self.tokenizer,
            settings,
            prompt_format=self.prompt_format,
            shared_prefix=self.shared_prefix,
            device=self.device,
        )

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self.model = None


def _native_folder(method: str, location: str, hub: HubModel | None, device: str, fmt: str) -> Path | None:
    """The folder to run with the native Llama runtime, or None when transformers must load it.

    Greedy plain-prompt evaluation on the CPU of a base model from a local folder or of a fully
    trained one, in float32, unquantized; :func:`fteval_hf.native_llama.native_reason` checks the files.
    """
    from fteval_hf.native_llama import native_reason

    if device != "cpu" or fmt != "plain" or method not in ("base", "full"):
        return None
    if hub is not None and (hub.load_in_8bit or hub.load_in_4bit or hub.dtype not in ("auto", "float32")):
        return None
    source = hub.id if method == "base" and hub is not None else location
    folder = Path(source).expanduser() if source else None
    if folder is None or not folder.is_dir() or native_reason(folder) is not None:
        return None
    return folder


def _load(
    handle: ModelHandle, config: HFConfig, device: str, greedy: bool = False
) -> tuple[Any, Any, Literal["plain", "chat"]]:
    """The model on ``device``, its tokenizer and prompt format, from a handle's manifest.

    With ``greedy``, a plain Llama folder loads into the native runtime (no transformers import).
    """
    from fteval_hf.manifest import read_manifest

    location = handle.location or ""
    manifest = read_manifest(Path(location)) or dict(handle.meta)
    method = manifest.get("method", "base")
    fmt: Any = manifest.get("prompt_format", config.train.prompt_format)  # "plain" or "chat", as trained
    hub = config.model if isinstance(config.model, HubModel) else None
    if isinstance(config.model, GGUFModel):
        from fteval_hf.gguf import local_model

        hub = local_model(config.model)  # the de-quantized copy, converted on first use
    native = _native_folder(method, location, hub, device, fmt) if greedy else None
    if native is not None:
        from fteval_hf.native_llama import load_native
        from fteval_hf.native_tokenizer import NativeTokenizer

        return load_native(native), NativeTokenizer(native), fmt
    from transformers import AutoModelForCausalLM

    from fteval_hf.devices import quiet_transformers
    from fteval_hf.loading import hub_token, load_pretrained, load_tokenizer
    from fteval_hf.lora import load_adapter

    quiet_transformers()
    if method == "base" and hub is not None:
        return load_pretrained(hub, device), load_tokenizer(hub.id, hub.revision, hub_token(hub)), fmt
    tokenizer = load_tokenizer(location)
    if method == "lora":
        base_dir = manifest["base"].get("dir")
        if base_dir is not None:
            base: Any = AutoModelForCausalLM.from_pretrained(base_dir)
            base = base.to(device)
        elif hub is not None:
            base = load_pretrained(hub, device)
        else:
            raise ValueError(f"the adapter in {location} names no base model it can be loaded onto")
        lora = config.train.lora
        return load_adapter(base, location, merge=lora.merge).to(device), tokenizer, fmt
    dtype = hub.dtype if hub is not None else "auto"
    if hub is not None:
        return (
            load_pretrained(HubModel(id=location, dtype=dtype, device=hub.device), device),
            tokenizer,
            fmt,
        )
    model: Any = AutoModelForCausalLM.from_pretrained(location)
    return model.to(device), tokenizer, fmt


class HFGenerator(Generator):
    """Loads an hf target's saved model (adapter unmerged unless ``train.lora.merge``)."""

    model_formats = ("hf-causal-lm",)
    libraries = ("torch", "transformers", "peft", "tokenizers")
    # An evaluation decodes all its prompts in one stream (rows refill freed slots to the end; no
    # per-call tail); outputs are saved as they end.
    streams = True

    def call_size(self, settings: GenerationSettings) -> int:
        """Large calls (pipelines, judges): the generator sorts each call by length into forward batches."""
        return max(CALL_SIZE, settings.batch_size or 0)

    def load(self, handle: ModelHandle, target_config: PluginConfig, settings: GenerationSettings) -> LoadedModel:
        """Load the model of ``handle`` on the target's device (natively when it qualifies and ``settings`` are greedy).

        Args:
            handle: from :class:`fteval_hf.trainer.HFTrainer` (``fit`` or ``base_model``).
            target_config: the target's validated :class:`HFConfig`.
            settings: decoding settings.

        Returns:
            A loaded model whose ``generate`` runs batched, length-bucketed decoding.
        """
        return load_model(handle, target_config, settings, native=settings.temperature <= 0)


def load_model(
    handle: ModelHandle, target_config: PluginConfig, settings: GenerationSettings, *, native: bool
) -> HFLoadedModel:
    """:meth:`HFGenerator.load`, choosing the runtime: ``native=False`` always loads through transformers.

    A server that decodes each request with its own settings, or reads the model's forward
    (log probabilities), needs transformers' model: ``native=False``.
    """
    from fteval_hf.devices import pick_device, use_all_cores

    if not isinstance(target_config, HFConfig):
        raise TypeError(f"the hf generator needs an hf target's config, got {type(target_config).__name__}")
    use_all_cores()
    device = pick_device(target_config.model.device)
    model, tokenizer, fmt = _load(handle, target_config, device, greedy=native)
    model.eval()
    return HFLoadedModel(
        model,
        tokenizer,
        settings,
        prompt_format=fmt,
        shared_prefix=target_config.train.shared_prefix,
        device=device,
    )

"""Chat models the server answers: fine-tuned jobs' hf models, and an echo stand-in for base models.

There is no GPT locally, so a base model id answers deterministically with the last user message
(cut at a stop string or at ``max_tokens`` tiktoken tokens): enough to exercise the zero-shot path,
retries, caching, streaming and ``finish_reason``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fteval_openai.server.errors import ApiError
from fteval_openai.server.options import ServeOptions
from fteval_openai.server.state import State

__all__ = ["BASE_CREATED", "Completion", "ModelNotFound", "Models"]

BASE_CREATED = 1_700_000_000  # a fixed "snapshot" time for the echo base models


@dataclass(frozen=True)
class Completion:
    """One choice: its text, why it ended, its tokens (and their log probabilities) and the usage counts."""

    text: str
    finish_reason: str  # "stop" or "length"
    tokens: list[str]
    logprobs: list[float]
    completion_tokens: int
    prompt_tokens: int


class ModelNotFound(LookupError):
    """No base model and no succeeded job has this id."""


class Models:
    """Loads fine-tuned models on first use (one lock per model: torch runs one request at a time)."""

    def __init__(self, state: State, options: ServeOptions) -> None:
        self.state, self.options = state, options
        self._loaded: dict[str, tuple[Any, threading.Lock]] = {}
        self._lock = threading.Lock()

    def listing(self) -> list[dict[str, Any]]:
        """Every model id with its ``created`` time and owner."""
        out = [
            {"id": m, "object": "model", "created": BASE_CREATED, "owned_by": "system"}
            for m in self.options.base_models
        ]
        with self.state.lock:
            for job in self.state.jobs.values():
                if job["status"] == "succeeded" and job.get("fine_tuned_model"):
                    out.append(
                        {
                            "id": job["fine_tuned_model"],
                            "object": "model",
                            "created": job["finished_at"],
                            "owned_by": job["organization_id"],
                        }
                    )
        return out

    def get(self, model_id: str) -> dict[str, Any]:
        """One model's object.

        Raises:
            ModelNotFound: unknown id.
        """
        for model in self.listing():
            if model["id"] == model_id:
                return model
        raise ModelNotFound(model_id)

    def _job_for(self, model_id: str) -> dict[str, Any]:
        with self.state.lock:
            for job in self.state.jobs.values():
                if job.get("fine_tuned_model") == model_id and job["status"] == "succeeded":
                    return job
        raise ModelNotFound(model_id)

    def _load(self, model_id: str) -> tuple[Any, threading.Lock]:
        from fteval_hf.config import HFConfig
        from fteval_hf.generator import load_model

        from fteval.plugin import GenerationSettings, ModelHandle

        with self._lock:
            if model_id not in self._loaded:
                data = self._job_for(model_id)["_handle"]
                config = HFConfig.model_validate(data["config"])
                handle = ModelHandle(data["trainer"], data["fingerprint"], data["location"], data["meta"])
                # Through transformers: requests sample with their own settings and logprobs read the forward.
                loaded = load_model(handle, config, GenerationSettings(), native=False)
                self._loaded[model_id] = (loaded, threading.Lock())
            return self._loaded[model_id]

    def complete(
        self,
        model_id: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int,
        temperature: float,
        top_p: float,
        stop: tuple[str, ...],
        seed: int,
        logprobs: bool = False,
    ) -> Completion:
        """The model's reply to ``messages``, cut at a stop string or at ``max_tokens`` tokens.

        Raises:
            ModelNotFound: unknown model id.
            ApiError: logprobs asked of a fine-tuned model whose tokens do not spell its answer piece by piece.
        """
        from fteval_openai.tokens import count_messages

        prompt_tokens = count_messages(messages)
        system = next((m["content"] for m in messages if m.get("role") == "system"), None)
        user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        if model_id in self.options.base_models:
            return _echo(str(user), max_tokens, stop, prompt_tokens)
        from fteval_hf.generator import HFLoadedModel

        from fteval.plugin import GenerationSettings, Prompt

        base, lock = self._load(model_id)
        settings = GenerationSettings(
            max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed
        )
        with lock:
            model = HFLoadedModel(
                base.model,
                base.tokenizer,
                settings,
                prompt_format=base.prompt_format,
                shared_prefix=base.shared_prefix,
                device=base.device,
            )
            out = model.generate([Prompt(system, str(user))])[0]
            scored = _scored(base, Prompt(system, str(user)), out.text) if logprobs else None
        pieces = _pieces(_tokens(out.text))
        used = out.completion_tokens if out.completion_tokens is not None else len(pieces)
        reason = "length" if used >= max_tokens else "stop"
        if scored is not None:
            return Completion(out.text, reason, scored[0], scored[1], used, out.prompt_tokens or prompt_tokens)
        return Completion(out.text, reason, pieces, [0.0] * len(pieces), used, out.prompt_tokens or prompt_tokens)


def _scored(base: Any, prompt: Any, text: str) -> tuple[list[str], list[float]]:
    """The model's tokens of ``text`` after ``prompt`` with their log probabilities (one forward pass).

    ``text`` is tokenized again, which gives the generated tokens back for the tokenizers fteval
    trains; each piece is what its token adds to the decoded text before it.

    Raises:
        ApiError: the pieces do not spell ``text`` (a token that ends inside a character).
    """
    import torch
    from fteval_hf.formatting import encode_prompt

    tok = base.tokenizer
    prompt_ids = encode_prompt(tok, prompt, base.prompt_format)
    out_ids = list(tok(text, add_special_tokens=False)["input_ids"])
    if not out_ids:
        return [], []
    ids = torch.tensor([prompt_ids + out_ids], device=base.device)
    with torch.no_grad():
        logits = base.model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
    chosen = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(out_ids, device=logits.device)[:, None])
    # Each token's text is what it adds to the decoded prefix (a lone token may decode differently).
    pieces, before = [], ""
    for end in range(1, len(out_ids) + 1):
        now = tok.decode(out_ids[:end])
        pieces.append(now[len(before) :] if now.startswith(before) else now)
        before = now
    if "".join(pieces) != text:
        raise ApiError(
            400,
            "logprobs: this model's tokens do not spell its answer piece by piece",
            "unsupported_parameter",
            "logprobs",
        )
    return pieces, [float(v) for v in chosen[:, 0].tolist()]


def _pieces(tokens: list[int]) -> list[str]:
    """Token ids as text pieces, a token whose bytes end inside a character joined with the next."""
    from fteval_openai.tokens import encoding

    pieces, pending = [], b""
    for raw in encoding().decode_tokens_bytes(tokens):
        pending += raw
        try:
            pieces.append(pending.decode("utf-8"))
            pending = b""
        except UnicodeDecodeError:
            continue
    return pieces + ([pending.decode("utf-8", errors="replace")] if pending else [])


def _tokens(text: str) -> list[int]:
    from fteval_openai.tokens import encoding

    return list(encoding().encode(text, disallowed_special=()))


def _echo(user: str, max_tokens: int, stop: tuple[str, ...], prompt_tokens: int) -> Completion:
    """The stand-in base model: it repeats the last user message, token by token, as a model would stop.

    It ends at the first stop string (not included; finish_reason "stop") or after ``max_tokens``
    tokens ("length"); it is certain of every token (logprob 0).
    """
    cut = min((i for i in (user.find(s) for s in stop if s) if i >= 0), default=-1)
    tokens = _tokens(user if cut < 0 else user[:cut])
    reason = "stop"
    if len(tokens) > max_tokens:
        tokens, reason = tokens[:max_tokens], "length"
    pieces = _pieces(tokens)
    return Completion("".join(pieces), reason, pieces, [0.0] * len(pieces), len(tokens), prompt_tokens)

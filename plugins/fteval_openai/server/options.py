"""Options of ``fteval serve``: where state lives, how big local training is, which faults to inject."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["BASE_MODELS", "ServeOptions"]

# Base model ids the server accepts for fine-tuning and answers in chat (with the echo stand-in).
BASE_MODELS = ("gpt-3.5-turbo", "gpt-3.5-turbo-0125", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06")


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``fteval serve`` can be told; tests build one directly."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None  # when set, requests must carry "Authorization: Bearer <key>"
    base_models: tuple[str, ...] = BASE_MODELS
    preset: str = "tiny"  # scratch model preset of the hf trainer
    train_epochs: int = 3  # used when the job leaves n_epochs on auto
    train_max_steps: int | None = None  # caps local training (tests: a few steps)
    train_lr: float = 1e-3  # learning rate at learning_rate_multiplier 1
    train_batch_size: int = 16
    vocab_size: int = 1000
    fail_rate: float = 0.0  # share of chat completions answered with 429 or 500
    latency_ms: float = 0.0  # added to every chat completion
    latency_jitter_ms: float = 0.0  # plus uniform random 0..jitter
    rate_limit: float | None = None  # chat completions per second; beyond it 429 with Retry-After
    fault_seed: int = 0
    max_body_bytes: int = 16 * 2**20  # JSON request bodies; more is refused with 413
    max_upload_bytes: int = 256 * 2**20  # file uploads (multipart)
    max_completion_tokens: int = 16384  # largest max_tokens / max_completion_tokens a request may ask

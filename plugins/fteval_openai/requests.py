"""What fteval sends: the chat-completion request body, and the API's own limits checked at ``validate``.

The API deprecates ``max_tokens`` in favour of ``max_completion_tokens``, and reasoning models
(o-series, gpt-5) refuse ``max_tokens`` and any temperature but the default. api.openai.com gets
``max_completion_tokens`` always; other OpenAI-compatible servers (vLLM, TGI, llama.cpp) get
``max_tokens``, which they all take, unless the model is a reasoning model or the spec says otherwise.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from fteval.plugin import GenerationSettings, Prompt
from fteval_openai.config import ModelSettings

__all__ = ["MAX_STOP", "chat_request", "is_reasoning_model", "settings_problems", "token_limit_param"]

MAX_STOP = 4  # the API takes up to 4 stop sequences
MAX_TEMPERATURE = 2.0
_REASONING = re.compile(r"^(o\d|gpt-5)")


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` (or the base of an ``ft:`` model) is an o-series or gpt-5 reasoning model."""
    name = model.split(":")[1] if model.startswith("ft:") and ":" in model[3:] else model.removeprefix("ft:")
    return bool(_REASONING.match(name))


def _official(model: ModelSettings) -> bool:
    return model.base_url is None or urlparse(model.base_url).hostname == "api.openai.com"


def token_limit_param(model: ModelSettings, model_id: str) -> str:
    """``max_completion_tokens`` or ``max_tokens``: what this endpoint and model take (``model.token_limit``)."""
    if model.token_limit != "auto":
        return model.token_limit
    if _official(model) or is_reasoning_model(model_id):
        return "max_completion_tokens"
    return "max_tokens"


def chat_request(model: ModelSettings, model_id: str, settings: GenerationSettings, prompt: Prompt) -> dict[str, Any]:
    """The body of one chat completion for ``prompt``."""
    request: dict[str, Any] = {
        "model": model_id,
        "messages": prompt.messages(),
        token_limit_param(model, model_id): settings.max_new_tokens,
        "seed": settings.seed,
    }
    # Reasoning models refuse sampling parameters; validate has made sure they are the defaults.
    if not is_reasoning_model(model_id):
        request["temperature"] = settings.temperature
        request["top_p"] = settings.top_p
    if settings.stop:
        request["stop"] = list(settings.stop)
    return request


def settings_problems(settings: GenerationSettings, model_id: str) -> list[tuple[str, str]]:
    """Decoding settings the OpenAI API refuses for ``model_id``, as (setting, why)."""
    problems = []
    if len(settings.stop) > MAX_STOP:
        problems.append(("stop", f"the OpenAI API takes at most {MAX_STOP} stop strings, got {len(settings.stop)}"))
    if settings.temperature > MAX_TEMPERATURE:
        problems.append(
            ("temperature", f"the OpenAI API takes a temperature from 0 to 2, got {settings.temperature:g}")
        )
    if is_reasoning_model(model_id):
        if settings.temperature != 1.0:
            problems.append(
                (
                    "temperature",
                    f"{model_id} is a reasoning model: the API takes only temperature 1 (set generation:"
                    f" {{temperature: 1}} on this target), got {settings.temperature:g}",
                )
            )
        if settings.top_p != 1.0:
            problems.append(("top_p", f"{model_id} is a reasoning model: the API takes only top_p 1"))
    return problems

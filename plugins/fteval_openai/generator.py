"""The ``openai`` generator: concurrent chat completions with retries, usage-based cost and latency."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from fteval.errors import FtevalError
from fteval.plugin import (
    Estimate,
    Generation,
    GenerationSettings,
    Generator,
    LoadedModel,
    ModelHandle,
    PlanInput,
    PluginConfig,
    Prompt,
    TokenPrices,
)
from fteval_openai.config import OpenAIConfig
from fteval_openai.prices import Rates, is_fine_tuned, rates

__all__ = ["CALL_SIZE", "OpenAIGenerator", "OpenAILoaded", "target_rates"]

# Prompts per engine call: room for max_concurrency requests in flight; a killed run loses one call.
CALL_SIZE = 64


class OpenAILoaded(LoadedModel):
    """A remote chat model: ``generate`` sends up to ``max_concurrency`` requests at once."""

    def __init__(self, model_id: str, config: OpenAIConfig, settings: GenerationSettings, prices: Rates) -> None:
        from fteval_openai.retry import RetryPolicy

        self.model_id, self.config, self.settings, self.prices = model_id, config, settings, prices
        self.policy = RetryPolicy(config.model.max_retries, config.model.backoff_s, random.Random(settings.seed))
        # One event loop and client for the model's lifetime: connections stay open between calls.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None

    def _request(self, prompt: Prompt) -> dict[str, Any]:
        from fteval_openai.requests import chat_request

        return chat_request(self.config.model, self.model_id, self.settings, prompt)

    async def _one(self, client: Any, prompt: Prompt, gate: asyncio.Semaphore, enqueued: float) -> Generation:
        from fteval_openai.bounded import BadAnswer, completion, response_cap
        from fteval_openai.retry import is_retryable

        request = self._request(prompt)
        deadline, cap = self.config.model.request_timeout_s, response_cap(self.settings.max_new_tokens)
        attempt = 0
        async with gate:
            while True:
                started = time.perf_counter()
                try:
                    answer = await completion(client, request, deadline_s=deadline, cap=cap)
                except BadAnswer as exc:
                    raise FtevalError(self._bad(str(exc))) from None
                except Exception as exc:
                    if not is_retryable(exc) or attempt >= self.policy.max_retries:
                        if isinstance(exc, TimeoutError):
                            raise FtevalError(
                                self._bad(
                                    f"no complete answer within request_timeout_s={deadline:g} s"
                                    f" (after up to {self.policy.max_retries} retries)"
                                )
                            ) from None
                        raise
                    await asyncio.sleep(self.policy.delay(attempt, exc))
                    attempt += 1
                    continue
                latency = time.perf_counter() - started
                break
        pt, ct = answer.prompt_tokens, answer.completion_tokens
        cost = self.prices.completion_cost(pt, ct) if pt is not None and ct is not None else None
        # latency: the successful request alone; queue_s: the wait before it (the gate, failed tries, backoff).
        return Generation(
            answer.text, latency, prompt_tokens=pt, completion_tokens=ct, cost_usd=cost, queue_s=started - enqueued
        )

    def _bad(self, problem: str) -> str:
        """One line naming the server, the model and what was wrong (no key, no URL password)."""
        from fteval_openai.client import scrub, server_name

        return scrub(
            f"{server_name(self.config.model)} (model {self.model_id}): {problem}; nothing of it was stored,"
            " and the same command resumes the run",
            self.config.model,
        )

    async def _all(self, prompts: Sequence[Prompt]) -> list[Generation]:
        from fteval_openai.client import async_client

        if self._client is None:
            self._client = async_client(self.config.model)
        gate = asyncio.Semaphore(self.config.model.max_concurrency)
        enqueued = time.perf_counter()
        tasks = [asyncio.ensure_future(self._one(self._client, p, gate, enqueued)) for p in prompts]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:  # after a failure, stop the others' retries too
                task.cancel()

    def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        """One completion per prompt, in order.

        Raises:
            FtevalError: a request still failed after ``max_retries`` retries, or was not retryable.
        """
        from fteval_openai.client import api_errors

        if not prompts:
            return []
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        with api_errors(
            self.config.model, f"generating with {self.model_id} (after up to {self.policy.max_retries} retries)"
        ):
            return self._loop.run_until_complete(self._all(prompts))

    def with_settings(self, settings: GenerationSettings) -> LoadedModel | None:
        """The same remote model with ``settings`` (its own client, opened on first use)."""
        return OpenAILoaded(self.model_id, self.config, settings, self.prices)

    def close(self) -> None:
        """Close the client's connections and the event loop."""
        if self._loop is not None:
            if self._client is not None:
                self._loop.run_until_complete(self._client.close())
            self._loop.close()
            self._loop, self._client = None, None


def target_rates(config: OpenAIConfig, model: str | None = None) -> Rates:
    """What ``model`` (default: the target's model) costs: the table's prices with the spec's ``cost:`` applied.

    An ``ft:`` model is billed at fine-tuned rates, also when ``--model ft:...`` names it on an
    evaluator-only target.
    """
    c, name = config.cost, model or config.model.name
    return rates(
        name,
        fine_tuned=is_fine_tuned(name, config.model.name),
        training=c.training_per_1k,
        input=c.input_per_1k,
        output=c.output_per_1k,
        date=c.date,
        source=c.source,
    )


class OpenAIGenerator(Generator):
    """Chat completions from a fine-tuned or base model of an ``openai`` target."""

    model_formats: ClassVar[tuple[str, ...]] = ("openai-model",)
    libraries: ClassVar[tuple[str, ...]] = ("openai",)

    def call_size(self, settings: GenerationSettings) -> int:
        """Large calls so ``max_concurrency`` requests stay in flight; results are stored after each."""
        return settings.batch_size or CALL_SIZE

    def check_settings(self, settings: GenerationSettings, target_config: PluginConfig) -> list[tuple[str, str]]:
        """What the OpenAI API would refuse: more than 4 stop strings, temperature over 2, sampling on o-series."""
        from fteval_openai.requests import settings_problems

        if not isinstance(target_config, OpenAIConfig):
            return []
        return settings_problems(settings, target_config.model.name)

    def token_prices(self, target_config: PluginConfig, model: str | None = None) -> TokenPrices | None:
        """The target's per-token prices; the engine prices every question with them (unknown: None)."""
        if not isinstance(target_config, OpenAIConfig):
            return None
        return target_rates(target_config, model).token_prices()

    def estimate(self, target_config: PluginConfig, work: PlanInput) -> Estimate:
        """The prices of a call (fine-tuned rates when the target trains) and the eval split's cost (``fteval plan``)."""
        from fteval_openai.estimate import eval_estimate

        if not isinstance(target_config, OpenAIConfig):
            return Estimate()
        return eval_estimate(target_config, work)

    def load(self, handle: ModelHandle, target_config: PluginConfig, settings: GenerationSettings) -> LoadedModel:
        """A client for the handle's model (``location`` is the model id)."""
        if not isinstance(target_config, OpenAIConfig):
            raise FtevalError(f"the openai generator needs an openai target, got {type(target_config).__name__}")
        if not handle.location:
            raise FtevalError("the openai model handle has no model id")
        prices = target_rates(target_config, handle.location)
        return OpenAILoaded(handle.location, target_config, settings, prices)

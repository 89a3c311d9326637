"""Calling a target of the spec on prompts from inside the engine: cached, recorded, resumable.

A pipeline step (``fteval.running.pipeline``) or a model-graded metric asks another target of the spec
to answer prompts::

    caller = TargetCaller(engine, "judge-model")
    gens = caller.generate(prompts, settings=caller.settings.model_copy(update={"temperature": 0}),
                           purpose="judge", sites=[CallSite(run_id, e.index, "judge") for e in batch])
    caller.close()

The caller obtains the target's model handle as ``fteval run`` would (its finished job, or
training it, or the base model of an ``evaluator_only`` target), loads its generator once (and
reuses the loaded weights for other decoding settings when the generator allows it), answers from
the response cache when it can, and records every call in the store's ``calls`` table. With
``sites``, a call already recorded at the same site (run, example, step, number) and with the same
cache key is returned as recorded: a resumed run pays for no call twice.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fteval import registry
from fteval.identity import cache_key
from fteval.plugin import Generation, GenerationSettings, LoadedModel, ModelHandle, Prompt, TokenPrices
from fteval.running.costs import priced
from fteval.running.output_caps import cut_generation
from fteval.spec.credential_routes import scrub_outputs, sent_secrets
from fteval.storage.callstore import CallRecord, load_calls, save_calls

if TYPE_CHECKING:
    from fteval.running.engine import Engine
    from fteval.spec.loader import ResolvedTarget

__all__ = ["Call", "CallSite", "TargetCaller"]


@dataclass(frozen=True)
class CallSite:
    """Where a call belongs in the store: the run, the example index, the step's name and the call's number in it."""

    run_id: str
    index: int
    step: str
    number: int = 0


@dataclass(frozen=True)
class Call:
    """One answered prompt: the generation and where it came from (``fresh`` model call, ``cache`` or ``record``)."""

    prompt: Prompt
    generation: Generation
    source: str
    key: str

    @property
    def cached(self) -> bool:
        """Whether no model was called for it in this process (answered by the cache or an earlier record)."""
        return self.source != "fresh"


class TargetCaller:
    """Answers prompts with one target's model, through the response cache, recording calls in the store."""

    def __init__(self, engine: Engine, target: str) -> None:
        """Prepare calls to ``target`` (a name in ``engine.spec.targets``); nothing is loaded until needed.

        Raises:
            KeyError: the spec has no such target.
        """
        self.engine, self.target = engine, target
        self.resolved: ResolvedTarget = engine.target(target)
        self._handle: ModelHandle | None = None
        self._loaded: dict[str, LoadedModel] = {}
        # A server may echo the key it was sent: known secrets never reach the store, the cache or a step.
        self._secrets = engine.secrets | sent_secrets(self.resolved.trainer(self.resolved.config))
        #: Model calls made through this caller (cache and record hits excluded).
        self.model_calls = 0

    @property
    def settings(self) -> GenerationSettings:
        """The target's own decoding settings (the spec's, with the target's overrides)."""
        return self.resolved.settings

    @property
    def handle(self) -> ModelHandle:
        """The target's model: its finished job, trained now if needed, or the base model when evaluator-only."""
        if self._handle is None:
            _, self._handle = self.engine.train(self.target)
        return self._handle

    @property
    def fingerprint(self) -> str:
        """The model's fingerprint (part of every cache key and of a pipeline run's identity)."""
        return self.handle.fingerprint

    @functools.cached_property
    def prices(self) -> TokenPrices | None:
        """The generator's per-token prices for this model (None: it does not bill per token); see ``fteval.running.costs``."""
        return self.resolved.generator().token_prices(self.resolved.config, self.handle.location or None)

    def call_size(self, settings: GenerationSettings | None = None) -> int:
        """Prompts per generator call for ``settings`` (the generator's choice)."""
        return self.resolved.generator().call_size(settings or self.settings)

    def key(self, prompt: Prompt, settings: GenerationSettings | None = None) -> str:
        """The response-cache key of ``prompt`` under ``settings``."""
        return cache_key(self.fingerprint, self.resolved.generator_name, prompt, settings or self.settings)

    def generate(
        self,
        prompts: Sequence[Prompt],
        *,
        settings: GenerationSettings | None = None,
        purpose: str = "call",
        sites: Sequence[CallSite] | None = None,
    ) -> list[Generation]:
        """One generation per prompt, in order (see :meth:`calls`)."""
        return [c.generation for c in self.calls(prompts, settings=settings, purpose=purpose, sites=sites)]

    def calls(
        self,
        prompts: Sequence[Prompt],
        *,
        settings: GenerationSettings | None = None,
        purpose: str = "call",
        sites: Sequence[CallSite] | None = None,
    ) -> list[Call]:
        """Answer ``prompts``: from earlier records at ``sites``, else the response cache (unless ``--no-cache``), else the model.

        Args:
            prompts: the prompts, answered in order.
            settings: decoding settings; the target's own by default.
            purpose: what the calls are for (``pipeline``, ``judge``), stored with each record.
            sites: where each call is recorded (one per prompt); None records nothing.

        Returns:
            One ``Call`` per prompt. Fresh generations are cut to the output cap and cached (a cut
            one is not cached); every call with a site is recorded before this returns.
        """
        settings = settings or self.settings
        if sites is not None and len(sites) != len(prompts):
            raise ValueError(f"{len(prompts)} prompts but {len(sites)} call sites")
        keys = [self.key(p, settings) for p in prompts]
        answered: dict[int, Call] = {}
        if sites is not None:
            answered.update(self._recorded(prompts, keys, sites))
        todo = [i for i in range(len(prompts)) if i not in answered]
        cached = self.engine.store.cached_responses([keys[i] for i in todo]) if self.engine.use_cache else {}
        cached = dict(zip(cached, scrub_outputs(list(cached.values()), self._secrets), strict=True))
        for i in todo:
            if keys[i] in cached:
                answered[i] = Call(prompts[i], cached[keys[i]], "cache", keys[i])
        misses = [i for i in todo if i not in answered]
        to_cache: list[tuple[str, Generation]] = []
        size = self.call_size(settings)
        for start in range(0, len(misses), size):
            chunk = misses[start : start + size]
            outputs = scrub_outputs(self._model(settings).generate([prompts[i] for i in chunk]), self._secrets)
            self.model_calls += len(chunk)
            self.engine.model_calls += len(chunk)
            for i, output in zip(chunk, outputs, strict=True):
                generation, cut = cut_generation(output, settings)
                answered[i] = Call(prompts[i], generation, "fresh", keys[i])
                if cut is None:
                    to_cache.append((keys[i], generation))
        if to_cache:
            self.engine.store.save_responses(to_cache)
        # Every call is priced from its tokens and today's prices, whether the model, the cache or a record answered.
        prices = self.prices
        if prices is not None:
            answered = {i: dataclasses.replace(c, generation=priced(c.generation, prices)) for i, c in answered.items()}
        if sites is not None:
            save_calls(
                self.engine.store,
                [
                    CallRecord(
                        s.run_id, s.index, s.step, s.number, purpose, self.target, keys[i], prompts[i],
                        answered[i].generation, answered[i].cached,
                    )
                    for i, s in enumerate(sites)
                    if answered[i].source != "record"
                ],
            )  # fmt: skip
        return [answered[i] for i in range(len(prompts))]

    def _recorded(self, prompts: Sequence[Prompt], keys: list[str], sites: Sequence[CallSite]) -> dict[int, Call]:
        """Calls already recorded at these sites with the same cache key (made before a kill or a crash)."""
        out: dict[int, Call] = {}
        by_run: dict[str, set[int]] = {}
        for s in sites:
            by_run.setdefault(s.run_id, set()).add(s.index)
        records = {
            (r.run_id, r.index, r.step, r.number): r
            for run_id, indexes in by_run.items()
            for r in load_calls(self.engine.store, run_id, sorted(indexes))
        }
        for i, s in enumerate(sites):
            r = records.get((s.run_id, s.index, s.step, s.number))
            if r is not None and r.cache_key == keys[i]:
                out[i] = Call(prompts[i], r.generation, "record", keys[i])
        return out

    def _model(self, settings: GenerationSettings) -> LoadedModel:
        """The target's model loaded for ``settings``: the weights are loaded once when the generator allows it."""
        wanted = settings.model_dump_json()
        if wanted in self._loaded:
            return self._loaded[wanted]
        model: LoadedModel | None = None
        if self._loaded:
            model = next(iter(self._loaded.values())).with_settings(settings)
        if model is None:
            with registry.install_hint("generator", self.resolved.generator_name):
                model = self.resolved.generator().load(self.handle, self.resolved.config, settings)
        self._loaded[wanted] = model
        return model

    def close(self) -> None:
        """Release every loaded model (a later call loads again)."""
        loaded, self._loaded = list(self._loaded.values()), {}
        for model in loaded:
            model.close()

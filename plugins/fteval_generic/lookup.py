"""The ``lookup`` baseline: memorise train prompt -> target, else answer the most frequent target.

It is a legitimate floor (a model must beat "recall the training set"), runs instantly, and gives
the tests a real model to run end to end. Reports label it as a baseline.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field
from typing_extensions import TypeVar

from fteval.data.textfile import TextFileError, read_regular
from fteval.errors import PluginError
from fteval.plugin import (
    Generation,
    GenerationSettings,
    Generator,
    LoadedModel,
    ModelHandle,
    PluginConfig,
    Prompt,
    TrainContext,
    Trainer,
)

MAX_TABLE_BYTES = 1 << 30  # a lookup table is at most the size of the training data (1 GiB, as data files)


class LookupModel(PluginConfig):
    """``model`` section of a lookup target."""

    normalize: bool = Field(True, description="Match prompts case- and whitespace-insensitively.")


class LookupConfig(PluginConfig):
    """A lookup target: only ``model.normalize``; there is nothing to train or pay for."""

    model: LookupModel = Field(default_factory=LookupModel, description="Matching options.")
    train: dict[str, int] = Field(default_factory=dict, max_length=0, description="Must be empty.")
    cost: dict[str, float] = Field(default_factory=dict, max_length=0, description="Must be empty.")


def _key(prompt: Prompt, normalize: bool) -> str:
    text = f"{prompt.system or ''}\x00{prompt.user}"
    return " ".join(text.casefold().split()) if normalize else text


#: The config of a lookup trainer: a plugin that extends it (tests/fixtures/external_plugin) adds options.
LookupConfigT = TypeVar("LookupConfigT", bound=LookupConfig, default=LookupConfig, covariant=True)


class LookupTrainer(Trainer[LookupConfigT]):
    """Builds the lookup table from the training split."""

    Config = LookupConfig
    is_baseline = True
    default_generator = "lookup"
    model_format = "lookup-table"

    def _save(self, ctx: TrainContext, table: dict[str, str], fallback: str) -> ModelHandle:
        body = json.dumps(
            {"table": table, "fallback": fallback, "normalize": self.config.model.normalize}, sort_keys=True
        )
        path = Path(ctx.workdir) / "lookup.json"
        path.write_text(body, encoding="utf-8")
        digest = hashlib.sha256(body.encode()).hexdigest()
        return ModelHandle(trainer="lookup", fingerprint=f"lookup-{digest[:16]}", location=str(path))

    def fit(self, ctx: TrainContext) -> ModelHandle:
        start = time.perf_counter()
        normalize = self.config.model.normalize
        votes: dict[str, Counter[str]] = {}
        with ctx.progress(len(ctx.train), "memorising") as bar:
            for example in ctx.train:
                votes.setdefault(_key(example.prompt, normalize), Counter())[example.target] += 1
                bar.advance()
        table = {k: c.most_common(1)[0][0] for k, c in votes.items()}
        overall = Counter(e.target for e in ctx.train)
        fallback = overall.most_common(1)[0][0] if overall else ""
        ctx.record(wall_s=time.perf_counter() - start, train_rows=len(ctx.train), cost_usd=0.0)
        return self._save(ctx, table, fallback)

    def base_model(self, ctx: TrainContext) -> ModelHandle:
        return self._save(ctx, {}, "")

    def model_identity(self) -> str | None:
        """None: the table is built from the spec's data and options alone."""
        return None


class LookupLoaded(LoadedModel):
    """A loaded lookup table."""

    def __init__(self, path: Path) -> None:
        # a restored store may hold anything here: read it bounded (a link to /dev/zero is refused)
        try:
            data = json.loads(read_regular(path, MAX_TABLE_BYTES).decode("utf-8"))
        except (TextFileError, ValueError) as exc:
            raise PluginError(f"lookup table {path} is damaged ({exc}); delete the job folder to retrain") from None
        self.table, self.fallback, self.normalize = data["table"], data["fallback"], data["normalize"]

    def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        out = []
        for prompt in prompts:
            start = time.perf_counter()
            text = self.table.get(_key(prompt, self.normalize), self.fallback)
            out.append(
                Generation(text=text, latency_s=time.perf_counter() - start, completion_tokens=len(text.split()))
            )
        return out


class LookupGenerator(Generator):
    """Answers from a lookup table built by ``LookupTrainer``."""

    model_formats = ("lookup-table",)

    def call_size(self, settings: GenerationSettings) -> int:
        """Lookups are instant: large calls keep per-call overhead low."""
        return settings.batch_size or 256

    def load(self, handle: ModelHandle, target_config: PluginConfig, settings: GenerationSettings) -> LoadedModel:
        if handle.location is None:
            raise ValueError("lookup handle has no table location")
        return LookupLoaded(Path(handle.location))

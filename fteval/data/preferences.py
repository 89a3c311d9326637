"""Preference pairs for DPO: a spec's rejected-answer template checked row by row, or pairs from a model's wrong outputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from fteval.errors import DatasetError
from fteval.plugin import Example, Generation, LoadedModel, ModelHandle, Parsed, Parser

if TYPE_CHECKING:
    from fteval.spec.loader import ResolvedTarget
    from fteval.storage.store import Store

__all__ = ["check_pairs", "model_outputs", "pair_problem", "pairs_from_outputs"]

#: Bad rows named in one error before the rest are only counted.
MAX_LISTED = 20


def pair_problem(target: str, rejected: str) -> str | None:
    """Why a (preferred, rejected) pair cannot train, or None: an empty rejected answer, or one equal to the target."""
    if not rejected.strip():
        return "the rejected answer is empty"
    if rejected.strip() == target.strip():
        return "the rejected answer equals the preferred one (target)"
    return None


def check_pairs(examples: Sequence[Example], where: str) -> None:
    """Raise one ``DatasetError`` listing every row whose pair is unusable, by 1-based data row.

    Args:
        examples: rendered examples with ``rejected`` set.
        where: the template's position and the split, e.g. ``spec.yaml:9:3: prompt.rejected: train split (x.csv)``.

    Raises:
        DatasetError: some rows have an empty rejected answer or one equal to the target.
    """
    bad = [
        f"data row {ex.index + 1}: {why}"
        for ex in examples
        if (why := pair_problem(ex.target, ex.rejected if ex.rejected is not None else "")) is not None
    ]
    if bad:
        more = f"; and {len(bad) - MAX_LISTED} more rows" if len(bad) > MAX_LISTED else ""
        raise DatasetError(f"{where}: {len(bad)} bad preference rows: " + "; ".join(bad[:MAX_LISTED]) + more)


def _right(pred: Parsed, gold: Parsed) -> bool:
    """Exact match as the generic metric judges it: both parse and their canonical values are equal."""
    return pred.ok and gold.ok and pred.value == gold.value


def _parse(parser: Parser, text: str) -> Parsed:
    try:
        return parser.parse(text)
    except Exception as exc:  # a parser bug counts as a failed parse, as in evaluation
        return Parsed.fail(f"parser raised {type(exc).__name__}: {exc}")


def pairs_from_outputs(examples: Sequence[Example], outputs: Sequence[str], parser: Parser) -> list[Example]:
    """Preference pairs from a model's outputs: gold preferred, a wrong output rejected.

    An output is wrong when the parser does not give it the gold's canonical value (exact match);
    rows answered right, and outputs that make no usable pair (empty, equal to the gold text), are
    left out.

    Args:
        examples: the rendered rows the outputs answer, in order.
        outputs: one model output per example.
        parser: the spec's parser.

    Returns:
        The examples with a wrong output, each with ``rejected`` set to it.
    """
    pairs = []
    for ex, out in zip(examples, outputs, strict=True):
        if _right(_parse(parser, out), _parse(parser, ex.target)) or pair_problem(ex.target, out) is not None:
            continue
        pairs.append(dataclasses.replace(ex, rejected=out))
    return pairs


def model_outputs(
    store: Store, resolved: ResolvedTarget, handle: ModelHandle, examples: Sequence[Example], description: str
) -> list[str]:
    """A target's outputs for ``examples`` (its generator and settings), answered from the response cache when stored.

    Fresh outputs are cached after each generator call, so a killed build resumes where it stopped.
    """
    from fteval import registry
    from fteval.identity import cache_key
    from fteval.running.output_caps import cut_generation
    from fteval.running.progress import progress_bar

    settings, name = resolved.settings, resolved.generator_name
    generator = resolved.generator()
    loaded: LoadedModel | None = None
    out: list[str] = []
    size = generator.call_size(settings)
    try:
        with progress_bar(len(examples), f"{resolved.name}: {description}") as bar:
            for start in range(0, len(examples), size):
                batch = examples[start : start + size]
                keys = [cache_key(handle.fingerprint, name, e.prompt, settings) for e in batch]
                cached = store.cached_responses(keys)
                misses = [i for i, k in enumerate(keys) if k not in cached]
                fresh: dict[int, Generation] = {}
                if misses:
                    with registry.install_hint("generator", name):
                        if loaded is None:
                            loaded = generator.load(handle, resolved.config, settings)
                        fresh = dict(zip(misses, loaded.generate([batch[i].prompt for i in misses]), strict=True))
                bounded = [
                    cut_generation(fresh[i] if i in fresh else cached[keys[i]], settings) for i in range(len(batch))
                ]
                store.save_responses([(keys[i], bounded[i][0]) for i in fresh if bounded[i][1] is None])
                out += [g.text for g, _ in bounded]
                bar.advance(len(batch))
    finally:
        if loaded is not None:
            loaded.close()
    return out

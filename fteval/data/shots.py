"""Few-shot examples for pipeline steps: fixed, seeded random or BM25-similar rows of the train split.

A train row whose rendered prompt equals the evaluated row's, or any eval row's, is never drawn, so
no shot shows the model the question it is asked or another question it is scored on.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from fteval.errors import FtevalError
from fteval.plugin import Example
from fteval.spec.pipespec import Shots
from fteval.spec.templates import render

__all__ = ["ShotPicker", "prompt_key", "shot_values"]


def prompt_key(example: Example) -> str:
    """What makes two rows the same question: their rendered system and user messages, spaces folded."""
    return " ".join(f"{example.prompt.system or ''}\x00{example.prompt.user}".casefold().split())


class ShotPicker:
    """Picks ``k`` train examples for each evaluated example, deterministically."""

    def __init__(
        self, shots: Shots, train: Sequence[Example], evaluated: Sequence[Example], user_template: str
    ) -> None:
        """Index the train rows (BM25 for ``select: similar``).

        Args:
            shots: the pipeline's ``shots`` section.
            train: the rendered train split.
            evaluated: every eval example (none of their prompts is ever drawn).
            user_template: the spec's prompt.user, the default BM25 query.

        Raises:
            FtevalError: the train split is empty, or a fixed index is out of range.
        """
        if not train:
            raise FtevalError("the pipeline draws shots from the train split, but it has no rows")
        self.shots, self.train = shots, list(train)
        self.query = shots.query or user_template
        self.banned = {prompt_key(e) for e in evaluated}
        self.keys = [prompt_key(e) for e in self.train]
        for i in shots.indexes or []:
            if not 0 <= i < len(self.train):
                raise FtevalError(f"pipeline shots.indexes: {i} is not a train row index (0..{len(self.train) - 1})")
        self._bm25: Any = None
        if shots.select == "similar":
            self._bm25 = _index(
                [render(self.query, e.row, where=f"train row {e.index + 1}: shots.query") for e in train]
            )

    def _allowed(self, i: int, example: Example) -> bool:
        return self.keys[i] not in self.banned and self.keys[i] != prompt_key(example)

    def pick(self, example: Example) -> list[Example]:
        """The shots of ``example``: at most ``k`` allowed train examples (fewer only if fewer are allowed)."""
        k, select = self.shots.k, self.shots.select
        if select == "fixed":
            order = self.shots.indexes if self.shots.indexes is not None else range(len(self.train))
            return [self.train[i] for i in order if self._allowed(i, example)][:k]
        allowed = [i for i in range(len(self.train)) if self._allowed(i, example)]
        if select == "random":
            rng = random.Random(f"{self.shots.seed}:{example.index}")
            return [self.train[i] for i in sorted(rng.sample(allowed, min(k, len(allowed))))]
        query = render(self.query, example.row, where=f"eval row {example.index + 1}: shots.query")
        scores = _scores(self._bm25, query)
        best = sorted(allowed, key=lambda i: (-float(scores[i]), i))[:k]
        return [self.train[i] for i in best]


def shot_values(shot: Example) -> dict[str, Any]:
    """A shot as templates see it: its row's columns plus ``prompt`` (its rendered user message) and ``target``."""
    return {**shot.row, "prompt": shot.prompt.user, "target": shot.target}


def _tokens(texts: list[str]) -> Any:
    import bm25s  # optional: only `select: similar` needs it

    return bm25s.tokenize(texts, stopwords=None, show_progress=False, return_ids=False)


def _index(texts: list[str]) -> Any:
    """A BM25 index of ``texts`` (bm25s)."""
    try:
        import bm25s
    except ImportError:
        raise FtevalError(
            "shots with select: similar need the bm25s library: pip install 'fteval[pipelines]'"
        ) from None
    index = bm25s.BM25()
    index.index(bm25s.tokenize(texts, stopwords=None, show_progress=False), show_progress=False)
    return index


def _scores(index: Any, query: str) -> Any:
    """BM25 score of every indexed text for ``query``."""
    return index.get_scores(_tokens([query])[0])

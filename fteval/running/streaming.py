"""Streamed generation (contract 12): check a ``LoadedModel.stream``'s outputs and save them in groups as they arrive."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from fteval.errors import PluginError
from fteval.plugin import Generation, Progress

__all__ = ["SAVE_EVERY", "SAVE_SECONDS", "save_streamed"]

#: Outputs that make a group worth saving at once.
SAVE_EVERY = 64
#: Seconds after which what has arrived is saved however few outputs it is (checked as outputs arrive).
SAVE_SECONDS = 2.0

Group = list[tuple[int, Generation]]


def save_streamed(
    outputs: Iterable[tuple[int, Generation]],
    count: int,
    generator: str,
    save: Callable[[Group], None],
    progress: Progress,
) -> None:
    """Consume a stream of ``count`` prompts' outputs, handing ``save`` a group every ``SAVE_EVERY`` outputs or ``SAVE_SECONDS``.

    The progress bar advances by one per output. Whatever way the stream stops (its end, an
    exception of the model, a bad index), the valid outputs not yet saved are saved before it
    returns or raises: a killed run loses only the outputs since the last save.

    Raises:
        PluginError: the ``generator`` yielded an index out of range or twice, or ended before every index came.
    """
    seen: set[int] = set()
    group: Group = []
    last = time.monotonic()
    stream = iter(outputs)
    try:
        for index, generation in stream:
            _check(index, count, seen, generator)
            seen.add(index)
            group.append((index, generation))
            progress.advance(1)
            if len(group) >= SAVE_EVERY or time.monotonic() - last >= SAVE_SECONDS:
                group, full = [], group  # emptied first: a save that raises is not tried again below
                save(full)
                last = time.monotonic()
        if len(seen) < count:
            missing = [i for i in range(count) if i not in seen]
            shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
            raise PluginError(
                f"generator {generator!r}: stream ended after {len(seen)} of {count} outputs"
                f" (never yielded: {shown}; see docs/plugins.md)"
            )
    finally:
        try:
            if group:
                save(group)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # a generator-based stream stopped early releases what it holds now


def _check(index: object, count: int, seen: set[int], generator: str) -> None:
    """Refuse an index that is not one of the ``count`` prompts', or one already yielded."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
        raise PluginError(
            f"generator {generator!r}: stream yielded index {index!r}, not one of its {count} prompts"
            f" (0 to {count - 1}; see docs/plugins.md)"
        )
    if index in seen:
        raise PluginError(f"generator {generator!r}: stream yielded index {index} twice (see docs/plugins.md)")

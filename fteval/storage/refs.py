"""Run references as users type them: ids, unique id prefixes, tags, and ``latest`` / ``latest~K``.

``latest~K`` is the K-th newest *complete* run of one series (one spec and one target), so
``latest`` and ``latest~1`` are "this run and the one before it" of the same experiment. Which
series: the one given by ``--spec``/``--target``; else, beside a concrete run (id, prefix or tag),
that run's spec and target; else the series of the newest complete run in the store.
"""

from __future__ import annotations

import re

from fteval.errors import StoreError, UsageError
from fteval.storage.records import RunRecord
from fteval.storage.store import Store

__all__ = ["TAG_NAME", "check_tag_name", "is_latest", "resolve_pair", "resolve_run"]

_LATEST = re.compile(r"^latest(?:~(\d+))?$")
TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")

Series = tuple[str | None, str | None]


def is_latest(ref: str) -> bool:
    """Whether ``ref`` is ``latest`` or ``latest~K``."""
    return _LATEST.match(ref) is not None


def check_tag_name(name: str) -> None:
    """Reject tag names that could not be told apart from other references.

    Raises:
        UsageError: the name is ``latest``-like or has characters outside ``[A-Za-z0-9_.+-]``.
    """
    if not TAG_NAME.match(name) or name.startswith("latest"):
        raise UsageError(f"invalid tag name {name!r}: use letters, digits and _ . + - (not starting with 'latest')")


def _newest_series(store: Store, series: Series) -> tuple[str, str]:
    spec, target = series
    for run in store.list_runs(spec):
        if run.status == "complete" and target in (None, run.target):
            return run.spec_name, run.target
    where = " of ".join(filter(None, [f"target {target!r}" if target else None, f"spec {spec!r}" if spec else None]))
    newest = next((r for r in store.list_runs(spec) if target in (None, r.target)), None)
    hint = f"; the newest run, {newest.id}, is {newest.status}: name it by its id" if newest is not None else ""
    raise UsageError(f"no complete run{' ' + where if where else ''} in {store.path}{hint}")


def resolve_run(store: Store, ref: str, series: Series = (None, None)) -> RunRecord:
    """The run ``ref`` names; ``latest~K`` counts back in ``series`` (filled from the newest run if partial).

    Raises:
        UsageError: no such run or tag, an ambiguous prefix, or not that many runs in the series.
    """
    match = _LATEST.match(ref)
    if match is None:
        try:
            return store.get_run(ref)
        except StoreError as exc:
            raise UsageError(f"{exc} (not a run id, unique id prefix or tag)") from exc
    spec, target = (
        (series[0], series[1]) if series[0] is not None and series[1] is not None else _newest_series(store, series)
    )
    back = int(match[1] or 0)
    runs = store.series(spec, target)
    if back >= len(runs):
        have = f"only {len(runs)} complete run{'s' if len(runs) != 1 else ''}"
        raise UsageError(f"{ref!r}: spec {spec!r} target {target!r} has {have} in {store.path}")
    return runs[back]


def resolve_pair(store: Store, ref_a: str, ref_b: str, series: Series = (None, None)) -> tuple[RunRecord, RunRecord]:
    """Resolve the two runs of a comparison; a ``latest`` form borrows the series of the other, concrete run."""
    concrete = {ref: resolve_run(store, ref) for ref in (ref_a, ref_b) if not is_latest(ref)}
    if concrete and series == (None, None):
        anchor = next(iter(concrete.values()))
        series = (anchor.spec_name, anchor.target)
    elif None in series and not concrete:
        series = _newest_series(store, series)
    elif None in series:
        anchor = next(iter(concrete.values()))
        series = (series[0] or anchor.spec_name, series[1] or anchor.target)
    runs = [concrete[ref] if ref in concrete else resolve_run(store, ref, series) for ref in (ref_a, ref_b)]
    return runs[0], runs[1]

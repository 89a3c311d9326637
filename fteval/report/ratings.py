"""The report's human-ratings section as neutral blocks (a title, a table, notes) for both renderers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fteval.analysis.comparetable import p_clause
from fteval.ratings.summary import Agreement, SheetSummary

__all__ = ["RATINGS_HEADER", "RatingBlock", "rating_blocks"]

RATINGS_HEADER = ("run", "mean rating [95% CI]", "outputs rated", "ratings")


@dataclass(frozen=True)
class RatingBlock:
    """One rating sheet as the report shows it."""

    title: str
    rows: list[list[str]]
    notes: list[str]


def _alpha(what: str, a: Agreement, among: str) -> str:
    """A sentence on an agreement; ``among`` says which outputs count, ``{n}`` is the number of coders."""
    if a.alpha is None:
        return f"{what}: n/a ({a.note})."
    ci = f" [{a.ci_low:.2f}, {a.ci_high:.2f}]" if a.ci_low is not None and a.ci_high is not None else ""
    where = among.format(n=a.raters)
    return f"{what}: Krippendorff's alpha ({a.level}) {a.alpha:.2f}{ci} on {a.units} outputs {where} (1 = perfect, 0 = chance)."


def rating_blocks(summaries: list[SheetSummary], name_of: Callable[[str], str]) -> list[RatingBlock]:
    """A block per rated sheet: each run's mean rating, inter-rater agreement and the paired difference."""
    blocks = []
    for s in summaries:
        sheet = s.sheet
        scale = f"{sheet.scale_min}-{sheet.scale_max}"
        title = (
            f"Sheet {sheet.id}: scale {scale}, {len(sheet.items)} items, {len(s.raters)} rater(s) "
            f"({', '.join(s.raters)}), seed {sheet.seed}"
        )
        rows = [
            [
                name_of(r.run_id),
                f"{r.score.value:.2f} [{r.score.ci_low:.2f}, {r.score.ci_high:.2f}]" if r.score.n else "n/a",
                str(r.score.n),
                str(r.n_ratings),
            ]
            for r in s.runs
        ]
        a = s.agreement
        notes = [
            "An output's rating is the mean over its raters; CIs are bootstrap (or Wilson) over outputs.",
            _alpha("Inter-rater agreement", a, "rated by two or more of the {n} raters"),
        ]
        notes += [
            _alpha(f"Judge ({j.metric}) against the raters", j.agreement, "rated by the judge and a rater ({n} coders)")
            for j in s.judges
        ]
        if s.paired is not None:
            p = s.paired
            notes.append(
                f"{name_of(p.b)} minus {name_of(p.a)} on the {p.n} examples rated for both: "
                f"{p.difference:+.2f} [{p.ci_low:+.2f}, {p.ci_high:+.2f}] (paired bootstrap, {p_clause(p.p_value)}); "
                f"rated higher on {p.b_better}, equal on {p.ties}, lower on {p.a_better}."
            )
        blocks.append(RatingBlock(title, rows, notes))
    return blocks

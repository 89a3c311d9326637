"""SQL breakdowns for ``fteval show`` and reports: accuracy by feature of the gold query, outcomes by error kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from fteval.plugin import Breakdown, Outcome, Score

FEATURES = (
    "JOIN",
    "GROUP BY",
    "ORDER BY",
    "aggregate",
    "nested query",
    "set operation",
    "1 table",
    "2 tables",
    "3+ tables",
)
KINDS = ("correct", "parse failure", "not executable", "wrong result", "gold failed")
#: Scores to judge an example by, best first: the first one the run has is used.
JUDGES = ("execution_accuracy", "normalized_match", "exact_match")


def query_features(sql: str) -> tuple[str, ...]:
    """The features of a query (see ``FEATURES``); ``("unreadable",)`` when sqlglot cannot parse it.

    Args:
        sql: A SQLite query.

    Returns:
        Feature names in ``FEATURES`` order, ending with the number of distinct tables it reads.
    """
    import sqlglot  # only breakdowns (show, report) need it; keeps `fteval validate` light
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except (sqlglot.errors.SqlglotError, RecursionError, ValueError):
        return ("unreadable",)
    if tree is None:
        return ("unreadable",)
    found = []
    if tree.find(exp.Join) is not None:
        found.append("JOIN")
    if tree.find(exp.Group) is not None:
        found.append("GROUP BY")
    if tree.find(exp.Order) is not None:
        found.append("ORDER BY")
    if tree.find(exp.AggFunc) is not None:
        found.append("aggregate")
    if any(s.find_ancestor(exp.Select) is not None for s in tree.find_all(exp.Select)):
        found.append("nested query")  # a SELECT inside another (a subquery), not the arms of a UNION
    if tree.find(exp.SetOperation) is not None:
        found.append("set operation")
    tables = len({t.name.lower() for t in tree.find_all(exp.Table)})
    found.append("1 table" if tables <= 1 else "2 tables" if tables == 2 else "3+ tables")
    return tuple(found)


def error_kind(outcome: Outcome, judge: str | None) -> str:
    """Why an example is wrong (or ``correct``): parse failure, not executable, wrong result, gold failed."""
    if not outcome.pred.ok:
        return "parse failure"
    score = outcome.scores.get(judge) if judge else None
    if score is not None and score.value >= 1:
        return "correct"
    valid = outcome.scores.get("valid_sql_rate")
    detail = (score.detail if score is not None else None) or ""
    if detail.startswith(("gold query failed", "gold not parsed", "schema:")):
        return "gold failed"
    if valid is not None and valid.value < 1:
        return "not executable"
    if judge == "execution_accuracy" and detail and "result mismatch" not in detail:
        return "not executable"  # an error, a timeout or a row limit while running the prediction
    return "wrong result"


def sql_breakdowns(outcomes: Sequence[Outcome]) -> list[Breakdown]:
    """Accuracy by gold-query feature and the share of each error kind.

    Args:
        outcomes: The run's evaluated examples.

    Returns:
        Two breakdowns; they filter the example browser by SQL feature and by error kind.
    """
    judge = next((m for m in JUDGES if any(m in o.scores for o in outcomes)), None)
    features: dict[int, tuple[str, ...]] = {}
    kinds: dict[int, tuple[str, ...]] = {}
    n: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for o in outcomes:
        features[o.index] = query_features(o.gold)
        kinds[o.index] = (error_kind(o, judge),)
        score = o.scores.get(judge, Score(0.0)) if judge else Score(0.0)
        for feature in features[o.index]:
            n[feature] += 1
            right[feature] += score.value >= 1
    order = [f for f in (*FEATURES, "unreadable") if n[f]]
    kind_n = Counter(k for (k,) in kinds.values())
    total = len(outcomes) or 1
    label = judge or "accuracy"
    return [
        Breakdown(
            title="Accuracy by query feature",
            columns=("feature of the gold query", "n", label),
            rows=tuple((f, n[f], right[f] / n[f]) for f in order),
            plot="bars",
            plot_columns=(label,),
            facet="SQL feature",
            groups=features,
            note=f"an example counts under every feature its gold query has; judged by {label}",
        ),
        Breakdown(
            title="Outcomes by error kind",
            columns=("outcome", "n", "share"),
            rows=tuple((k, kind_n[k], kind_n[k] / total) for k in KINDS if kind_n[k]),
            plot="bars",
            plot_columns=("share",),
            facet="error kind",
            groups=kinds,
            note="not executable: SQLite rejects or cannot finish the query; wrong result: it runs but returns other rows",
        ),
    ]

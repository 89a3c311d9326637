"""Terminal tables of runs: metrics with confidence intervals, cost and latency, provenance."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fteval.analysis.stepsummary import step_table
from fteval.running.costs import known_prices, price_line
from fteval.storage.records import AggregateRecord, RunRecord
from fteval.storage.store import Store


def metric_order(run: RunRecord, aggregates: list[AggregateRecord] | None = None) -> list[str]:
    """A run's metric names in the spec's order (``metrics:``), else sorted stored aggregate names."""
    listed = run.spec.get("metrics") if isinstance(run.spec, dict) else None
    names = [m if isinstance(m, str) else m.get("name") for m in listed or [] if isinstance(m, str | dict)]
    if names:
        return [n for n in names if n]
    return sorted(a.metric for a in aggregates or [])


def model_name(run: RunRecord) -> str:
    """What a run evaluated, briefly: the target's ``model.id`` (or trainer) and a short identity."""
    target = run.config.get("target_config") or {}
    model = target.get("model") if isinstance(target, dict) else None
    name = str(model.get("id")) if isinstance(model, dict) and model.get("id") else run.trainer
    if isinstance(target, dict) and not target.get("evaluator_only", False):
        name += " (trained)"
    identity = run.model_identity or ""
    short = identity.split(":", 1)[-1].rsplit("@", 1)[-1][:12]
    return f"{name} @{short}" if short else name


def model_line(run: RunRecord) -> str:
    """Where the evaluated model is and what identifies it (location, identity of the named model, fingerprint)."""
    parts = [f"model {run.model_location or '-'}"]
    if run.model_identity:
        parts.append(f"identity {run.model_identity}")
    parts.append(f"fingerprint {run.model_fingerprint}")
    return "  ".join(parts)


def run_table(store: Store, run: RunRecord) -> Table:
    """Metrics of one run with 95% CIs, n, and the per-question cost and latency."""
    label = " (baseline)" if run.is_baseline else ""
    names = ", ".join(dict.fromkeys(n for n in (run.label, *run.tags) if n))
    named = f"  {names}" if names else ""
    # escaped: "[complete]" would otherwise be read as a markup tag and vanish
    table = Table(title=escape(f"{run.id}{label}{named}  [{run.status}]"), title_justify="left")
    for col in ("metric", "value", "95% CI", "n", "CI method"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for agg in store.aggregates(run.id):
        table.add_row(agg.metric, f"{agg.value:.3f}", f"[{agg.ci_low:.3f}, {agg.ci_high:.3f}]", str(agg.n), agg.method)
    totals = store.run_totals(run.id)
    if totals.n:
        table.add_row("latency / question (s)", f"{totals.mean_latency_s or 0:.4f}", "", str(totals.n), "mean")
        if totals.mean_queue_s is not None:
            # The request's own latency above; this is the wait before it (concurrency gate, retries).
            table.add_row("client queue wait / question (s)", f"{totals.mean_queue_s:.4f}", "", str(totals.n), "mean")
        latencies = sorted(e.latency_s for e in store.examples(run.id) if e.latency_s is not None)
        if latencies:
            p50, p95 = (latencies[min(len(latencies) - 1, int(q * len(latencies)))] for q in (0.5, 0.95))
            table.add_row("latency p50 / p95 (s)", f"{p50:.4f} / {p95:.4f}", "", str(len(latencies)), "percentile")
        if run.prices is not None and totals.unknown_cost:
            # Priced per token, yet some question has no price or no token counts: the mean is unknown, not $0.
            why = "no price" if not known_prices(run.prices) else f"{totals.unknown_cost} without token counts"
            table.add_row("cost / question (USD)", f"unknown ({why})", "", str(totals.n), "mean")
        elif totals.cost_usd is not None:
            table.add_row("cost / question (USD)", f"{totals.cost_usd / totals.n:.6f}", "", str(totals.n), "mean")
    return table


def job_lines(store: Store, run: RunRecord) -> list[str]:
    """Training-job facts behind a run: trainer, stats and cost."""
    job = store.job_by_id(run.job_id) if run.job_id else None
    if job is None:
        return []
    facts = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(job.stats.items()))
    external = f", external id {job.external_id}" if job.external_id else ""
    return [f"training job {job.id} ({job.trainer}, {job.status}{external}): {facts}"]


def version_line(run: RunRecord) -> str:
    """Python, fteval and the plugin packages (with the libraries they declare) that produced a run."""
    parts = [f"python={run.versions.get('python')}", f"fteval={run.versions.get('fteval')}"]
    seen: dict[str, str] = {}
    for info in (run.versions.get("plugins") or {}).values():
        seen[str(info.get("package"))] = str(info.get("version"))
        seen.update({str(k): str(v) for k, v in (info.get("libraries") or {}).items()})
    parts += [f"{k}={v}" for k, v in sorted(seen.items()) if k != "fteval"]
    return " ".join(parts)


def print_run(console: Console, store: Store, run: RunRecord) -> None:
    """Print a run's metric table and provenance."""
    console.print(run_table(store, run))
    steps = step_table(store, run)
    if steps is not None:
        console.print(steps)
    for line in job_lines(store, run):
        console.print(line)
    if run.skipped_rows:
        console.print(f"[yellow]{run.skipped_rows} bad eval rows were skipped (on_bad_row: skip)[/yellow]")
    console.print(model_line(run), soft_wrap=True)
    if run.prices is not None:
        console.print(escape(price_line(run.prices)), soft_wrap=True)
    console.print(
        f"spec {run.spec_name} sha256:{run.spec_hash[:12]}  seed {run.seed}  {version_line(run)}", soft_wrap=True
    )

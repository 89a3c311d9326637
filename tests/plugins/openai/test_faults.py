"""Generation under injected faults: every example is scored exactly once and results match a clean run."""

from __future__ import annotations

from pathlib import Path

from fteval_openai.server.launch import Served
from fteval_testutil import fteval_cli
from openai_helpers import write_spec

from fteval.storage.store import Store


def _outputs(store: Path) -> dict[int, tuple[str, dict]]:
    (run,) = Store(store).list_runs()
    assert run.status == "complete"
    examples = Store(store).examples(run.id)
    assert sorted(e.idx for e in examples) == list(range(100))  # each example stored once
    return {e.idx: (e.output, {name: s.value for name, s in e.scores.items()}) for e in examples}


def test_thirty_percent_429_500_with_random_latency_changes_nothing(tmp_path: Path, api_key: str) -> None:
    results = []
    for name, faults in [
        ("clean", ()),
        ("faulty", ("--fail-rate", "0.3", "--latency-jitter-ms", "40", "--fault-seed", "7")),
    ]:
        store = tmp_path / name / "runs.db"
        with Served(tmp_path / f"state-{name}", *faults, key=api_key) as server:
            spec = write_spec(tmp_path / f"{name}.yaml", server.url, eval_rows=100)
            out = fteval_cli("eval", str(spec), "--target", "zero", store=store, timeout=600)
            assert out.returncode == 0, out.stderr
            stats = server.stats()
        # no example was generated twice (the one more is the probe that identifies the served model)
        assert stats["served"]["chat_completions"] == 100 + 1
        if faults:
            assert stats["faults"]["injected_429"] > 5 and stats["faults"]["injected_500"] > 5
        results.append(_outputs(store))
    assert results[0] == results[1]


def test_a_failure_past_the_retry_budget_is_clear(tmp_path: Path, api_key: str) -> None:
    with Served(tmp_path / "state", "--fail-rate", "1.0", key=api_key) as server:
        spec = write_spec(tmp_path / "spec.yaml", server.url, eval_rows=3)
        text = spec.read_text().replace('"backoff_s": 0.05', '"backoff_s": 0.01, "max_retries": 2')
        spec.write_text(text)
        out = fteval_cli("eval", str(spec), "--target", "zero", store=tmp_path / "runs.db", timeout=300)
        stats = server.stats()
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "after up to 2 retries" in out.stderr and ("HTTP 429" in out.stderr or "HTTP 500" in out.stderr)
    # the first prompt to exhaust its budget made 3 tries; the others are cancelled with the run
    assert 3 <= sum(stats["faults"].values()) <= 3 * 3

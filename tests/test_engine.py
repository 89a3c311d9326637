"""End-to-end runs through the engine and the store, with the lookup baseline as a real model."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fteval_testutil import EXTERNAL_PLUGIN, FTEVAL, ROOT, SPECS, delayed_spec, fteval_run, stored_examples, wait_until

from fteval.running.engine import Engine
from fteval.spec.loader import load_spec
from fteval.storage.store import Store


def _engine(spec: Path, tmp_path: Path) -> Engine:
    store = Store(tmp_path / "runs.db")
    return Engine(load_spec(spec), store, tmp_path)


@pytest.mark.fast
def test_yesno_lookup_end_to_end_records_everything(tmp_path: Path) -> None:
    engine = _engine(SPECS / "yesno.yaml", tmp_path)
    run_id = engine.run("lookup")
    run = engine.store.get_run(run_id)
    assert run.status == "complete" and run.is_baseline == 1
    plugins = run.versions["plugins"]
    assert set(plugins) == {
        "trainer.lookup",
        "generator.lookup",
        "parser.choice",
        "metric.accuracy",
        "metric.format_rate",
        "metric.macro_f1",
    }
    assert (
        plugins["parser.choice"]["package"] == "fteval"
        and plugins["parser.choice"]["version"] == run.versions["fteval"]
    )
    examples = engine.store.examples(run_id)
    assert len(examples) == run.n_examples == 20
    aggregates = {a.metric: a for a in engine.store.aggregates(run_id)}
    assert set(aggregates) == {"accuracy", "format_rate", "macro_f1"}
    acc = aggregates["accuracy"]
    expected = sum(e.output == e.gold for e in examples) / len(examples)
    assert acc.value == expected and acc.ci_low <= expected <= acc.ci_high and acc.n == 20
    # the lookup model memorised nothing of the test questions: it answers the majority label
    assert {e.output for e in examples} <= {"yes", "no"}
    assert engine.model_calls == 20


@pytest.mark.fast
def test_identical_rerun_makes_zero_model_calls(tmp_path: Path) -> None:
    first = _engine(SPECS / "yesno.yaml", tmp_path)
    run_a = first.run("lookup")
    again = _engine(SPECS / "yesno.yaml", tmp_path)
    assert again.run("lookup") == run_a and again.model_calls == 0
    fresh = _engine(SPECS / "yesno.yaml", tmp_path)
    run_b = fresh.run("lookup", rerun=True)
    assert run_b != run_a and fresh.model_calls == 0
    rows = fresh.store.examples(run_b)
    assert all(r.cached == 1 for r in rows)
    assert [r.output for r in rows] == [r.output for r in fresh.store.examples(run_a)]


@pytest.mark.fast
def test_changed_generation_settings_make_a_new_run(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"extends: {SPECS / 'yesno.yaml'}\ngeneration: {{max_new_tokens: 8}}\n")
    run_a = _engine(SPECS / "yesno.yaml", tmp_path).run("lookup")
    changed = _engine(spec, tmp_path)
    assert changed.run("lookup") != run_a and changed.model_calls == 20


@pytest.mark.fast
def test_training_job_is_reused(tmp_path: Path) -> None:
    engine = _engine(SPECS / "yesno.yaml", tmp_path)
    job_a, handle_a = engine.train("lookup")
    job_b, handle_b = _engine(SPECS / "yesno.yaml", tmp_path).train("lookup")
    assert (job_a, handle_a) == (job_b, handle_b)


@pytest.mark.fast
def test_api_keys_never_reach_the_store(tmp_path: Path) -> None:
    """A real run with secrets in a target's sections: no byte of the store or the output holds them."""
    key, password = "sk-proj-SECRETsecret0123456789", "hunter2-url-password"
    spec = tmp_path / "secret.yaml"
    text = (EXTERNAL_PLUGIN / "delayed.yaml").read_text().replace("../../../specs", str(SPECS))
    text = text.replace(
        "model: {delay_s: 0.0}",
        f"model: {{delay_s: 0.0, api_key: {key}, endpoint: 'https://me:{password}@example.invalid/v1'}}",
    )
    spec.write_text(text)
    store = tmp_path / "store" / "runs.db"
    ran = fteval_run("run", str(spec), store=store, extra_path=EXTERNAL_PLUGIN)
    shown = fteval_run("show", "latest", store=store)
    assert ran.returncode == 0 and shown.returncode == 0, ran.stderr + shown.stderr
    with sqlite3.connect(store) as con:  # the values were stored, redacted
        spec_json, config_json = con.execute("SELECT spec_json, config_json FROM runs").fetchone()
        (job_config,) = con.execute("SELECT config_json FROM jobs").fetchone()
    assert "<redacted>" in spec_json and "<redacted>" in config_json and "<redacted>" in job_config
    everything = ran.stdout + ran.stderr + shown.stdout + shown.stderr
    everything += "".join(p.read_bytes().decode("latin-1") for p in store.parent.rglob("*") if p.is_file())
    assert key not in everything and password not in everything
    assert "me:<redacted>@example.invalid" in spec_json


def test_sigkill_mid_eval_then_resume_loses_and_repeats_nothing(tmp_path: Path, external_plugin_path: Path) -> None:
    spec, db, rows = delayed_spec(tmp_path, 120, 0.02), tmp_path / "runs.db", 120
    env_cmd = [*FTEVAL, "--store", str(db), "run", str(spec)]
    import os

    # Keep the caller's PYTHONPATH: the tree under test may not be the installed one.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(EXTERNAL_PLUGIN), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(env_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wait_until(lambda: stored_examples(db) >= 24, what="24 stored examples")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = stored_examples(db)
    assert 0 < before < rows, "the kill must land mid-evaluation"
    done = fteval_run("run", str(spec), store=db, extra_path=EXTERNAL_PLUGIN)
    assert done.returncode == 0, done.stderr
    assert f"model calls this invocation: {rows - before}" in done.stdout
    with sqlite3.connect(db) as con:
        (status,) = con.execute("SELECT status FROM runs").fetchone()
        idx = [r[0] for r in con.execute("SELECT idx FROM examples ORDER BY idx")]
        per_metric = con.execute("SELECT metric, COUNT(*) FROM scores GROUP BY metric").fetchall()
        n_runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert status == "complete" and n_runs == 1
    assert idx == list(range(rows))
    assert dict(per_metric) == {"exact_match": rows, "char_exact": rows}
    with sqlite3.connect(db) as con:
        resumed = [r[0] for r in con.execute("SELECT output FROM examples ORDER BY idx")]
    # an uninterrupted run gives the same outputs
    (tmp_path / "clean").mkdir()
    clean = _engine(delayed_spec(tmp_path / "clean", rows, 0.0), tmp_path / "clean")
    assert [r.output for r in clean.store.examples(clean.run("slow"))] == resumed


@pytest.mark.fast
def test_parser_bug_becomes_a_parse_failure(tmp_path: Path) -> None:
    from fteval.plugin import Parser
    from fteval.running.engine import _safe_parse

    class Broken(Parser):
        def parse(self, text: str):
            raise RuntimeError("boom")

    parsed = _safe_parse(Broken(), "x")
    assert not parsed.ok and "RuntimeError: boom" in parsed.error

"""Reading runs from the CLI (runs, show) and the run lifecycle (--model, Ctrl-C, dead processes, CI progress)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from fteval_testutil import (
    EXTERNAL_PLUGIN,
    FTEVAL,
    ROOT,
    SCRIPT_PLUGIN,
    SPECS,
    delayed_spec,
    fteval_run,
    stored_examples,
    wait_until,
)

LONG = "a-rather-long-spec-name-that-a-narrow-table-would-cut"


def _long_spec(tmp_path: Path) -> Path:
    spec = tmp_path / "long.yaml"
    spec.write_text(f"extends: {SPECS / 'yesno.yaml'}\nname: {LONG}\nmetrics: [format_rate, accuracy]\n")
    return spec


def _runs_json(store: Path, *args: str) -> list[dict]:
    out = fteval_run("runs", "--json", *args, store=store)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.fast
def test_runs_lists_first_metrics_per_spec_filters_and_json(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    assert fteval_run("run", str(SPECS / "yesno.yaml"), store=store).returncode == 0
    assert fteval_run("run", str(_long_spec(tmp_path)), store=store).returncode == 0
    listed = fteval_run("runs", store=store)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    # one table per spec, its metrics as columns in the spec's order
    long_header = next(line for line in lines if "format_rate" in line and "accuracy" in line and "target" in line)
    assert long_header.index("format_rate") < long_header.index("accuracy")
    runs = _runs_json(store)
    assert {r["spec"] for r in runs} == {"yesno", LONG}
    long_run = next(r for r in runs if r["spec"] == LONG)
    assert list(long_run["metrics"]) == ["format_rate", "accuracy"] and long_run["status"] == "complete"
    # output to a pipe: full ids, never cut
    assert long_run["id"].startswith(LONG) and any(long_run["id"] in line for line in lines)
    value = f"{long_run['metrics']['accuracy']['value']:.3f}"
    assert any(long_run["id"] in line and value in line for line in lines)
    assert [r["spec"] for r in _runs_json(store, "--spec", "yesno")] == ["yesno"]
    assert _runs_json(store, "--target", "nope") == []


@pytest.mark.fast
def test_show_json_wrong_and_failures(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    spec = tmp_path / "first.yaml"
    # eval = memorised train rows (answered 'yes' or 'no') + unseen ones (answered 'yes', the majority);
    # a choice parser that knows only 'yes': 'no' outputs fail to parse, 'yes' for a 'no' question is wrong
    train = (SPECS / "data/yesno/train.csv").read_text().splitlines()
    test = (SPECS / "data/yesno/test.csv").read_text().splitlines()
    (tmp_path / "eval.csv").write_text("\n".join(train[:11] + test[1:]) + "\n")
    spec.write_text(
        f"extends: {SPECS / 'yesno.yaml'}\nname: strict\ndataset: {{eval: {{path: eval.csv}}}}\n"
        "parser: {name: choice, labels: ['yes']}\nmetrics: [exact_match, format_rate]\n"
    )
    assert fteval_run("run", str(spec), store=store).returncode == 0
    full = json.loads(fteval_run("show", "latest", "--json", store=store).stdout)
    assert full["run"]["spec_name"] == "strict" and full["metric_order"] == ["exact_match", "format_rate"]
    examples = full["examples"]
    assert len(examples) == full["run"]["n_examples"] == 30  # --json: every example unless -n
    wrong = json.loads(fteval_run("show", "latest", "--json", "--wrong", store=store).stdout)["examples"]
    failures = json.loads(fteval_run("show", "latest", "--json", "--failures", store=store).stdout)["examples"]
    assert wrong == [e for e in examples if e["parse_ok"] and e["scores"]["exact_match"]["value"] < 1]
    assert failures == [e for e in examples if not e["parse_ok"]]
    assert wrong and failures
    text = fteval_run("show", "latest", "--failures", "-n", "1", store=store).stdout
    assert text.count("parse failure:") == min(1, len(failures)) and "fingerprint lookup-" in text


@pytest.mark.fast
def test_model_override_needs_one_target_and_a_model_id_key(tmp_path: Path) -> None:
    store = tmp_path / "r.db"
    no_target = fteval_run("run", str(SPECS / "yesno.yaml"), "--model", "./x", store=store)
    assert no_target.returncode == 2 and "exactly one target" in no_target.stderr
    wrong_kind = fteval_run("run", str(SPECS / "yesno.yaml"), "-t", "lookup", "--model", "./x", store=store)
    assert wrong_kind.returncode == 2 and "unknown key" not in wrong_kind.stderr
    assert wrong_kind.stderr.strip() == (
        "--model: target 'lookup' (trainer 'lookup') cannot evaluate a model named by id;"
        " targets of yesno.yaml that can: none"
    )


def _start_and_stop(tmp_path: Path, sig: signal.Signals) -> tuple[subprocess.Popen, Path, Path, int]:
    spec, db, rows = delayed_spec(tmp_path, 80, 0.02), tmp_path / "runs.db", 80
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(EXTERNAL_PLUGIN), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [*FTEVAL, "--store", str(db), "run", str(spec)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        # a shell starts background jobs with SIGINT ignored, and Python then installs no Ctrl-C handler:
        # give the child the default, as a terminal's foreground process has
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_until(lambda: stored_examples(db) >= 8, what="8 stored examples")
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc, spec, db, rows


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGINT, 130, "interrupted:"), (signal.SIGTERM, 143, "stopped by SIGTERM:")],
)
def test_ctrl_c_or_sigterm_marks_the_run_interrupted_and_says_how_to_resume(
    tmp_path: Path, sig: signal.Signals, code: int, said: str
) -> None:
    proc, spec, db, rows = _start_and_stop(tmp_path, sig)
    stderr = proc.stderr.read()
    assert proc.returncode == code, stderr
    assert said in stderr
    assert "run the same command to resume" in stderr and f"run {spec}" in stderr and "Traceback" not in stderr
    (run,) = _runs_json(db)
    before = stored_examples(db)
    assert run["status"] == "interrupted" and 0 < before < rows
    with sqlite3.connect(db) as con:  # stored as such, not only inferred from a dead process
        assert con.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    done = fteval_run("run", str(spec), store=db, extra_path=EXTERNAL_PLUGIN)
    assert done.returncode == 0 and f"model calls this invocation: {rows - before}" in done.stdout
    assert [r["status"] for r in _runs_json(db)] == ["complete"]


def test_killed_process_is_listed_as_interrupted(tmp_path: Path) -> None:
    _, _, db, _ = _start_and_stop(tmp_path, signal.SIGKILL)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT status FROM runs").fetchone()[0] == "running"  # nobody could update it
    listed = _runs_json(db)
    assert [r["status"] for r in listed] == ["interrupted"]
    assert "interrupted" in fteval_run("show", listed[0]["id"], store=db).stdout
    latest = fteval_run("show", "latest", store=db)  # latest: the newest *complete* run, and there is none
    assert latest.returncode == 2 and f"the newest run, {listed[0]['id']}, is interrupted" in latest.stderr


def test_progress_lines_when_output_is_not_a_terminal(tmp_path: Path) -> None:
    spec, db = delayed_spec(tmp_path, 40, 0.03), tmp_path / "runs.db"
    env = {"FTEVAL_PROGRESS_SECONDS": "0.25"}
    done = fteval_run("run", str(spec), store=db, extra_path=EXTERNAL_PLUGIN, env_extra=env)
    assert done.returncode == 0, done.stderr
    counts = [int(m) for m in re.findall(r"^slow: evaluating: (\d+)/40 ", done.stderr, re.MULTILINE)]
    assert len(counts) >= 2 and counts == sorted(counts) and counts[-1] == 40, done.stderr
    assert "elapsed" in done.stderr and "\x1b[" not in done.stderr  # plain text, no terminal codes
    # a quick run prints no progress lines
    quick = fteval_run("run", str(SPECS / "yesno.yaml"), store=db, extra_path=EXTERNAL_PLUGIN, env_extra=env)
    assert quick.returncode == 0 and "evaluating:" not in quick.stderr


@pytest.mark.fast
def test_an_interrupted_run_resumes_in_process_where_it_stopped(tmp_path: Path) -> None:
    """Ctrl-C mid-evaluation (a KeyboardInterrupt from the model, in this process): exit 130, then the same command resumes."""
    rows, log, marker = 20, tmp_path / "calls.jsonl", tmp_path / "interrupted"
    (tmp_path / "rows.csv").write_text("q,a\n" + "".join(f"q{i},a{i}\n" for i in range(rows)))
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"""fteval: 1
name: resumable
dataset: {{train: {{path: rows.csv}}, eval: {{path: rows.csv}}}}
prompt: {{user: "{{{{ q }}}}", target: "{{{{ a }}}}"}}
parser: text
metrics: [exact_match]
generation: {{batch_size: 4}}
targets:
  t:
    trainer: script
    model: {{rules: [{{match: 'q(\\d+)', reply: ['a\\1']}}], log: {log}, interrupt_on: '^q13$', kill_marker: {marker}}}
"""
    )
    db = tmp_path / "runs.db"
    stopped = fteval_run("run", str(spec), store=db, extra_path=SCRIPT_PLUGIN)
    assert stopped.returncode == 130 and marker.exists(), stopped.stderr
    assert (
        "interrupted:" in stopped.stderr
        and f"run the same command to resume where it stopped:\n  fteval --store {db} run {spec}" in (stopped.stderr)
    )
    (run,) = _runs_json(db)
    before = stored_examples(db)
    assert run["status"] == "interrupted" and 0 < before < rows
    first_calls = len(log.read_text().splitlines())  # the stored rows and the batch cut short
    done = fteval_run("run", str(spec), store=db, extra_path=SCRIPT_PLUGIN)
    assert done.returncode == 0 and f"model calls this invocation: {rows - before}" in done.stdout, done.stderr
    answered = [json.loads(line)["user"] for line in log.read_text().splitlines()]
    assert len(answered) - first_calls == rows - before, "the resumed run asks only for the rows not stored"
    assert set(answered) == {f"q{i}" for i in range(rows)}
    (run,) = _runs_json(db)
    assert run["status"] == "complete" and run["metrics"]["exact_match"]["value"] == 1.0

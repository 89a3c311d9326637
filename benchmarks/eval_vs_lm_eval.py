"""Wall time and peak memory of ``fteval run`` vs lm-evaluation-harness on the same evaluation.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/eval_vs_lm_eval.py [--model-dir DIR]
     [--n 300] [--repeat 3] [--cache DIR]

Both evaluate the same model (the tiny scratch model of specs/viggo.yaml, trained here once with
that target's settings and cached, unless ``--model-dir`` names a folder saved by the hf trainer)
on the same first ``--n`` ViGGO test rows, greedy, 128 new tokens at most: fteval as an
evaluator-only target, lm-eval (``lm_eval run --model hf --batch_size 64``) with an equivalent
``generate_until`` task. lm-eval is installed once into a throw-away virtualenv under the cache
(its core deps from the package index; torch and transformers come from this interpreter's
site-packages through a .pth file, so no second torch is downloaded); when that fails the
benchmark says so and exits 0. Each tool runs once untimed (warm caches; its outputs are compared)
then ``--repeat`` times; the script prints median wall time, median peak RSS of the process tree,
and the ratios fteval / lm-eval.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import psutil
from _hf_common import ROOT, viggo_examples, viggo_rows
from ruamel.yaml import YAML

from fteval.testing import RecordingTrainContext

LM_EVAL = "lm-eval==0.4.13"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def lm_eval_venv(cache: Path) -> Path | None:
    """A venv with lm-eval that sees this interpreter's packages; None (with a message) if not."""
    venv = cache / f"venv-{LM_EVAL.replace('==', '-')}"
    exe = venv / "bin" / "lm_eval"
    if exe.exists():
        return exe
    shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = venv / "bin" / "python"
        site = subprocess.check_output(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        )
        # Appended after the venv's own site-packages: torch/transformers resolve to ours, and
        # pip counts them as installed, so it only fetches lm-eval's light core dependencies.
        Path(site.strip(), "_fteval_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", LM_EVAL]
        subprocess.run(pip, check=True, timeout=900, capture_output=True, text=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = (getattr(exc, "stderr", None) or "").strip().splitlines()[-3:]
        print(f"SKIP: cannot install {LM_EVAL} into a throw-away venv ({exc}).", *detail, sep="\n")
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return exe


def trained_model(cache: Path) -> Path:
    """The tiny model of specs/viggo.yaml's ``tiny`` target, trained once and cached."""
    from fteval_hf.trainer import HFTrainer

    target = YAML(typ="safe").load((ROOT / "specs" / "viggo.yaml").read_text())["targets"]["tiny"]
    work = cache / "viggo-tiny"
    done = work / "model-dir.txt"
    if not done.exists():
        config = HFTrainer.Config.model_validate({"model": target["model"], "train": target["train"]})
        ctx = RecordingTrainContext(viggo_examples("train", "short"), viggo_examples("valid", "short"), work)
        print(f"training the tiny ViGGO model ({target['train']}) into {work} ...", flush=True)
        done.write_text(HFTrainer(config).fit(ctx).location or "")
    return Path(done.read_text())


def write_inputs(tmp: Path, model: Path, n: int) -> tuple[Path, Path]:
    """The rows file, the fteval spec and the lm-eval task folder; returns (spec, task dir)."""
    from transformers import AutoTokenizer

    rows = tmp / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in viggo_rows("test", n)))
    spec = tmp / "spec.yaml"
    spec.write_text(
        "fteval: 1\nname: viggo-vs-lm-eval\n"
        f"dataset: {{eval: {{path: {json.dumps(str(rows))}}}}}\n"
        'prompt: {system: null, user: "{{ ref }}", target: "{{ mr }}"}\n'
        "parser: viggo\nmetrics: [exact_match]\n"
        "generation: {max_new_tokens: 128, temperature: 0}\n"
        f"targets:\n  tiny: {{trainer: hf, evaluator_only: true, model: {{id: {json.dumps(str(model))}}}}}\n"
    )
    tok = AutoTokenizer.from_pretrained(model)
    tasks = tmp / "tasks"
    tasks.mkdir()
    # fteval's hf prompt is the user text + "\n" with the tokenizer's BOS; lm-eval adds no BOS
    # for this tokenizer, so the task text carries it literally (checked below on the ids).
    task = {
        "task": "viggo_fteval",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(rows)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": tok.bos_token + "{{ref}}\n",
        "doc_to_target": "{{mr}}",
        "generation_kwargs": {"until": [tok.eos_token], "do_sample": False, "max_gen_toks": 128},
        "metric_list": [{"metric": "exact_match"}],
    }
    (tasks / "viggo_fteval.yaml").write_text(json.dumps(task, indent=1))  # JSON is YAML
    from fteval_hf.formatting import encode_prompt

    ex = viggo_examples("test", "short", 1)[0]
    ours = encode_prompt(tok, ex.prompt)
    theirs = tok(tok.bos_token + ex.row["ref"] + "\n", add_special_tokens=False)["input_ids"]
    assert list(theirs) == ours, f"prompt ids differ: {theirs} vs {ours}"
    return spec, tasks


def measure(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, summed over the process tree) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    if proc.returncode:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{out[-3000:]}")
    return wall, peak / 2**20


def fteval_outputs(store: Path) -> list[str]:
    """The outputs of the single run in ``store``, by row index."""
    with sqlite3.connect(store) as db:
        return [r[0] for r in db.execute("SELECT output FROM examples ORDER BY idx")]


def lm_eval_outputs(out: Path) -> list[str]:
    """The generations of lm-eval's logged samples, by doc id."""
    (samples,) = out.rglob("samples_viggo_fteval_*.jsonl")
    docs = [json.loads(line) for line in samples.read_text().splitlines()]
    return [d["filtered_resps"][0] for d in sorted(docs, key=lambda d: d["doc_id"])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, help="a model folder saved by the hf trainer")
    ap.add_argument("--n", type=int, default=300, help="ViGGO test rows")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each tool")
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fteval-bench"
    ap.add_argument("--cache", type=Path, default=default_cache, help="venv and model cache")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    lm_eval = lm_eval_venv(args.cache)
    if lm_eval is None:
        return
    model = args.model_dir or trained_model(args.cache)
    env = {**os.environ, **OFFLINE}
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        spec, tasks = write_inputs(tmp, model, args.n)

        def fteval(i: int) -> tuple[float, float]:
            store = tmp / f"store-{i}" / "runs.db"  # a fresh store: no response-cache hits
            cmd = [sys.executable, "-m", "fteval", "--store", str(store), "run", str(spec)]
            return measure(cmd, env, tmp)

        def lm(i: int) -> tuple[float, float]:
            cmd = [str(lm_eval), "run", "--model", "hf", "--model_args", f"pretrained={model}"]
            cmd += ["--tasks", "viggo_fteval", "--include_path", str(tasks), "--device", "cpu"]
            cmd += ["--batch_size", "64", "--log_samples", "--output_path", str(tmp / f"lm-{i}")]
            return measure(cmd, env, tmp)

        fteval(0), lm(0)  # warm-up: compiles bytecode, fills lm-eval's dataset cache
        ours, theirs = fteval_outputs(tmp / "store-0" / "runs.db"), lm_eval_outputs(tmp / "lm-0")
        results = {"fteval": [fteval(i) for i in range(1, args.repeat + 1)]}
        results["lm-eval"] = [lm(i) for i in range(1, args.repeat + 1)]
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    stripped = sum(a.strip() == b.strip() for a, b in zip(ours, theirs, strict=True))
    print(f"model {model}; {args.n} ViGGO test rows, greedy, max_new_tokens 128; {LM_EVAL}")
    print(f"identical outputs: {same}/{len(ours)} (after strip: {stripped}/{len(ours)})")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v)) for k, v in results.items()}
    for name, (wall, mem) in med.items():
        runs = ", ".join(f"{w:.1f}" for w, _ in results[name])
        print(f"{name:8s} median wall {wall:6.1f} s  peak RSS {mem:6.0f} MiB  (runs: {runs} s)")
    (fw, fm), (lw, lm_) = med["fteval"], med["lm-eval"]
    print(f"ratio fteval / lm-eval: wall {fw / lw:.2f}x  memory {fm / lm_:.2f}x")


if __name__ == "__main__":
    main()

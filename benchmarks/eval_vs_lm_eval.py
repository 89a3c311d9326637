"""Wall time and peak memory of ``fteval run`` vs lm-evaluation-harness on the same evaluation.

Run: PYTHONPATH=.:plugins .venv/bin/python benchmarks/eval_vs_lm_eval.py [--rows 1083] [--repeat 3]
     [--model-dir DIR] [--cache DIR] [--decode-only]

Both evaluate the same model (the tiny scratch model of specs/viggo.yaml, trained here once with
that target's settings and cached, unless ``--model-dir`` names a folder saved by the hf trainer)
on the same first ``--rows`` ViGGO test rows (default: all 1,083), greedy, 128 new tokens at most: fteval as an
evaluator-only target, lm-eval (``lm_eval run --model hf --batch_size 64``) with an equivalent
``generate_until`` task. lm-eval is installed once into a throw-away virtualenv under the cache
(its core deps from the package index; torch and transformers come from this interpreter's
site-packages through a .pth file, so no second torch is downloaded); when that fails the
benchmark says so and exits 0. Each tool runs once untimed (warm caches; its outputs are compared)
then ``--repeat`` times; the script prints median wall time, median peak RSS of the process tree,
and the ratios fteval / lm-eval.

First, in this process, the hf plugin's three decode paths decode the same prompts, interleaved
``--repeat`` times: ``general`` (transformers' model, its own forward per step), ``static`` (the
lean greedy loop on transformers' model) and ``native`` (the lean loop on the native Llama runtime,
as ``fteval run`` evaluates this model): decode steps per second, the share of decode time inside
the model's forward, and the weight-matmul FLOP rate against this machine's fp32 matmul peak
(a torch matmul measured in the same run, same threads). Attention over the cache is not counted in
the FLOPs (it reads the whole cache per step: bandwidth, not FLOPs). Then fresh processes load the
model and tokenizer through transformers and through the native runtime (imports included).
``--decode-only`` stops there.
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
        _see_our_packages(venv)  # this interpreter may not be the one that made the venv
        return exe
    shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = venv / "bin" / "python"
        _see_our_packages(venv)
        pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", LM_EVAL]
        subprocess.run(pip, check=True, timeout=900, capture_output=True, text=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = (getattr(exc, "stderr", None) or "").strip().splitlines()[-3:]
        print(f"SKIP: cannot install {LM_EVAL} into a throw-away venv ({exc}).", *detail, sep="\n")
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return exe


def _see_our_packages(venv: Path) -> None:
    """Point the venv at this interpreter's site-packages (after its own), through a .pth file.

    torch/transformers then resolve to ours, and pip counts them as installed, so it only fetches
    lm-eval's light core dependencies.
    """
    py = venv / "bin" / "python"
    site = subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True)
    Path(site.strip(), "_fteval_parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


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


def write_inputs(tmp: Path, model: Path, n: int | None) -> tuple[Path, Path]:
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


def matmul_peak(size: int = 1024, reps: int = 10) -> float:
    """This machine's fp32 matmul rate (GFLOP/s, best of ``reps``) at torch's current threads."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def decode_loops(model_dir: Path, n: int | None, repeat: int) -> None:
    """Decode steps/s of the three decode paths on the same prompts, against the FLOP bound.

    ``general``: transformers' model, its own forward per step; ``static``: the lean greedy loop on
    transformers' model (both with the generator's automatic batch size); ``native``: the lean loop
    on the native runtime with automatic slots, as ``fteval run`` evaluates this model. All prompts
    are one call (the generator streams an evaluation).
    """
    import torch
    from fteval_hf.decode import DecodeStats, generate
    from fteval_hf.devices import use_all_cores
    from fteval_hf.formatting import encode_prompt
    from fteval_hf.generator import forward_batch_size
    from fteval_hf.native_llama import load_native
    from transformers import AutoModelForCausalLM, AutoTokenizer

    threads = use_all_cores()
    tok = AutoTokenizer.from_pretrained(model_dir)
    models = {"hf": AutoModelForCausalLM.from_pretrained(model_dir).eval(), "native": load_native(model_dir)}
    ids = [encode_prompt(tok, ex.prompt) for ex in viggo_examples("test", "short", n)]
    size = forward_batch_size([len(i) for i in ids], None)
    linear = sum(m.weight.numel() for m in models["hf"].modules() if isinstance(m, torch.nn.Linear))
    flops = 2 * linear  # weight-matmul FLOPs per row and decode step (lm_head included)
    paths: dict[str, tuple[str, dict[str, object]]] = {
        "general": ("hf", {"loop": "general"}),
        "static": ("hf", {"loop": "static"}),
        "native": ("native", {"slots": "auto"}),
    }

    def run(path: str) -> tuple[list[list[int]], DecodeStats, float, float]:
        which, kwargs = paths[path]
        stats, start, cpu = DecodeStats(), time.perf_counter(), time.process_time()
        outs = generate(
            models[which],
            ids,
            max_new_tokens=128,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            batch_size=size,
            stats=stats,
            **kwargs,
        )
        return outs, stats, time.perf_counter() - start, time.process_time() - cpu

    peaks, runs = [], {path: [] for path in paths}
    for _ in range(repeat):
        peaks.append(matmul_peak())
        for path, results in runs.items():
            results.append(run(path))
    peak = statistics.median(peaks)
    print(
        f"decode paths, {len(ids)} rows in one call, batch {size}, {threads} threads, {repeat} interleaved runs (medians):"
    )
    print(f"  fp32 matmul peak {peak:.0f} GFLOP/s (1024^3 matmul, runs: {', '.join(f'{p:.0f}' for p in peaks)})")
    print(
        f"  {flops / 1e6:.1f} MFLOP of weight matmuls per row-step: {flops * 64 / 1e9:.2f} GFLOP per step at batch 64,"
    )
    print(f"  so at most {peak * 1e9 / (flops * 64):.0f} steps/s at batch 64 (the FLOP bound)")
    reference = runs["general"][0][0]
    for path, results in runs.items():
        secs, cpu = statistics.median(r[2] for r in results), statistics.median(r[3] for r in results)
        st = sorted((r[1] for r in results), key=lambda s: s.seconds)[len(results) // 2]
        achieved = st.row_steps * flops / st.seconds / 1e9
        same = sum(a == b for a, b in zip(reference, results[0][0], strict=True))
        print(
            f"  {path:7s}: total {secs:5.1f} s ({cpu:5.1f} CPU s), decode {st.seconds:5.1f} s ({st.model_seconds / st.seconds:.0%} in the"
            f" forward), {st.steps} steps = {st.steps / st.seconds:.0f} steps/s, {st.row_steps / st.steps:.1f} rows"
            f" per step, {achieved:.1f} GFLOP/s = {achieved / peak:.1%} of peak; same outputs as general {same}/{len(ids)}"
        )
    totals = {k: statistics.median(r[2] for r in v) for k, v in runs.items()}
    print(
        f"  total wall vs general: static {totals['static'] / totals['general']:.2f}x,"
        f" native {totals['native'] / totals['general']:.2f}x (prefills included)"
    )


LOAD_SCRIPTS = {
    "transformers": (
        "import sys; from transformers import AutoModelForCausalLM, AutoTokenizer;"
        " AutoModelForCausalLM.from_pretrained(sys.argv[1]); AutoTokenizer.from_pretrained(sys.argv[1])"
    ),
    "native": (
        "import sys, pathlib; from fteval_hf.native_llama import load_native;"
        " from fteval_hf.native_tokenizer import NativeTokenizer;"
        " load_native(pathlib.Path(sys.argv[1])); NativeTokenizer(pathlib.Path(sys.argv[1]))"
    ),
}


def load_times(model_dir: Path, repeat: int) -> None:
    """Wall time of a fresh process that imports what it needs and loads the model and tokenizer, each way."""
    env = {**os.environ, **OFFLINE, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    times: dict[str, list[float]] = {name: [] for name in LOAD_SCRIPTS}
    for _ in range(repeat + 1):  # the first round is a warm-up
        for name, script in LOAD_SCRIPTS.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", script, str(model_dir)], env=env, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t[1:]) for name, t in times.items()}
    print(
        f"process start + imports + model and tokenizer load (median of {repeat}): transformers"
        f" {med['transformers']:.2f} s, native {med['native']:.2f} s = {med['native'] / med['transformers']:.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, help="a model folder saved by the hf trainer")
    ap.add_argument("--rows", type=int, default=None, help="first ViGGO test rows (default: all 1,083)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each tool")
    default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fteval-bench"
    ap.add_argument("--cache", type=Path, default=default_cache, help="venv and model cache")
    ap.add_argument("--decode-only", action="store_true", help="only the in-process decode loop figures")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    model = args.model_dir or trained_model(args.cache)
    print(f"load: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min) on {os.cpu_count()} CPUs", flush=True)
    decode_loops(model, args.rows, args.repeat)
    load_times(model, args.repeat)
    if args.decode_only:
        return
    lm_eval = lm_eval_venv(args.cache)
    if lm_eval is None:
        return
    env = {**os.environ, **OFFLINE}
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        spec, tasks = write_inputs(tmp, model, args.rows)

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
    print(f"model {model}; {len(ours)} ViGGO test rows, greedy, max_new_tokens 128; {LM_EVAL}")
    print(f"identical outputs: {same}/{len(ours)} (after strip: {stripped}/{len(ours)})")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v)) for k, v in results.items()}
    for name, (wall, mem) in med.items():
        runs = ", ".join(f"{w:.1f}" for w, _ in results[name])
        print(f"{name:8s} median wall {wall:6.1f} s  peak RSS {mem:6.0f} MiB  (runs: {runs} s)")
    (fw, fm), (lw, lm_) = med["fteval"], med["lm-eval"]
    print(f"ratio fteval / lm-eval: wall {fw / lw:.2f}x  memory {fm / lm_:.2f}x")
    print(f"load: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (1, 5, 15 min)")


if __name__ == "__main__":
    main()

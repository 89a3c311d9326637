"""Two data-parallel processes train exactly like one process with grad_accum 2.

``accelerate launch`` starts GPU processes through torch's elastic launcher; on this CPU-only
machine the same launcher (``torch.distributed.run``) starts two CPU processes on gloo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("accelerate")

from fteval_hf.trainer import HFTrainer

TRAIN = {
    "max_steps": 4,
    "batch_size": 4,
    "lr": 3e-3,
    "warmup_steps": 1,
    "eval_every": 2,
    "save_every": 2,
}

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from fteval.testing import RecordingTrainContext, examples
    from fteval_hf.trainer import HFTrainer

    model, workdir, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[4])
    train = json.loads(sys.argv[3])
    rows = examples(json.loads(Path(sys.argv[5]).read_text()))

    ctx = RecordingTrainContext(rows, rows[:8], workdir)
    config = HFTrainer.Config.model_validate({"model": {"id": model}, "train": train})
    handle = HFTrainer(config).fit(ctx)
    if ctx.stats:
        out.write_text(json.dumps({"stats": ctx.stats, "logs": ctx.logs}))
    """
)


def test_two_processes_equal_one_with_gradient_accumulation(tiny_hub_model, examples, make_ctx, tmp_path) -> None:
    single = make_ctx(examples, examples[:8], workdir=tmp_path / "single")
    HFTrainer(
        HFTrainer.Config.model_validate({"model": {"id": str(tiny_hub_model)}, "train": {**TRAIN, "grad_accum": 2}})
    ).fit(single)
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([(e.prompt.user, e.target) for e in examples]))
    script, out = tmp_path / "child.py", tmp_path / "out.json"
    script.write_text(CHILD)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "OMP_NUM_THREADS": "1",
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(script),
            str(tiny_hub_model),
            str(tmp_path / "multi"),
            json.dumps(TRAIN),
            str(out),
            str(rows),
        ],
        check=True,
        env=env,
        timeout=300,
    )
    multi = json.loads(out.read_text())
    assert multi["stats"]["processes"] == 2 and multi["stats"]["steps"] == 4
    assert multi["stats"]["trained_tokens"] == single.stats["trained_tokens"]
    losses = [v["loss"] for _, v in multi["logs"] if "loss" in v]
    assert losses == pytest.approx([v for _, v in single.curve("loss")], rel=1e-4)
    assert multi["stats"]["best_eval_loss"] == pytest.approx(single.stats["best_eval_loss"], rel=1e-4)

"""A training run killed with SIGKILL resumes from its last checkpoint and ends at the same loss."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fteval_testutil import Interrupted, stopped_at, wait_until

pytest.importorskip("torch")

from fteval_hf.trainer import HFTrainer

TRAIN = {
    "max_steps": 12,
    "save_every": 4,
    "batch_size": 4,
    "lr": 3e-3,
    "warmup_steps": 2,
    "eval_every": 6,
    "method": "lora",
    "lora": {"dropout": 0.1},
}  # LoRA dropout: the RNG state must be restored too
HANG_AT = 10  # the child stops here (after the checkpoint of step 8) and is killed


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from fteval.testing import RecordingTrainContext, examples
    from fteval_hf.trainer import HFTrainer

    model, workdir, flag = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    hang_at = int(sys.argv[4])
    rows = examples(json.loads(sys.stdin.read()))

    class Hanging(RecordingTrainContext):
        def log(self, step, **values):
            super().log(step, **values)
            if step == hang_at:
                flag.write_text("hung")
                time.sleep(600)  # the behaviour under test: a job hung mid-training, until the test kills it

    train = json.loads(sys.argv[5])
    config = HFTrainer.Config.model_validate({"model": {"id": model}, "train": train})
    HFTrainer(config).fit(Hanging(rows, rows[:8], workdir))
    """
)


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def test_sigkill_then_resume_reaches_the_uninterrupted_loss(tiny_hub_model, examples, make_ctx, tmp_path) -> None:
    config = HFTrainer.Config.model_validate({"model": {"id": str(tiny_hub_model)}, "train": TRAIN})
    reference = make_ctx(examples, examples[:8], workdir=tmp_path / "straight")
    HFTrainer(config).fit(reference)

    workdir, flag = tmp_path / "killed", tmp_path / "hung"
    rows = json.dumps([(e.prompt.user, e.target) for e in examples])
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(tiny_hub_model),
            str(workdir),
            str(flag),
            str(HANG_AT),
            json.dumps(TRAIN),
        ],
        stdin=subprocess.PIPE,
        env=_child_env(),
        text=True,
    )
    child.stdin.write(rows)
    child.stdin.close()
    wait_until(lambda: flag.exists() or child.poll() is not None, 120, what="the child's hang")
    assert flag.exists(), "the child never reached the step where it hangs"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (workdir / "checkpoints" / "latest").read_text() == "step-0000008"
    assert not (workdir / "model").exists()

    resumed = make_ctx(examples, examples[:8], workdir=workdir)
    handle = HFTrainer(config).fit(resumed)
    assert [s for s, _ in resumed.curve("loss")] == list(range(9, 13))
    assert resumed.bars[0].done == 12
    assert resumed.bars[0].description == "train (resumed at step 8)" and reference.bars[0].description == "train"
    assert resumed.stats["final_loss"] == pytest.approx(reference.stats["final_loss"], rel=1e-5)
    assert resumed.curve("eval_loss")[-1][1] == pytest.approx(reference.curve("eval_loss")[-1][1], rel=1e-5)
    assert resumed.stats["trained_tokens"] == reference.stats["trained_tokens"]
    assert json.loads((Path(handle.location) / "fteval_hf.json").read_text())["stats"]["steps"] == 12


CORRUPT_TRAIN = {"max_steps": 8, "save_every": 2, "batch_size": 4, "lr": 3e-3, "warmup_steps": 1}


@pytest.mark.parametrize("damaged", ["latest", "all"])
def test_a_damaged_checkpoint_falls_back_and_says_so(
    tiny_hub_model, examples, make_ctx, tmp_path, capfd, damaged
) -> None:
    config = HFTrainer.Config.model_validate({"model": {"id": str(tiny_hub_model)}, "train": CORRUPT_TRAIN})
    reference = make_ctx(examples, workdir=tmp_path / "straight")
    HFTrainer(config).fit(reference)

    workdir = tmp_path / "crashed"
    with pytest.raises(Interrupted):
        HFTrainer(config).fit(stopped_at(7, make_ctx(examples, workdir=workdir)))
    ckpts = workdir / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("step-*")) == ["step-0000004", "step-0000006"]
    for folder in [ckpts / "step-0000006"] + ([ckpts / "step-0000004"] if damaged == "all" else []):
        for name in ("weights.safetensors", "optim.pt"):
            with (folder / name).open("r+b") as f:
                f.truncate(100)
    capfd.readouterr()

    resumed = make_ctx(examples, workdir=workdir)
    HFTrainer(config).fit(resumed)
    err = capfd.readouterr().err
    assert f"warning: checkpoint {ckpts / 'step-0000006'} is unreadable" in err
    if damaged == "latest":
        assert "falling back to step-0000004" in err
        assert [s for s, _ in resumed.curve("loss")] == [5, 6, 7, 8]
    else:
        assert f"checkpoint {ckpts / 'step-0000004'} is unreadable" in err
        assert "restarting training from step 0" in err
        assert [s for s, _ in resumed.curve("loss")] == list(range(1, 9))
    assert resumed.stats["final_loss"] == pytest.approx(reference.stats["final_loss"], rel=1e-5)

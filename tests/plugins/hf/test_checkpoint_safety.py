"""Nothing in a restored store can run code: a poisoned checkpoint is refused, pointers stay in the job folder.

Issue 27: resuming loaded ``optim.pt`` with ``weights_only=False`` (a pickle placed there ran code)
and followed a ``checkpoints/latest`` pointer of ``../../../../x`` outside the job folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fteval_testutil import Interrupted, stopped_at

torch = pytest.importorskip("torch")

from fteval_hf.checkpoint import latest_checkpoint
from fteval_hf.trainer import HFTrainer

TRAIN = {"max_steps": 6, "save_every": 2, "batch_size": 4, "lr": 3e-3, "warmup_steps": 1}


class _RunsCode:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crashed(config, examples, make_ctx, workdir: Path) -> Path:
    with pytest.raises(Interrupted):
        HFTrainer(config).fit(stopped_at(5, make_ctx(examples, workdir=workdir)))
    ckpts = workdir / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("step-*")) == ["step-0000002", "step-0000004"]
    return ckpts


def test_a_pickle_that_would_run_code_is_refused_and_training_restarts(
    tiny_hub_model, examples, make_ctx, tmp_path, capfd
) -> None:
    config = HFTrainer.Config.model_validate({"model": {"id": str(tiny_hub_model)}, "train": TRAIN})
    ckpts = _crashed(config, examples, make_ctx, tmp_path / "job")
    marker = tmp_path / "code-ran"
    for folder in ckpts.glob("step-*"):
        torch.save({"optimizer": _RunsCode(marker), "scheduler": {}, "rng": {}}, folder / "optim.pt")
    capfd.readouterr()
    resumed = make_ctx(examples, workdir=tmp_path / "job")
    HFTrainer(config).fit(resumed)
    err = capfd.readouterr().err
    assert not marker.exists()
    assert f"warning: checkpoint {ckpts / 'step-0000004'} is unreadable (UnpicklingError" in err
    assert "restarting training from step 0" in err
    assert [s for s, _ in resumed.curve("loss")] == list(range(1, 7))


def test_a_latest_pointer_out_of_the_job_folder_is_ignored(tiny_hub_model, examples, make_ctx, tmp_path, capfd) -> None:
    config = HFTrainer.Config.model_validate({"model": {"id": str(tiny_hub_model)}, "train": TRAIN})
    ckpts = _crashed(config, examples, make_ctx, tmp_path / "job")
    # a complete checkpoint elsewhere (another job's, or planted) that the pointer names
    outside = tmp_path / "elsewhere" / "step-0000004"
    shutil.copytree(ckpts / "step-0000004", outside)
    shutil.rmtree(ckpts / "step-0000004")
    (ckpts / "latest").write_text("../../elsewhere/step-0000004")
    assert latest_checkpoint(ckpts) is None
    # a step folder that is a link to it is not followed either
    (ckpts / "step-0000005").symlink_to(outside, target_is_directory=True)
    capfd.readouterr()
    resumed = make_ctx(examples, workdir=tmp_path / "job")
    HFTrainer(config).fit(resumed)
    err = capfd.readouterr().err
    assert f"warning: {ckpts / 'latest'} does not name a checkpoint of that folder; ignored" in err
    assert [s for s, _ in resumed.curve("loss")] == [3, 4, 5, 6]  # resumed from its own step-0000002


def test_a_pointer_at_dev_zero_is_read_capped(tmp_path, capfd) -> None:
    ckpts = tmp_path / "checkpoints"
    ckpts.mkdir()
    (ckpts / "latest").symlink_to("/dev/zero")
    assert latest_checkpoint(ckpts) is None
    (ckpts / "latest").unlink()
    (ckpts / "latest").write_bytes(b"step-" + b"0" * 10_000_000)
    assert latest_checkpoint(ckpts) is None
    assert "does not name a checkpoint" in capfd.readouterr().err


def test_a_saved_model_folder_holding_a_pickle_is_refused_by_the_generator(tiny_hub_model, tmp_path) -> None:
    """A restored store's ``model/`` folder with a ``pytorch_model.bin`` that would run code: not unpickled."""
    from fteval_hf.generator import HFGenerator

    from fteval.plugin import GenerationSettings, ModelHandle

    folder = tmp_path / "model"
    shutil.copytree(tiny_hub_model, folder)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "code-ran"
    torch.save({"model.embed_tokens.weight": _RunsCode(marker)}, folder / "pytorch_model.bin")
    config = HFTrainer.Config.model_validate({"model": {"init": "scratch", "preset": "tiny"}})
    handle = ModelHandle(trainer="hf", fingerprint="x", location=str(folder), meta={"method": "full"})
    with pytest.raises(Exception, match="(?i)weights only"):
        HFGenerator().load(handle, config, GenerationSettings())
    assert not marker.exists()

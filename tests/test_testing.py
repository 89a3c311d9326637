"""The public test helper ``fteval.testing`` implements the TrainContext protocol."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

from fteval_generic.lookup import LookupGenerator, LookupTrainer

from fteval.plugin import ModelHandle, TrainContext, Trainer
from fteval.testing import RecordingTrainContext, examples


def test_has_every_member_of_the_protocol(tmp_path: Path) -> None:
    ctx = RecordingTrainContext(workdir=tmp_path)
    members = set(TrainContext.__annotations__) | {
        name for name, _ in inspect.getmembers(TrainContext, inspect.isfunction) if not name.startswith("_")
    }
    assert members >= {
        "train",
        "valid",
        "workdir",
        "seed",
        "external_id",
        "log",
        "record",
        "progress",
    }
    assert [m for m in sorted(members) if not hasattr(ctx, m)] == []
    for name in members & {"log", "set_external_id", "record", "progress"}:
        theirs = inspect.signature(getattr(TrainContext, name)).parameters
        ours = inspect.signature(getattr(ctx, name)).parameters
        assert list(ours) == [p for p in theirs if p != "self"], name


def test_drives_the_real_lookup_trainer(tmp_path: Path) -> None:
    train = examples([("Is a cat a mammal?", "yes"), ("Is a trout a mammal?", "no"), ("Is a dog?", "yes")])
    ctx = RecordingTrainContext(train, workdir=tmp_path / "work")
    typed: TrainContext = ctx  # checked by the type checker as well
    handle = LookupTrainer().fit(typed)
    assert ctx.stats["train_rows"] == 3 and ctx.stats["cost_usd"] == 0.0
    assert [(b.total, b.done, b.closed) for b in ctx.bars] == [(3, 3, True)]
    assert Path(handle.location).parent == tmp_path / "work"
    model = LookupGenerator().load(handle, LookupTrainer.Config(), None)
    assert [g.text for g in model.generate([train[1].prompt])] == ["no"]


class _Remote(Trainer):
    """A trainer that uses every part of the context, as a remote fine-tuning plugin would."""

    default_generator = "lookup"

    def fit(self, ctx: TrainContext) -> ModelHandle:
        job = ctx.external_id or "job-1"
        if ctx.external_id is None:
            ctx.set_external_id(job)
        with ctx.progress(2, "remote") as bar:
            for step in (1, 2):
                ctx.log(step, loss=1.0 / step, **({"eval_loss": 0.9} if step == 2 else {}))
                bar.advance(loss=1.0 / step)
        ctx.record(wall_s=0.5, trained_tokens=10, status="done")
        (Path(ctx.workdir) / "job.json").write_text(json.dumps({"job": job, "seed": ctx.seed}))
        return ModelHandle(trainer="remote", fingerprint=job)

    def base_model(self, ctx: TrainContext) -> ModelHandle:
        return ModelHandle(trainer="remote", fingerprint="base")


def test_records_logs_ids_stats_and_bars(tmp_path: Path) -> None:
    ctx = RecordingTrainContext(workdir=tmp_path, seed=7)
    assert _Remote().fit(ctx).fingerprint == "job-1"
    assert ctx.external_id == "job-1" and ctx.external_ids == ["job-1"]
    assert ctx.curve("loss") == [(1, 1.0), (2, 0.5)] and ctx.curve("eval_loss") == [(2, 0.9)]
    assert ctx.stats == {"wall_s": 0.5, "trained_tokens": 10, "status": "done"}
    bar = ctx.bars[0]
    assert (bar.total, bar.description, bar.done, bar.fields) == (2, "remote", 2, {"loss": 0.5})
    assert json.loads((tmp_path / "job.json").read_text()) == {"job": "job-1", "seed": 7}
    again = RecordingTrainContext(workdir=tmp_path, external_id="job-0")
    assert _Remote().fit(again).fingerprint == "job-0" and again.external_ids == []


def test_examples_from_pairs_and_rows() -> None:
    pairs = examples([("q1", "a1"), ("q2", "a2")], system="sys")
    assert [(e.index, e.prompt.system, e.prompt.user, e.target) for e in pairs] == [
        (0, "sys", "q1", "a1"),
        (1, "sys", "q2", "a2"),
    ]
    rows = examples([{"ref": "A sentence.", "mr": "inform(name[X])", "id": 4}], user="ref", target="mr")
    assert rows[0].row["id"] == 4 and rows[0].prompt.messages() == [{"role": "user", "content": "A sentence."}]
    assert rows[0].target == "inform(name[X])"


def test_default_workdir_is_a_fresh_directory() -> None:
    a, b = RecordingTrainContext(), RecordingTrainContext()
    try:
        assert a.workdir.is_dir() and b.workdir.is_dir() and a.workdir != b.workdir
    finally:
        a.workdir.rmdir()
        b.workdir.rmdir()


def test_imports_nothing_heavy() -> None:
    code = "import sys, fteval.testing; print([m for m in ('torch', 'transformers', 'numpy') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""Training checkpoints in the run's workdir: save every N steps, find the latest, restore."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LoopState",
    "fingerprint_dir",
    "latest_checkpoint",
    "load_trainable",
    "restore",
    "save_checkpoint",
    "save_trainable",
]

LATEST = "latest"


@dataclass
class LoopState:
    """Where the training loop stands; saved as JSON with every checkpoint."""

    step: int = 0
    wall_s: float = 0.0
    trained_tokens: int = 0
    computed_tokens: int = 0
    best_eval_loss: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    last_loss: float | None = None
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _trainable(model: Any) -> dict[str, Any]:
    """The trainable parameters by name (tied weights appear once)."""
    return {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def save_trainable(model: Any, path: Path) -> None:
    """Write the model's trainable parameters to a safetensors file, atomically."""
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.cpu() for k, v in _trainable(model).items()}, str(tmp))
    os.replace(tmp, path)


def load_trainable(model: Any, path: Path) -> None:
    """Copy saved trainable parameters back into ``model`` (names must match)."""
    import torch
    from safetensors.torch import load_file

    saved = load_file(str(path))
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in saved]
    if missing:
        raise ValueError(
            f"checkpoint {path} lacks parameters {missing[:3]}; was the target changed?"
        )
    with torch.no_grad():
        for name, value in saved.items():
            params[name].copy_(value)


def save_checkpoint(
    ckpt_root: Path, model: Any, optimizer: Any, scheduler: Any, state: LoopState
) -> Path:
    """Save weights, optimizer, scheduler, RNG and loop state; point ``latest`` at it.

    Args:
        ckpt_root: the workdir's checkpoint folder.
        model: the model being trained.
        optimizer: its optimizer.
        scheduler: its learning-rate scheduler.
        state: the loop state after ``state.step`` optimizer steps.

    Returns:
        The checkpoint's folder.
    """
    import torch

    ckpt_root.mkdir(parents=True, exist_ok=True)
    folder = ckpt_root / f"step-{state.step:07d}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    save_trainable(model, folder / "weights.safetensors")
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng},
        folder / "optim.pt",
    )
    (folder / "state.json").write_text(json.dumps(asdict(state)))
    tmp = ckpt_root / (LATEST + ".tmp")
    tmp.write_text(folder.name)
    os.replace(tmp, ckpt_root / LATEST)  # the checkpoint counts only once complete
    for old in ckpt_root.glob("step-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    pointer = ckpt_root / LATEST
    if not pointer.exists():
        return None
    folder = ckpt_root / pointer.read_text().strip()
    return folder if (folder / "state.json").exists() else None


def restore(folder: Path, model: Any, optimizer: Any, scheduler: Any) -> LoopState:
    """Load a checkpoint into model, optimizer and scheduler, restore RNG; return its loop state."""
    import torch

    load_trainable(model, folder / "weights.safetensors")
    saved = torch.load(folder / "optim.pt", weights_only=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"]["cpu"])
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["rng"]["cuda"])
    return LoopState(**json.loads((folder / "state.json").read_text()))


def fingerprint_dir(folder: Path, extra: str = "") -> str:
    """sha256 over a saved model folder's files (names and bytes), plus ``extra``."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()

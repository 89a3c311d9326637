"""Training checkpoints in the run's workdir: save every N steps, find the latest, restore."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LoopState",
    "fingerprint_dir",
    "latest_checkpoint",
    "load_trainable",
    "restore",
    "resume",
    "save_checkpoint",
    "save_trainable",
]

LATEST = "latest"
_STEP = re.compile(r"^step-[0-9]{7}$")
_MAX_POINTER = 64  # bytes of the latest pointer read (a folder name)
_MAX_STATE = 1 << 20  # bytes of state.json read; more is damage
KEEP = 2  # the newest checkpoint and the one before, to fall back to if the newest is unreadable


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
    from safetensors.torch import load_file

    _apply_trainable(model, load_file(str(path)), path)


def _apply_trainable(model: Any, saved: dict[str, Any], path: Path) -> None:
    import torch

    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in saved]
    if missing:
        raise ValueError(f"checkpoint {path} lacks parameters {missing[:3]}; was the target changed?")
    with torch.no_grad():
        for name, value in saved.items():
            params[name].copy_(value)


def save_checkpoint(ckpt_root: Path, model: Any, optimizer: Any, scheduler: Any, state: LoopState) -> Path:
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
    rng: dict[str, Any] = {"cpu": torch.get_rng_state()}
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
    for old in sorted(ckpt_root.glob("step-*"), reverse=True)[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def _confined(ckpt_root: Path, folder: Path) -> bool:
    """Whether ``folder`` is a real ``step-N`` folder directly inside ``ckpt_root`` (no link, no ``..``)."""
    return (
        _STEP.match(folder.name) is not None
        and not folder.is_symlink()
        and folder.resolve().parent == ckpt_root.resolve()
    )


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    """The newest complete checkpoint folder, or None.

    The ``latest`` pointer is read capped and must name a ``step-N`` folder of ``ckpt_root`` itself:
    a restored store cannot point a resume at a folder elsewhere (``../../x``).
    """
    pointer = ckpt_root / LATEST
    if not pointer.is_file() or pointer.is_symlink():
        return None
    with pointer.open("rb") as fh:
        name = fh.read(_MAX_POINTER).decode("utf-8", errors="replace").strip()
    folder = ckpt_root / name
    if not _confined(ckpt_root, folder):
        print(f"warning: {pointer} does not name a checkpoint of that folder; ignored", file=sys.stderr, flush=True)
        return None
    return folder if (folder / "state.json").exists() else None


def _part(folder: Path, name: str) -> Path:
    path = folder / name
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"{name} is missing or not a regular file")
    return path


def _read(folder: Path) -> tuple[dict[str, Any], dict[str, Any], LoopState]:
    """Every part of a checkpoint, read and decoded (raises if any part is missing or damaged).

    Nothing here unpickles arbitrary objects: weights are safetensors, the optimizer, scheduler and
    RNG state load with ``weights_only=True`` (tensors and plain containers only), the loop state is JSON.
    """
    import torch
    from safetensors.torch import load_file

    weights = load_file(str(_part(folder, "weights.safetensors")))
    saved = torch.load(_part(folder, "optim.pt"), weights_only=True)
    with _part(folder, "state.json").open("rb") as fh:
        state = LoopState(**json.loads(fh.read(_MAX_STATE)))
    return weights, saved, state


def restore(folder: Path, model: Any, optimizer: Any, scheduler: Any) -> LoopState:
    """Load a checkpoint into model, optimizer and scheduler, restore RNG; return its loop state."""
    weights, saved, state = _read(folder)
    _apply(folder, weights, saved, model, optimizer, scheduler)
    return state


def _apply(
    folder: Path, weights: dict[str, Any], saved: dict[str, Any], model: Any, optimizer: Any, scheduler: Any
) -> None:
    import torch

    _apply_trainable(model, weights, folder / "weights.safetensors")
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"]["cpu"])
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["rng"]["cuda"])


def resume(ckpt_root: Path, model: Any, optimizer: Any, scheduler: Any) -> LoopState:
    """Restore the newest readable checkpoint; an unreadable one is skipped with a warning on stderr.

    Falls back to the previous checkpoint, or to a fresh start when none is readable: a damaged
    file must not fail every re-run. Nothing is applied to the model until a checkpoint read whole.

    Returns:
        The restored loop state, or a fresh one.
    """
    latest = latest_checkpoint(ckpt_root)
    others = sorted((f for f in ckpt_root.glob("step-*") if f != latest and _confined(ckpt_root, f)), reverse=True)
    candidates = ([latest] if latest else []) + others
    for i, folder in enumerate(candidates):
        try:
            weights, saved, state = _read(folder)
        except Exception as exc:  # any damage (truncated, garbage, missing) means unusable
            fallback = (
                f"falling back to {candidates[i + 1].name}"
                if i + 1 < len(candidates)
                else "restarting training from step 0"
            )
            print(
                f"warning: checkpoint {folder} is unreadable ({type(exc).__name__}: {exc}); {fallback}",
                file=sys.stderr,
                flush=True,
            )
            continue
        _apply(folder, weights, saved, model, optimizer, scheduler)
        return state
    return LoopState()


def fingerprint_dir(folder: Path, extra: str = "") -> str:
    """sha256 over a saved model folder's files (names and bytes), plus ``extra``."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()

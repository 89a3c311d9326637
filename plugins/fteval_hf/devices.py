"""Device choice, CPU threads and peak-memory reading for the hf plugin."""

from __future__ import annotations

import os
import resource
import sys
from typing import Any

__all__ = ["move", "peak_memory_mb", "pick_device", "quiet_transformers", "use_all_cores"]


def pick_device(requested: str = "auto") -> str:
    """The device to run on: the requested one, or cuda, then mps, then cpu when ``auto``.

    Args:
        requested: ``auto``, ``cpu``, ``cuda`` or ``mps``.

    Returns:
        A torch device string.

    Raises:
        RuntimeError: when the requested accelerator is not available.
    """
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but torch sees no CUDA device")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError("device: mps was requested but this torch has no MPS backend available")
    return requested


def quiet_transformers() -> None:
    """Silence transformers' per-file progress bars, which would interleave with the engine's."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def use_all_cores() -> int:
    """Give torch one intra-op thread per usable core (unless OMP_NUM_THREADS says otherwise)."""
    import torch

    if "OMP_NUM_THREADS" in os.environ:
        return torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(cores)
    return cores


def peak_memory_mb(device: str) -> float:
    """Peak memory of this process: CUDA allocator peak on cuda, else the resident-set peak."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def move(batch: dict[str, Any], device: str) -> dict[str, Any]:
    """Move every tensor of a batch to ``device``."""
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}

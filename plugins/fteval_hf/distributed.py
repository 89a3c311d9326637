"""Data parallelism under ``accelerate launch`` (or torchrun): rank info and gradient sums, no more.

One process per device, started by the launcher. Every rank builds the same schedule, takes its
share of each step's micro-batches, and the gradients are summed across ranks before the optimizer
step; rank 0 alone logs, evaluates, checkpoints and saves. Single-process runs skip all of this.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Ranks", "all_sum", "barrier", "broadcast_flag", "current_ranks"]


@dataclass(frozen=True)
class Ranks:
    """This process's rank, the number of processes, and the device the launcher gave it."""

    rank: int = 0
    world: int = 1
    device: str | None = None

    @property
    def main(self) -> bool:
        """Whether this process logs, evaluates and writes files."""
        return self.rank == 0


def current_ranks() -> Ranks:
    """The launcher's ranks (joining its process group: nccl on GPUs, gloo on CPUs), or one process.

    Reads the variables every torch launcher sets (``accelerate launch`` and ``torchrun`` alike):
    WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size(), device)


def all_sum(tensors: Sequence[Any], ranks: Ranks) -> None:
    """Sum tensors (gradients, loss totals) across ranks in place, as one flat buffer."""
    if ranks.world == 1 or not tensors:
        return
    import torch
    import torch.distributed as dist

    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    offset = 0
    for t in tensors:
        t.copy_(flat[offset : offset + t.numel()].view_as(t))
        offset += t.numel()


def broadcast_flag(flag: bool, ranks: Ranks) -> bool:
    """Rank 0's value of ``flag`` on every rank (e.g. its early-stopping decision)."""
    if ranks.world == 1:
        return flag
    import torch.distributed as dist

    box = [flag]
    dist.broadcast_object_list(box, src=0)
    return bool(box[0])


def barrier(ranks: Ranks) -> None:
    """Wait until every rank gets here."""
    if ranks.world > 1:
        import torch.distributed as dist

        dist.barrier()

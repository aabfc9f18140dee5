"""Multi-process data parallelism (torchrun): gloo on CPU, NCCL on CUDA, unchanged code.

Each rank samples its own share of the groups; after backward the trainable gradients are averaged
across ranks (all-reduce), so every rank applies the same update and the weights stay identical.
Outside torchrun (no WORLD_SIZE) every function is a no-op for a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device: str = "auto") -> World:
    """Join the torchrun group when launched by torchrun (WORLD_SIZE > 1); a single process otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    return World(rank=rank, size=size, local_rank=local_rank)


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def average_gradients(params: list[torch.nn.Parameter]) -> None:
    if not active():
        return
    world = dist.get_world_size()
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad.div_(world)


def _for_backend(t: torch.Tensor) -> torch.Tensor:
    return t.cuda() if dist.get_backend() == "nccl" else t  # NCCL reduces CUDA tensors only


def all_have(flag: bool) -> bool:
    """True on every rank iff `flag` is true on every rank (so all ranks take the same branch)."""
    if not active():
        return flag
    t = _for_backend(torch.tensor([1 if flag else 0], dtype=torch.long))
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def any_have(flag: bool) -> bool:
    """True on every rank iff `flag` is true on some rank."""
    return not all_have(not flag)


def sum_values(values: list[float]) -> list[float]:
    """The element-wise sum of `values` over the ranks (float64: counts stay exact); `values` alone otherwise."""
    if not active():
        return [float(v) for v in values]
    t = _for_backend(torch.tensor(values, dtype=torch.float64))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(v) for v in t.cpu().tolist()]


def gather_ints(value: int) -> list[int]:
    """Every rank's `value`, in rank order ([value] in a single process)."""
    if not active():
        return [value]
    t = _for_backend(torch.tensor([value], dtype=torch.long))
    parts = [torch.zeros_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t)
    return [int(p.item()) for p in parts]


def broadcast_flag(flag: bool) -> bool:
    """Rank 0's `flag` on every rank (e.g. a stop request seen by rank 0)."""
    if not active():
        return flag
    t = _for_backend(torch.tensor([1 if flag else 0], dtype=torch.long))
    dist.broadcast(t, src=0)
    return bool(t.item())


def barrier() -> None:
    if active():
        dist.barrier()


def shutdown() -> None:
    if active():
        dist.destroy_process_group()

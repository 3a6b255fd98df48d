"""torchrun helpers: rank and world from the environment, process-group setup, barriers, broadcasts.

Example:
    >>> from probewise.distributed import DistInfo
    >>> DistInfo.from_env({}).world_size
    1

Under `torchrun --nproc-per-node N -m probewise ...` every process reads RANK/WORLD_SIZE/LOCAL_RANK;
outside torchrun everything here is a no-op, so single-process code paths are the same code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DistInfo:
        env = os.environ if env is None else env
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: str | None = "auto") -> str:
        """Each rank takes its own GPU (cuda:LOCAL_RANK) when CUDA is there and `auto` was asked."""
        if requested in (None, "auto"):
            return f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"
        return str(requested)


def init(info: DistInfo | None = None) -> DistInfo:
    """Join the process group (NCCL on GPUs, gloo on CPU) when launched by torchrun; return the rank info."""
    info = info or DistInfo.from_env()
    if info.distributed and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend)
    return info


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def broadcast(obj: object, src: int = 0) -> object:
    """Send a picklable control message (a list of shard indices, an error text) from `src` to every rank.

    Only small control messages travel this way, inside one job; artifacts are never pickled.
    """
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather(obj: object) -> list[object]:
    """Every rank's `obj` (a small picklable control message: an error text, a job count), in rank order.

    It waits for every rank, so it doubles as a barrier that carries news of a failure.
    """
    if not dist.is_initialized():
        return [obj]
    box: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(box, obj)
    return box


_DATA_PARALLEL: ContextVar[bool] = ContextVar("probewise_data_parallel", default=False)


@contextmanager
def data_parallel() -> Iterator[None]:
    """Train the probes fitted inside this block with DistributedDataParallel across the torchrun ranks.

    Every rank runs the same script on the same data; each global batch is split across ranks and the
    gradients averaged (see `TrainConfig.ddp`). Outside torchrun it changes nothing.

        with probewise.distributed.data_parallel():
            probe = AttentivePoolerProbe(epochs=20).fit(X_tokens, y)
    """
    token = _DATA_PARALLEL.set(True)
    try:
        yield
    finally:
        _DATA_PARALLEL.reset(token)


def data_parallel_enabled() -> bool:
    return _DATA_PARALLEL.get()


def shutdown() -> None:
    """Leave the process group: every rank waits for the others first, so none tears down its connections
    while another still talks to it."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

"""Running studykit under ``torchrun``: the launcher's environment, the process group, rank-0 helpers.

``torchrun --nproc-per-node N [--nnodes M ...] $(which studykit) ...`` starts N x M copies of a
command with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set. :func:`launch_env` reads them,
:func:`process_group` joins the copies into one ``torch.distributed`` group (NCCL when the device is
a GPU, gloo on CPU) and leaves it on exit. Library code asks :func:`world` for the active group:
``rank() == 0`` and ``world_size() == 1`` when no group is active, so the same code runs in one
process.

Collectives on Python objects (:func:`all_gather_object`, :func:`broadcast_object`) carry small
summaries (row counts, failures, errors); array data never travels through them.
:func:`collective` runs a step on every rank and raises the same error on all of them when one
fails, so ranks never deadlock waiting for a rank that gave up.

Importing this module loads neither torch nor ``torch.distributed``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator

_ERRORS = {cls.__name__: cls for cls in (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
                                         IndexError, KeyError, RuntimeError)}


@dataclass(frozen=True)
class LaunchEnv:
    """What ``torchrun`` (or any launcher using its variables) says about this process."""

    rank: int
    world_size: int
    local_rank: int

    def __post_init__(self) -> None:
        if self.world_size < 1:
            raise ValueError(f"WORLD_SIZE={self.world_size} is invalid: expected an integer >= 1")
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"RANK={self.rank} is invalid: expected 0 <= RANK < WORLD_SIZE={self.world_size}")
        if self.local_rank < 0:
            raise ValueError(f"LOCAL_RANK={self.local_rank} is invalid: expected an integer >= 0")


def launch_env(environ=None) -> LaunchEnv | None:
    """The launcher's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``, or None when not launched by one."""
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ or "RANK" not in environ:
        return None
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        text = environ.get(name, "0")
        try:
            values[name] = int(text)
        except ValueError:
            raise ValueError(f"{name}={text!r} is invalid: expected an integer (set by torchrun)") from None
    return LaunchEnv(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])


def _dist():
    """``torch.distributed`` if torch is loaded and a group is initialized, else None (nothing imported)."""
    if "torch" not in sys.modules:
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the active process group; ``(0, 1)`` when there is none."""
    dist = _dist()
    return (dist.get_rank(), dist.get_world_size()) if dist is not None else (0, 1)


def rank() -> int:
    return world()[0]


def world_size() -> int:
    return world()[1]


def is_rank0() -> bool:
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    dist = _dist()
    if dist is not None:
        dist.barrier()


def all_gather_object(obj: Any) -> list:
    """Every rank's ``obj`` (picklable, small), in rank order; ``[obj]`` in one process."""
    dist = _dist()
    if dist is None:
        return [obj]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    dist = _dist()
    if dist is None:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce(tensor, op: str = "sum"):
    """Reduce ``tensor`` in place across ranks (``sum`` or ``max``) and return it (unchanged in one process)."""
    dist = _dist()
    if dist is None:
        return tensor
    ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
    if op not in ops:
        raise ValueError(f"op must be one of {sorted(ops)}, got {op!r}")
    dist.all_reduce(tensor, op=ops[op])
    return tensor


def collective(step: Callable[[], Any]) -> Any:
    """Run ``step()`` on every rank; if it raises on any rank, raise that error on every rank.

    The rank that failed raises its own exception; the others raise one of the same type when it is
    a user-facing one (``ValueError``, ``FileNotFoundError``, ...), else ``RuntimeError``, naming the
    rank it came from.
    """
    result, error = None, None
    try:
        result = step()
    except Exception as exc:   # shared with the other ranks, then raised here unchanged
        error = exc
    if _dist() is None:
        if error is not None:
            raise error
        return result
    errors = all_gather_object(None if error is None else (type(error).__name__, str(error)))
    if error is not None:
        raise error
    failed = [(r, e) for r, e in enumerate(errors) if e is not None]
    if failed:
        where, (kind, message) = failed[0]
        raise _ERRORS.get(kind, RuntimeError)(f"rank {where}: {message}")
    return result


def on_rank0(step: Callable[[], Any]) -> Any:
    """Run ``step()`` on rank 0 only and return its result on every rank (its error, raised everywhere)."""
    outcome = collective(lambda: step() if is_rank0() else None)
    return broadcast_object(outcome)


@contextlib.contextmanager
def rank0_first() -> Iterator[None]:
    """Rank 0 runs the block first (downloads, cache files), then the others (after a barrier)."""
    if not is_rank0():
        barrier()
    yield
    if is_rank0():
        barrier()


def shard_range(n_items: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous block ``[start, stop)`` of ``n_items``; sizes differ by at most one."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    return n_items * rank // world_size, n_items * (rank + 1) // world_size


def backend_for(device) -> str:
    """``nccl`` for CUDA devices, ``gloo`` otherwise."""
    return "nccl" if str(device).startswith("cuda") else "gloo"


def rank_device(device, env: LaunchEnv):
    """The device of this rank: ``cuda:LOCAL_RANK`` when ``device`` is a CUDA device, else ``device``."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        return device
    if env.local_rank >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK={env.local_rank} but this node has {torch.cuda.device_count()} CUDA "
                         f"device(s): start at most that many processes per node (--nproc-per-node)")
    return torch.device("cuda", env.local_rank)


@contextlib.contextmanager
def process_group(device="cpu", env: LaunchEnv | None = None, timeout_s: float = 1800.0):
    """Join the launcher's process group for the block; yields this rank's device.

    Outside a launcher (or with ``WORLD_SIZE=1``) nothing is initialized and ``device`` is yielded
    as given. A group that is already initialized (by the caller) is used and left as is.
    """
    env = launch_env() if env is None else env
    if env is None or env.world_size == 1:
        yield device
        return
    import datetime

    import torch
    import torch.distributed as dist

    device = rank_device(device, env)
    if dist.is_initialized():
        yield device
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device), rank=env.rank, world_size=env.world_size,
                            timeout=datetime.timedelta(seconds=timeout_s))
    try:
        yield device
        # Every rank has finished its collectives before any rank tears the group down: a gloo
        # worker thread may otherwise still hold the last all-gather's tensors while the interpreter
        # finalizes, and releasing them then aborts the process (SIGABRT, "terminate called without
        # an active exception"; pytorch/pytorch#190489). The barrier carries no tensors.
        dist.barrier()
    finally:
        dist.destroy_process_group()
        gc.collect()  # a group kept alive only by a reference cycle joins its threads now, not at exit

"""Commands under ``torchrun``: join the process group, and let only rank 0 talk.

``torchrun --nproc-per-node N $(which studykit) features extract ...`` runs N copies of the command.
:func:`torchrun_session` wraps a command's body: it joins the group (NCCL on GPUs, gloo on CPU), gives
each rank its device (``cuda:LOCAL_RANK``), keeps the INFO log of ranks other than 0 quiet (their
warnings and errors still show, prefixed with their rank) and leaves the group afterwards.
"""

from __future__ import annotations

import contextlib
import logging


class _RankFormatter(logging.Formatter):
    def __init__(self, inner: logging.Formatter | None, rank: int, size: int):
        super().__init__()
        self.inner, self.prefix = inner or logging.Formatter(), f"[rank {rank}/{size}] "

    def format(self, record: logging.LogRecord) -> str:
        return self.prefix + self.inner.format(record)


@contextlib.contextmanager
def _rank_logging(rank: int, size: int):
    root = logging.getLogger()
    saved = root.level, [(h, h.formatter) for h in root.handlers]
    if rank != 0:
        root.setLevel(max(root.level, logging.WARNING))
    for handler, formatter in saved[1]:
        handler.setFormatter(_RankFormatter(formatter, rank, size))
    try:
        yield
    finally:
        root.setLevel(saved[0])
        for handler, formatter in saved[1]:
            handler.setFormatter(formatter)


@contextlib.contextmanager
def torchrun_session(device):
    """Yield ``(device, is_rank0)``: this rank's device, and whether it is the one that prints.

    Outside ``torchrun`` (or with one process) this is ``(device, True)`` and nothing else happens.
    """
    from studykit.distributed import launch_env, process_group

    env = launch_env()
    if env is None or env.world_size == 1:
        yield device, True
        return
    with process_group(device, env) as rank_device, _rank_logging(env.rank, env.world_size):
        yield rank_device, env.rank == 0

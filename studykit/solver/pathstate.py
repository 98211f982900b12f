"""The state of a path being fitted: the alphas done so far, the solver state, and its checkpoint.

``fit_path(checkpoint_dir=...)`` saves a :class:`PathState` after every alpha (``checkpoint.pt``,
written to a temporary name and renamed, so a crash never leaves half a file) and loads it when the
same data and configuration are fitted again; under a process group only rank 0 saves, every rank
loads the same file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from .owlqn import Curvature
from .saga import SagaState

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


class PathState:
    """The path so far (coefficients, intercepts, metric rows) and the solver state."""

    @classmethod
    def start(cls, problem, config, b0, grid, null_objective):
        self = cls()
        self.null_objective = null_objective  # F(0, b0): no alpha's optimum is above it
        self.W = torch.zeros(problem.k, problem.train.n_features, dtype=problem.dtype, device=problem.device)
        self.b = b0.clone()
        self.saga = SagaState.zeros(problem.train.n_samples, problem.k, problem.train.n_features,
                                    device=problem.device, table_device=problem.table_device, dtype=problem.dtype) \
            if config.solver == "saga" else None
        self.coefs, self.intercepts, self.rows, self.done = [], [], [], 0
        self.lr = None  # SAGA step in force (halved after a divergence)
        self.curvature = Curvature()  # owlqn's curvature pairs, carried from alpha to alpha (issue 12)
        self.grid = np.asarray(grid, dtype=np.float64)
        return self

    def record(self, i, alpha, row, seconds):
        self.coefs.append(sp.csr_matrix(self.W.double().cpu().numpy()))
        self.intercepts.append(self.b.double().cpu().numpy())
        self.rows.append({**row, "index": i, "alpha": alpha, "seconds": seconds})
        self.done = i + 1

    def _key(self, config, fingerprint):
        return {"config": config.to_dict(), "fingerprint": fingerprint, "grid": self.grid.tolist()}

    def save(self, directory: Path, config, fingerprint) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"key": self._key(config, fingerprint), "W": self.W.cpu(), "b": self.b.cpu(),
                   "coefs": [(c.data, c.indices, c.indptr, c.shape) for c in self.coefs],
                   "intercepts": self.intercepts, "rows": self.rows, "done": self.done, "lr": self.lr,
                   "saga": None if self.saga is None else {k: v.cpu() for k, v in vars(self.saga).items()},
                   "curvature": self.curvature.state_dict()}
        tmp = directory / (CHECKPOINT + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, directory / CHECKPOINT)

    def resume(self, directory: Path, config, fingerprint) -> bool:
        """Load the checkpoint in ``directory`` if there is one; True when it was loaded."""
        path = directory / CHECKPOINT
        if not path.exists():
            return False
        payload = torch.load(path, weights_only=False, map_location="cpu")
        if payload["key"] != self._key(config, fingerprint):
            raise ValueError(f"{path} was written for other data or another configuration; "
                             "remove it or use another output folder")
        self.W = payload["W"].to(self.W.device)
        self.b = payload["b"].to(self.b.device)
        self.coefs = [sp.csr_matrix((d, i, p), shape=s) for d, i, p, s in payload["coefs"]]
        self.intercepts, self.rows, self.done = payload["intercepts"], payload["rows"], payload["done"]
        self.lr = payload["lr"]
        self.curvature = Curvature.from_state_dict(payload.get("curvature"), self.W.device, tuple(self.W.shape))
        if self.saga is not None:
            for name, value in payload["saga"].items():
                target = getattr(self.saga, name)
                setattr(self.saga, name, value.to(target.device))
        log.info("resuming the path from %s at alpha %d of %d", path, self.done + 1, len(self.grid))
        return True

"""Coordinate working sets (issue 12): the inner solver on a set of (class, feature) coefficients.

At hundreds of classes the middle of a path has a support that touches nearly every feature
column while fewer than 2% of the ``k x d`` coefficients are non-zero (k=1000, d=2048: 25,000 at
the end of the default grid). A working set of *columns* is then every column, and each OWL-QN
iteration is a dense GEMM over all of them. A working set of *coordinates* (the non-zero
coefficients and the worst KKT violators among the zero ones, chosen by the same rule as columns,
:func:`.workingset.working_set`) needs only

- the forward product with a sparse ``W``: ``Z = Xs W^T + b`` as a CSR matrix times the data's
  transposed row blocks, ``O(n m)`` for ``m`` coordinates, and
- the gradient on those coordinates only: ``G_cj = (Xs^T U)_cj / n`` for ``(c, j)`` in the set, a
  sampled dense-dense product (``torch.sparse.sampled_addmm``), also ``O(n m)``.

Measured on this machine's CPU (1 thread, n=12,000, d=2048, k=1000; ``benchmarks/solver_work_probe.py``
has the path figures): forward + gradient 0.57 s dense; 0.13 s at 1% density, 0.17 s at 2%,
0.28 s at 5%, 0.45 s at 10% (before the transposed copy of :func:`transposed_blocks`, which
halves the sparse ones). The solver uses coordinates where their cost model
(:func:`cheaper`) says they beat the column working set, on the CPU only (on a GPU dense GEMMs
run near peak and cuSPARSE's products have not been measured against them).

A :class:`CoordinateDesign` offers what :func:`.owlqn.owlqn` uses of a :class:`.design.Design`
(``forward``, ``gradient``, ``n_total``, ``total``) with the coefficients as a vector of length
``m``; coordinates outside the set stay exactly zero.
"""

from __future__ import annotations

import warnings

import torch

from .design import Design

#: Row block of the sparse products: the data's transposed block stays in cache (256 rows measured
#: fastest against 128 and 512 at d=2048).
BLOCK_ROWS = 256
#: Largest preloaded data (bytes) of which a transposed copy is kept (:func:`transposed_blocks`).
TRANSPOSED_COPY_LIMIT = 4 * 1024**3
#: What one row of the sparse forward and gradient costs, in multiply-adds of the dense ones:
#: ``CLASS_COST`` per output (the residual's transposes and the output's write, beyond what the
#: dense products spend on them), ``COEFFICIENT_COST`` per coefficient and, when the data is
#: transposed on the fly (streamed, or above :data:`TRANSPOSED_COPY_LIMIT`), ``COLUMN_COST`` per
#: feature column touched. Fitted on this machine's CPU, 1 thread, n=10,000, d=2048, k=100 and
#: 500, 64 to 2048 columns, 1% to 20% of their coefficients (dense forward + gradient 23 ps per
#: multiply-add; e.g. k=500, 2048 columns: dense 238 ms, 1% sparse 44 ms, 5% 105 ms, 20% 339 ms).
#: A working set of coefficients is used where this model says it is cheaper than the columns.
CLASS_COST = 70
COEFFICIENT_COST = 8
COLUMN_COST = 50


class CoordinateDesign:
    """The standardized design seen through the coefficients ``coords`` of a ``(k, d)`` matrix.

    ``coords``: sorted flat indices ``c * d + j`` into ``(k, design.n_features)``."""

    def __init__(self, design: Design, coords: torch.Tensor, k: int):
        d = design.n_features
        self.design, self.k, self.m = design, k, len(coords)
        self.rows, self.cols = coords // d, coords % d
        crow = torch.zeros(k + 1, dtype=torch.long, device=coords.device)
        crow[1:] = torch.bincount(self.rows, minlength=k).cumsum(0)
        self.crow, self.shape = crow, (k, d)
        self.mean, self.inv_scale = design.mean[self.cols], design.inv_scale[self.cols]
        self.pattern = self._csr(torch.ones(self.m, dtype=design.dtype, device=design.device))

    @property
    def n_total(self) -> int:
        return self.design.n_total

    def total(self, value) -> float:
        return self.design.total(value)

    def _csr(self, values: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():  # torch's notice that CSR support is in beta
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self.crow, self.cols, values, self.shape, check_invariants=False)

    def _blocks(self):
        """``(start, X_block^T)``: the raw data's row blocks transposed, ``(d, rows)`` contiguous,
        from the design's cached copy (:func:`transposed_blocks`) or made on the fly."""
        cached = transposed_blocks(self.design)
        if cached is not None:
            yield from cached
            return
        for start, _, Xc in self.design.chunks():
            for s in range(0, len(Xc), BLOCK_ROWS):
                yield start + s, Xc[s:s + BLOCK_ROWS].T.contiguous()

    def forward(self, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``Xs @ W.T + b`` for ``W`` zero outside the coordinates, whose values are ``w``."""
        values = w * self.inv_scale
        offset = b - torch.zeros_like(b).index_add_(0, self.rows, values * self.mean)
        out = torch.empty(self.design.n_samples, self.k, dtype=w.dtype, device=w.device)
        if self.m == 0:
            out[:] = offset
            return out
        W = self._csr(values)
        for start, XbT in self._blocks():
            rows = XbT.shape[1]
            torch.add(torch.sparse.mm(W, XbT).T, offset, out=out[start:start + rows])
        return out

    def gradient(self, U: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean loss's gradient on the coordinates (a vector of length ``m``) and in ``b``."""
        colsum = U.sum(0)
        g = torch.zeros(self.m, dtype=U.dtype, device=U.device)
        if self.m:
            for start, XbT in self._blocks():
                Ub = U[start:start + XbT.shape[1]].T.contiguous()
                g += torch.sparse.sampled_addmm(self.pattern, Ub, XbT.T, beta=0.0).values()
        g, colsum = self.design.reduce_with_colsum(g, colsum)
        g = (g - colsum[self.rows] * self.mean) * self.inv_scale
        n = self.design.n_total
        return g / n, colsum / n


def transposed_blocks(design: Design) -> list | None:
    """The preloaded data's row blocks transposed (``(start, X_block^T)``), made once and kept on
    ``design``, or None for a streamed design or data above :data:`TRANSPOSED_COPY_LIMIT`. The
    sparse products read the data by feature: with the copy they skip the per-product transposes
    (n=10,000, d=2048, k=500, 10,000 coefficients: forward 35.6 -> 18.0 ms, gradient 35.3 ->
    21.6 ms), at the cost of a second copy of the data in memory while the path runs."""
    if design._transposed_blocks is not None or not _copy_allowed(design):
        return design._transposed_blocks
    X = design.data
    design._transposed_blocks = [(s, X[s:s + BLOCK_ROWS].T.contiguous()) for s in range(0, len(X), BLOCK_ROWS)]
    return design._transposed_blocks


def _copy_allowed(design: Design) -> bool:
    """Whether :func:`transposed_blocks` keeps a copy: preloaded data within the limit."""
    return design.data is not None and design.data.numel() * design.data.element_size() <= TRANSPOSED_COPY_LIMIT


def cheaper(design: Design, n_coords: int, touched: int, k: int, n_columns: int) -> bool:
    """Whether the sparse products over ``n_coords`` coefficients on ``touched`` columns of
    ``design`` cost less than dense ones over ``n_columns`` columns and ``k`` outputs (the cost
    model of :data:`CLASS_COST`)."""
    on_the_fly = not _copy_allowed(design)  # the data is transposed at every product
    sparse = CLASS_COST * k + COEFFICIENT_COST * n_coords + (COLUMN_COST * touched if on_the_fly else 0)
    return sparse < k * n_columns


def column_coords(cols: torch.Tensor, k: int, d: int) -> torch.Tensor:
    """The flat coordinates ``c * d + j`` of every class on columns ``cols``, in the order of a
    ``(k, len(cols))`` block (class-major): a column working set as a coordinate set."""
    return (torch.arange(k, device=cols.device)[:, None] * d + cols[None, :]).reshape(-1)

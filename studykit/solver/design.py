"""The design matrix as the solver sees it: the training rows, standardized on the fly.

The solver never copies or modifies the caller's features. Standardization ``(x - mean) / scale``
is folded into every product instead of being applied to ``X``::

    Xs @ W.T      = X @ (W / scale).T - (W / scale) @ mean
    Xs.T @ U      = (X.T @ U - mean[:, None] * U.sum(0)) / scale[:, None]

so an in-memory tensor is used as it is, and a memory-mapped ``.npy`` that does not fit on the
device is streamed in row chunks (``Design.chunks``), each moved to the device once per pass.

Across the ranks of a process group (issue 14) a design is one rank's contiguous block of the
training rows (``sharded=True``). Every sum over rows then goes through one all-reduce:
:meth:`Design.gradient` packs ``X^T U`` and ``U.sum(0)`` into one buffer, :meth:`Design.total`
reduces a loss sum, and the moments are reduced before they are used. Products with ``W``
(``forward``) stay local. Reduced values are identical on every rank, so every decision taken from
them (working sets, line searches, stopping) is the same everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from studykit._device import resolve_device as _resolve_device
from studykit.distributed import all_reduce

log = logging.getLogger(__name__)

#: Feature scales below this are treated as constant features (scale set to 1, column is all zero
#: after centering, so its coefficient stays exactly zero).
CONSTANT_SCALE = 1e-12


def as_index(rows) -> np.ndarray | None:
    if rows is None:
        return None
    rows = np.asarray(rows)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    return np.sort(rows.astype(np.int64))


def resolve_dtype(X, dtype: torch.dtype | None) -> torch.dtype:
    if dtype is not None:
        return dtype
    src = X.dtype if isinstance(X, torch.Tensor) else torch.from_numpy(np.empty(0, X.dtype)).dtype
    return src if src in (torch.float32, torch.float64) else torch.float32


def resolve_device(X, device) -> torch.device:
    if device is not None:
        return _resolve_device(device)
    return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")


def _fits_on_device(nbytes: int, device: torch.device, is_memmap: bool) -> bool:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes < 0.5 * free
    # On the CPU an in-RAM array is used without a copy; a memmap is read chunk by chunk unless small.
    return not is_memmap or nbytes < 2 * 1024**3


@dataclass
class Design:
    """Standardized training rows. ``mean``/``scale`` are ``(n_features,)`` tensors on ``device``.

    Parameters
    ----------
    data : tensor on ``device`` holding all rows (preloaded), or ``None`` when streaming.
    source : the caller's array (tensor, ndarray or memmap), shape ``(n_total, n_features)``.
    rows : sorted row indices of ``source`` that form this design, or ``None`` for all rows.
    """

    source: object
    rows: np.ndarray | None
    device: torch.device
    dtype: torch.dtype
    data: torch.Tensor | None
    mean: torch.Tensor
    scale: torch.Tensor
    chunk_rows: int = 65536
    cols: torch.Tensor | None = None
    inv_scale: torch.Tensor | None = None  # 1/scale, 0 for constant features
    #: GEMM precision of forward/backward: "highest" (exact float32/float64), "tf32" (TensorFloat-32
    #: on CUDA; no effect elsewhere) or "bf16" (bfloat16 operands, float32 accumulation and output).
    precision: str = "highest"
    #: One rank's block of the rows of a process group: sums over rows are all-reduced.
    sharded: bool = False
    #: Rows of all ranks together (``n_samples`` when not sharded); set by :meth:`build`.
    total_rows: int | None = None

    def __post_init__(self):
        if self.inv_scale is None:
            self.inv_scale = 1.0 / self.scale
        self._lowp = None  # bfloat16 copy of data, made on first use
        self._transposed_blocks = None  # row blocks transposed, for sparse products (.coordinates)

    def with_precision(self, precision: str) -> "Design":
        """The same design whose products use ``precision`` (shares the data)."""
        if precision == self.precision:
            return self
        return Design(self.source, self.rows, self.device, self.dtype, self.data, self.mean, self.scale,
                      self.chunk_rows, self.cols, self.inv_scale, precision, self.sharded, self.total_rows)

    def _mm(self, A: torch.Tensor, B: torch.Tensor, data_first: bool) -> torch.Tensor:
        """``A @ B`` at this design's precision; ``data_first``: A (else B) is the data matrix."""
        if self.precision == "bf16":
            if self.data is not None and (A is self.data or B is self.data):
                if self._lowp is None:
                    self._lowp = self.data.to(torch.bfloat16)
                A, B = (self._lowp, B) if data_first else (A, self._lowp)
            return (A.to(torch.bfloat16) @ B.to(torch.bfloat16)).to(self.dtype)
        if self.precision == "tf32" and A.is_cuda:
            previous = torch.backends.cuda.matmul.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = True
            try:
                return A @ B
            finally:
                torch.backends.cuda.matmul.allow_tf32 = previous
        return A @ B

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, X, rows=None, *, device=None, dtype=None, standardize=True, preload="auto",
              chunk_rows=65536, stats=None, sharded=False) -> "Design":
        """The design of rows ``rows`` of ``X`` (all rows when None). ``sharded``: these rows are
        this rank's block of the active process group's training rows (collective: every rank calls
        it)."""
        device = resolve_device(X, device)
        dtype = resolve_dtype(X, dtype)
        rows = as_index(rows)
        n = len(rows) if rows is not None else X.shape[0]
        nbytes = n * X.shape[1] * torch.empty(0, dtype=dtype).element_size()
        is_memmap = isinstance(X, np.memmap)
        load = preload == "always" or (preload == "auto" and _fits_on_device(nbytes, device, is_memmap))
        data = _load_rows(X, rows, device, dtype) if load else None
        d = X.shape[1]
        zeros = torch.zeros(d, device=device, dtype=dtype)
        design = cls(X, rows, device, dtype, data, zeros, torch.ones_like(zeros), chunk_rows, sharded=sharded)
        if sharded:  # rows of all ranks: the n of every mean
            design.total_rows = int(design.reduce(torch.tensor([n], dtype=torch.int64, device=device)).item())
        if stats is not None:  # (mean, scale, inv_scale) of the training design
            design.mean, design.scale, design.inv_scale = (torch.as_tensor(s, device=device, dtype=dtype)
                                                           for s in stats)
        elif standardize:
            design.mean, design.scale, constant = design._moments()
            design.inv_scale = torch.where(constant, torch.zeros_like(design.scale), 1.0 / design.scale)
        return design

    def _moments(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Column mean, population standard deviation (1 for constant columns) and the mask of
        constant columns, accumulated in float64. Constant columns are dropped exactly (their
        ``inv_scale`` is 0), so rounding in the centering cannot give them a coefficient."""
        s1 = torch.zeros(self.n_features, dtype=torch.float64, device=self.device)
        s2 = torch.zeros_like(s1)
        for _, _, Xc in self.chunks():
            Xc = Xc.double()
            s1 += Xc.sum(0)
        mean = self.reduce(s1) / self.n_total
        for _, _, Xc in self.chunks():
            s2 += (Xc.double() - mean).pow(2).sum(0)
        std = (self.reduce(s2) / self.n_total).sqrt()
        constant = std <= CONSTANT_SCALE * (1 + mean.abs())
        std = torch.where(constant, torch.ones_like(std), std)
        return mean.to(self.dtype), std.to(self.dtype), constant

    # ------------------------------------------------------------------ shape
    @property
    def n_samples(self) -> int:
        """Rows of this design (of this rank, when sharded)."""
        return len(self.rows) if self.rows is not None else self.source.shape[0]

    @property
    def n_total(self) -> int:
        """Rows of all ranks together: the ``n`` of the mean loss."""
        return self.total_rows if self.total_rows is not None else self.n_samples

    # ------------------------------------------------------------------ reductions over rows
    def reduce(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` summed over the ranks (in place) when sharded; ``t`` itself otherwise."""
        return all_reduce(t) if self.sharded else t

    def total(self, value) -> float:
        """A per-rank sum (a loss, a count) summed over the ranks, as a Python float."""
        if not self.sharded:
            return float(value)
        t = torch.as_tensor(value, device=self.device).to(torch.float64).reshape(1)
        return float(self.reduce(t))

    @property
    def n_features(self) -> int:
        if self.data is not None:
            return self.data.shape[1]
        return len(self.cols) if self.cols is not None else self.source.shape[1]

    # ------------------------------------------------------------------ access
    def chunks(self):
        """Yield ``(start, stop, X_chunk)`` of raw (unstandardized) rows on the device."""
        if self.data is not None:
            yield 0, self.n_samples, self.data
            return
        for start in range(0, self.n_samples, self.chunk_rows):
            stop = min(start + self.chunk_rows, self.n_samples)
            idx = self.rows[start:stop] if self.rows is not None else slice(start, stop)
            Xc = _load_rows(self.source, idx, self.device, self.dtype)
            if self.cols is not None:
                Xc = Xc.index_select(1, self.cols)
            yield start, stop, Xc

    def take(self, idx: torch.Tensor) -> torch.Tensor:
        """Standardized rows ``idx`` (positions within this design), for minibatches."""
        if self.data is not None:
            Xb = self.data.index_select(0, idx)
        else:
            pos = idx.cpu().numpy()
            src = self.rows[pos] if self.rows is not None else pos
            order = np.argsort(src)
            Xb = torch.empty(len(src), self.n_features, dtype=self.dtype, device=self.device)
            Xb[torch.from_numpy(order).to(self.device)] = _load_rows(self.source, src[order], self.device,
                                                                     self.dtype, self.cols)
        return (Xb - self.mean) * self.inv_scale

    def restrict(self, cols: torch.Tensor) -> "Design":
        """The same rows on a subset of columns (a working set); materialized when preloaded."""
        cols = cols.to(self.device)
        base = self.cols[cols] if self.cols is not None else cols
        data = self.data.index_select(1, cols) if self.data is not None else None
        return Design(self.source, self.rows, self.device, self.dtype, data, self.mean[cols], self.scale[cols],
                      self.chunk_rows, None if data is not None else base, self.inv_scale[cols], self.precision,
                      self.sharded, self.total_rows)

    # ------------------------------------------------------------------ products
    def forward(self, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``Xs @ W.T + b``, shape ``(n_samples, n_outputs)``."""
        Wr = W * self.inv_scale
        offset = b - Wr @ self.mean
        if self.precision != "highest":
            if self.data is not None:
                return self._mm(self.data, Wr.T, True) + offset
            return torch.cat([self._mm(Xc, Wr.T, True) + offset for _, _, Xc in self.chunks()])
        if self.data is not None:
            return torch.addmm(offset, self.data, Wr.T)
        out = torch.empty(self.n_samples, W.shape[0], dtype=self.dtype, device=self.device)
        for start, stop, Xc in self.chunks():
            torch.addmm(offset, Xc, Wr.T, out=out[start:stop])
        return out

    def backward(self, U: torch.Tensor) -> torch.Tensor:
        """``Xs.T @ U`` as ``(n_outputs, n_features)`` (i.e. ``U.T @ Xs``), summed over the ranks."""
        return self._backward_and_sum(U)[0]

    def gradient(self, U: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean loss's gradient from the residual ``U = dloss/dZ``: ``(Xs.T @ U / n, U.sum(0) / n)``
        with ``n`` = :attr:`n_total`; one all-reduce when sharded."""
        G, colsum = self._backward_and_sum(U)
        return G / self.n_total, colsum / self.n_total

    def _backward_and_sum(self, U: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        colsum = U.sum(0)
        if self.precision != "highest":
            G = self._mm(U.T, self.data, False) if self.data is not None else \
                sum(self._mm(U[start:stop].T, Xc, False) for start, stop, Xc in self.chunks())
        elif self.data is not None:
            G = U.T @ self.data
        else:
            G = torch.zeros(U.shape[1], self.n_features, dtype=self.dtype, device=self.device)
            for start, stop, Xc in self.chunks():
                G.addmm_(U[start:stop].T, Xc)
        G, colsum = self.reduce_with_colsum(G, colsum)
        G -= colsum[:, None] * self.mean
        return G * self.inv_scale, colsum

    def reduce_with_colsum(self, G: torch.Tensor, colsum: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A per-rank gradient sum ``G`` and the residual's column sums, summed over the ranks in
        one all-reduce of ``[G | colsum]`` when sharded; unchanged otherwise."""
        if not self.sharded:
            return G, colsum
        packed = self.reduce(torch.cat([G.reshape(-1), colsum.to(G.dtype)]))
        return packed[:G.numel()].reshape(G.shape), packed[G.numel():]

    def operator_norm_sq(self, n_iter: int = 30, seed: int = 0) -> float:
        """Largest eigenvalue of ``[Xs, 1]^T [Xs, 1] / n`` by power iteration (a lower estimate;
        callers keep a backtracking safeguard)."""
        gen = torch.Generator(device="cpu").manual_seed(seed)
        v = torch.randn(1, self.n_features, generator=gen, dtype=torch.float64).to(self.device, self.dtype)
        v0 = torch.ones(1, dtype=self.dtype, device=self.device)
        est = 0.0
        for _ in range(n_iter):
            norm = torch.sqrt(v.pow(2).sum() + v0.pow(2).sum())
            v, v0 = v / norm, v0 / norm
            v, v0 = self.gradient(self.forward(v, v0))
            new = float(torch.sqrt(v.pow(2).sum() + v0.pow(2).sum()))
            if abs(new - est) <= 1e-4 * new:
                est = new
                break
            est = new
        return est


def _load_rows(source, idx, device, dtype, cols=None) -> torch.Tensor:
    """Rows ``idx`` (slice, index array or None) of ``source`` as a tensor on ``device``."""
    if isinstance(source, torch.Tensor):
        t = source if idx is None else source[torch.as_tensor(idx) if not isinstance(idx, slice) else idx]
    else:
        arr = np.ascontiguousarray(source if idx is None else source[idx])
        if not arr.flags.writeable:  # read-only memmap: torch needs a writable buffer
            arr = np.array(arr)
        t = torch.from_numpy(arr)
    t = t.to(device=device, dtype=dtype, non_blocking=True)
    if cols is not None:
        t = t.index_select(1, cols)
    return t

"""Configuration of a regularization path: one frozen dataclass that validates itself."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, fields

from .datafits import FAMILIES
from .saga import STOPPING_RULES

METHODS = ("auto", "owlqn", "fista", "saga", "cd")
#: GEMM precision of the working-set solvers on a GPU: "highest" (exact float32, the default),
#: "tf32" (TensorFloat-32 tensor cores) or "bf16" (bfloat16 inputs, float32 accumulation). The
#: KKT certificate, the objective and the reported metrics are always computed in float32 or better.
MATMUL_PRECISIONS = ("highest", "tf32", "bf16")


@dataclass(frozen=True)
class PathConfig:
    """Every knob of :func:`studykit.solver.fit_path`; see its docstring for their meaning."""

    family: str = "multinomial"
    l1_ratio: float = 0.99
    n_alphas: int = 100
    eps: float = 1e-3
    alphas: tuple[float, ...] | None = None
    method: str = "owlqn"
    stopping: str = "auto"
    tol: float | None = None
    lookbehind: int = 5
    max_epochs: int = 2000
    batch_size: int = 512
    lr: float | None = None
    standardize: bool = True
    seed: int = 0
    dtype: str | None = None
    matmul_precision: str = "highest"
    grouped: bool = False
    include_unregularized: bool = False

    def __post_init__(self):
        _check(self.family in FAMILIES, "family", self.family, f"one of {sorted(FAMILIES)}")
        _check(self.method in METHODS, "method", self.method, f"one of {list(METHODS)}")
        _check(_finite(self.l1_ratio) and 0.0 <= self.l1_ratio <= 1.0, "l1_ratio", self.l1_ratio, "in [0, 1]")
        _check(isinstance(self.n_alphas, int) and self.n_alphas >= 1, "n_alphas", self.n_alphas, "an integer >= 1")
        _check(_finite(self.eps) and 0.0 < self.eps < 1.0, "eps", self.eps, "in (0, 1)")
        if self.alphas is not None:
            ok = len(self.alphas) >= 1 and all(_finite(a) and a >= 0 for a in self.alphas)
            _check(ok and list(self.alphas) == sorted(self.alphas, reverse=True), "alphas", self.alphas,
                   "a non-empty decreasing sequence of finite values >= 0")
        _check(self.method != "cd" or self.family == "gaussian", "method", self.method,
               "not 'cd' for family=" + repr(self.family) + " (Gram coordinate descent is gaussian only)")
        rules = ("auto",) + STOPPING_RULES if self.method == "saga" else ("auto", "kkt")
        _check(self.stopping in rules, "stopping", self.stopping, f"one of {list(rules)} for method={self.method!r}")
        _check(self.tol is None or (_finite(self.tol) and self.tol > 0), "tol", self.tol, "> 0")
        _check(isinstance(self.lookbehind, int) and self.lookbehind >= 1, "lookbehind", self.lookbehind, ">= 1")
        _check(isinstance(self.max_epochs, int) and self.max_epochs >= 1, "max_epochs", self.max_epochs, ">= 1")
        _check(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _check(self.lr is None or (_finite(self.lr) and self.lr > 0), "lr", self.lr, "> 0")
        _check(self.dtype in (None, "float32", "float64"), "dtype", self.dtype, "'float32', 'float64' or None")
        _check(self.matmul_precision in MATMUL_PRECISIONS, "matmul_precision", self.matmul_precision,
               f"one of {list(MATMUL_PRECISIONS)}")
        _check(self.matmul_precision == "highest" or self.method in ("auto", "owlqn", "fista"), "matmul_precision",
               self.matmul_precision, f"'highest' with method={self.method!r}")
        _check(isinstance(self.grouped, bool), "grouped", self.grouped, "True or False")
        _check(not (self.grouped and self.method == "cd"), "method", self.method,
               "not 'cd' with grouped=True (Gram coordinate descent has no group form)")
        _check(isinstance(self.include_unregularized, bool), "include_unregularized", self.include_unregularized,
               "True or False")

    @property
    def solver(self) -> str:
        """The method in force: ``method``; ``"auto"`` is ``owlqn``, which measured fastest for
        both families (benchmarks/solver.py; ``cd`` wins only when n_samples >> n_features).
        OWL-QN's orthant-wise steps have no group form, so a ``grouped`` path with ``owlqn``
        (or ``auto``) is solved by ``fista``, the other working-set solver (issue 19)."""
        method = "owlqn" if self.method == "auto" else self.method
        return "fista" if self.grouped and method == "owlqn" else method

    @property
    def stopping_rule(self) -> str:
        """The rule in force: ``kkt`` for the working-set solvers, the appendix's ``gradient``
        rule for SAGA."""
        if self.stopping != "auto":
            return self.stopping
        return "gradient" if self.solver == "saga" else "kkt"

    @property
    def tolerance(self) -> float:
        """``tol`` or its default: 1e-4 (relative KKT for ``kkt``, absolute for the paper's rules)."""
        return 1e-4 if self.tol is None else self.tol

    def to_dict(self) -> dict:
        d = asdict(self)
        d["alphas"] = list(self.alphas) if self.alphas is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict, *, strict: bool = True) -> "PathConfig":
        """The configuration in ``d`` (``to_dict()``'s form). Fields missing from ``d`` (a file
        written by an older version) take their defaults; with ``strict=False`` keys that are not
        fields are ignored (``config.json`` also holds facts about the data)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown and strict:
            raise ValueError(f"unknown path configuration fields: {unknown}")
        d = {key: value for key, value in d.items() if key in names}
        if d.get("alphas") is not None:
            d["alphas"] = tuple(d["alphas"])
        return cls(**d)

    def replace(self, **changes) -> "PathConfig":
        """A copy with ``changes`` (field names) applied and validated; an unknown name is a
        ``TypeError`` naming it."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown path configuration option(s) {unknown}; valid: {sorted(names)}")
        if changes.get("alphas") is not None:
            changes["alphas"] = tuple(float(a) for a in changes["alphas"])
        return dataclasses.replace(self, **changes)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check(ok: bool, name: str, value, expected: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid: expected {expected}")

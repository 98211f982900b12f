"""Working-set solver for one ``alpha``: ``method="owlqn"`` (default) and ``method="fista"``.

For one ``alpha`` the solver

1. computes the full gradient at the warm start and the KKT violation of every coefficient;
2. solves the problem restricted to a *working set* with an inner solver: ``owlqn``
   (orthant-wise limited-memory quasi-Newton, :mod:`.owlqn`) or ``fista`` (accelerated proximal
   gradient, :mod:`.fista`). The working set is a set of feature columns (the current support
   and the columns with the largest KKT violations, as celer and skglm do; it grows by the
   violating columns, :func:`working_set`) or, for ``owlqn`` on the CPU where it is cheaper, a
   set of single (class, feature) coefficients chosen by the same rule (issue 12,
   :mod:`.coordinates`: at hundreds of classes the support touches every column while a few
   percent of the coefficients are non-zero);
3. checks the KKT conditions of the *full* problem at the restricted solution (one pass over the
   data); if any coefficient violates them, step 2 repeats with a larger working set.

It stops when the largest KKT violation (coefficients and intercept), divided by the gradient
scale at the null model ``alpha_max * l1_ratio``, is at most ``tol``: a certificate of optimality
for the full problem, not a heuristic on the step length. On a column working set every product
is a GEMM over its columns, ``O(n_samples * |columns| * n_classes)`` per iteration; on a
coefficient working set the products are sparse, ``O(n_samples * |coefficients|)`` plus a read
of the columns they touch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from .coordinates import CoordinateDesign, cheaper, column_coords
from .design import Design
from .fista import fista
from .owlqn import Curvature, owlqn
from .penalties import group_kkt_violation, kkt_violation

log = logging.getLogger(__name__)

INNER_SOLVERS = {"owlqn": owlqn, "fista": fista}
#: Reduced-precision GEMMs (``precision="tf32"``/``"bf16"``) run one approach phase per alpha, at
#: most this many inner iterations down to this relative KKT violation (a bf16 objective has about
#: 3 significant digits, TF32 about 4); the solve then continues, and is certified, at full precision.
LOW_PRECISION_ITERATIONS = 200
LOW_PRECISION_FLOOR = {"tf32": 1e-3, "bf16": 1e-2}
#: Working sets grow by the violating columns, and double only from this round on (:func:`working_set`).
GROW_BY_VIOLATORS = True
DOUBLE_AFTER = 3
#: OWL-QN's curvature pairs carry over from one working-set round to the next and, when the path
#: passes a :class:`.owlqn.Curvature`, from one alpha to the next.
CARRY_PAIRS = True
#: The first OWL-QN round of an alpha stops after this many iterations for a full KKT check, so
#: the columns that start to violate join the working set early instead of in a second round from
#: an already converged point (with the carried pairs the restart costs only the check). Issue 12,
#: first 22 alphas of the default grid at n=10,000, d=2048: k=500 17.7 -> 13.1 full gradients per
#: alpha (5 iterations: 14.3, 15: 13.6); k=200 (31 alphas) 13.4 -> 10.2. 0 turns it off. Not when
#: the working set is every column: nothing can join it.
EARLY_CHECK = 10
#: Working sets of coefficients with sparse products where the cost model of :mod:`.coordinates`
#: says they are cheaper than columns, on the CPU; False: working sets of feature columns only.
COORDINATES = True


@dataclass
class SolveInfo:
    """What one ``alpha`` cost and how well it converged."""

    epochs: int  # passes over the data: SAGA epochs; working-set iterations plus full KKT checks
    converged: bool
    working_set: int  # feature columns in the last working set (all features for SAGA)
    diverged: bool = False  # SAGA: the iterates blew up (non-finite, or objective > diverge_above)


@dataclass
class Gradient:
    """The full-data quantities at one point ``(W, b)``: predictions ``Z`` ``(n, k)``, mean loss,
    its gradient ``G`` ``(k, d)`` in ``W`` and ``gb`` ``(k,)`` in ``b``. They do not depend on
    ``alpha``, so the last one of an alpha starts the next."""

    Z: torch.Tensor
    loss: float
    G: torch.Tensor
    gb: torch.Tensor


def full_gradient(design: Design, Y, datafit, W, b) -> Gradient:
    """One pass over the data at ``(W, b)``: a deterministic function of ``(W, b)``, so a resumed
    path recomputes exactly what an uninterrupted one carried over.

    The forward product runs over the feature columns where ``W`` is non-zero only (issue 12: on a
    sparse path most of the ``d`` columns are zero, and their product would be half of the pass),
    and as a sparse product (:class:`.coordinates.CoordinateDesign`) where ``W``'s non-zeros are
    sparse in those columns; the backward product, which the KKT check of every feature needs,
    runs over all columns."""
    nonzero = W != 0
    support = nonzero.any(0)
    n_support, (k, d) = int(support.sum()), W.shape
    nnz = int(nonzero.sum())
    if _coordinates_on(design) and cheaper(design, nnz, n_support, k, n_support):
        flat = nonzero.reshape(-1).nonzero().squeeze(1)
        Z = CoordinateDesign(design, flat, k).forward(W.reshape(-1)[flat], b)
    elif n_support < d:
        cols = support.nonzero().squeeze(1)
        Z = design.restrict(cols).forward(W.index_select(1, cols), b)
    else:
        Z = design.forward(W, b)
    U, loss = datafit.residual_and_loss(Z, Y)
    G, gb = design.gradient(U)
    return Gradient(Z, design.total(loss) / design.n_total, G, gb)


def _coordinates_on(design: Design) -> bool:
    """Coordinate working sets and sparse forward products: on the CPU (see :mod:`.coordinates`)."""
    return COORDINATES and design.device.type == "cpu" and design.precision == "highest"


def max_violation(W, G, gb, alpha, l1_ratio, grouped: bool = False) -> tuple[float, torch.Tensor]:
    """Largest KKT violation overall and per feature column (max over classes; for ``grouped``, the
    column's violation of the group conditions)."""
    return _violations(W, G, gb, alpha, l1_ratio, grouped)[:2]


def _violations(W, G, gb, alpha, l1_ratio, grouped: bool = False):
    """:func:`max_violation` and the violation of every coefficient (None for ``grouped``)."""
    V = None
    if grouped:  # issue 19
        per_feature = group_kkt_violation(W, G, alpha, l1_ratio)
    else:
        V = kkt_violation(W, G, alpha, l1_ratio)
        per_feature = V.amax(0) if V.numel() else V.new_zeros(W.shape[1])
    worst = max(float(per_feature.max()) if per_feature.numel() else 0.0, float(gb.abs().max()))
    return worst, per_feature, V


def working_set(per_feature, support, target: float, *, previous: int = 0, rounds: int = 0,
                minimum: int = 32) -> torch.Tensor:
    """The feature columns of the next round (sorted): the support (columns with a non-zero
    coefficient) and the columns with the largest KKT violations ``per_feature``.

    Issue 12: it holds ``|support| + max(minimum, |support| / 4, 2 v)`` columns, ``v`` the columns
    outside the support that violate the KKT conditions (above ``target``), so every violating
    column enters and the set grows with what the last check found, not by doubling: a round that
    failed typically leaves a few dozen violating columns next to a support of a thousand, and
    doubling then spent a second round on all ``d`` columns (k=200, n=10,000, d=2048: 17.7 -> 14.4
    full gradients per alpha over the first 31 alphas of the default grid). From round
    :data:`DOUBLE_AFTER` on, the size at least doubles (``previous``: the last round's size), which
    bounds the rounds per alpha as celer's rule does; ``GROW_BY_VIOLATORS = False`` restores the
    doubling from the first failed round."""
    d = per_feature.numel()
    n_support = int(support.sum())
    if GROW_BY_VIOLATORS:
        violating = int(((per_feature > target) & ~support).sum())
        size = max(previous * 2 if rounds >= DOUBLE_AFTER else 0, n_support + max(minimum, n_support // 4, 2 * violating))
    else:
        size = max(previous * 2, minimum, n_support + max(minimum, n_support // 4))
    score = torch.where(support, torch.full_like(per_feature, math.inf), per_feature)
    return torch.sort(torch.topk(score, min(d, size)).indices).values


def solve_working_set(design: Design, Y, datafit, W, b, alpha: float, l1_ratio: float, *,
                      grad: Gradient | None, grad_scale: float, tol: float, max_epochs: int,
                      lipschitz_full: float, inner: str = "owlqn", min_working_set: int = 32,
                      precision: str = "highest", grouped: bool = False,
                      curvature: Curvature | None = None) -> tuple:
    """Solve one ``alpha`` from the warm start ``(W, b)`` (``grad``: its :class:`Gradient`, or
    None to compute it); returns ``W, b, grad, info`` with ``grad`` at the solution.

    ``precision`` (``"tf32"``/``"bf16"``) applies to the inner solver's GEMMs only: the full
    gradient, hence the KKT certificate and the reported objective, is computed at ``design``'s
    own (exact) precision, and the last inner rounds run exact (``LOW_PRECISION_*``).
    ``curvature``: OWL-QN's pairs from the last alpha, used and updated in place (the path keeps
    one :class:`.owlqn.Curvature` from alpha to alpha); None keeps them within this alpha."""
    target = tol * grad_scale
    k, d = W.shape
    if grad is None:
        grad = full_gradient(design, Y, datafit, W, b)
    epochs = 0
    worst, per_feature, V = _violations(W, grad.G, grad.gb, alpha, l1_ratio, grouped)
    n_ws = n_coords = 0
    extra = {"grouped": True} if grouped else {}  # issue 19: only fista has a group prox
    inner_target = 0.5 * target
    rounds = 0
    if curvature is None or not CARRY_PAIRS:
        curvature = Curvature()  # this alpha's rounds only
    l2 = alpha * (1.0 - l1_ratio)
    coordinates = inner == "owlqn" and precision == "highest" and not grouped and _coordinates_on(design)
    checked = False
    while worst > target and epochs < max_epochs:
        nonzero = W != 0
        support = nonzero.any(0)
        n_support = int(support.sum())
        cols = working_set(per_feature, support, target, previous=n_ws, rounds=rounds, minimum=min_working_set)
        flat = None  # the coordinates of a coordinate working set (see .coordinates)
        if coordinates:
            flat = working_set(V.reshape(-1), nonzero.reshape(-1), target, previous=n_coords, rounds=rounds,
                               minimum=min_working_set)
            touched = torch.unique(flat % d)
            if not cheaper(design, len(flat), len(touched), k, len(cols)):
                flat = None
        rounds += 1
        if flat is not None:
            n_coords, n_ws = len(flat), len(touched)
            sub = CoordinateDesign(design, flat, k)
            W0, coords, whole = W.reshape(-1)[flat], flat, False
        else:
            n_ws = len(cols)
            sub = (design if n_ws == d else design.restrict(cols)).with_precision(precision)
            W0, coords, whole = W[:, cols], None, n_ws == d
        L = lipschitz_full  # OWL-QN only scales its first step with it
        if inner == "fista" and n_ws <= d // 2:
            L = min(L, sub.operator_norm_sq(n_iter=15))
        budget, goal, Z0 = max_epochs - epochs, inner_target, grad.Z
        if precision != "highest":  # a cheap approach phase; the exact phase certifies
            budget, goal = min(budget, LOW_PRECISION_ITERATIONS), max(inner_target, LOW_PRECISION_FLOOR[precision] * grad_scale)
            Z0 = sub.forward(W0, b)  # one rounding throughout the phase
            if inner == "owlqn":
                extra = {**extra, "align_all": True}
        carry = CARRY_PAIRS and inner == "owlqn" and precision == "highest"
        if carry and coords is None:
            coords = column_coords(cols, k, d)
        pairs = curvature.on(coords, k * d, l2) if carry else None
        early = bool(carry and EARLY_CHECK and not checked and not whole)  # see EARLY_CHECK
        if early:
            budget, checked = min(budget, EARLY_CHECK), True
        Wa, b, _, used, stalled = INNER_SOLVERS[inner](
            sub, Y, datafit, W0, b, Z0, alpha, l1_ratio, L=L * datafit.curvature,
            target=goal, max_iter=budget, **({**extra, "pairs": pairs} if carry else extra))
        if carry:
            curvature.keep(pairs, coords, l2)
        W = torch.zeros_like(W)
        if flat is not None:
            W.view(-1)[flat] = Wa
        else:
            W[:, cols] = Wa
        grad = full_gradient(design, Y, datafit, W, b)
        epochs += used + 1
        worst, per_feature, V = _violations(W, grad.G, grad.gb, alpha, l1_ratio, grouped)
        inside = float(V.reshape(-1)[flat].max()) if flat is not None and len(flat) else \
            float(per_feature[cols].max())
        inside = max(inside, float(grad.gb.abs().max()))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("alpha=%.4g: working set %d columns%s (support %d), %d inner iterations, relative KKT "
                      "%.2e inside, %.2e overall, %d columns violate", alpha, n_ws,
                      f", {len(flat)} coefficients" if flat is not None else "", n_support, used,
                      inside / grad_scale, worst / grad_scale, int((per_feature > target).sum()))
        if precision != "highest":
            precision = "highest"
            extra.pop("align_all", None)
            continue
        if early and used >= budget and worst > target:
            rounds -= 1  # a look at the columns outside, not a failed round
            continue
        if stalled and inside > target:
            log.warning("alpha=%.4g: line search stalled at relative KKT violation %.2e (tol %.0e); "
                        "float64 may get further", alpha, worst / grad_scale, tol)
            break
        if inside > target:
            inner_target /= 4  # the step-length proxy was too loose for this problem
            n_ws = max(n_ws // 2, 1)  # keep the working set's size for the next round
            n_coords = max(n_coords // 2, 1)
    return W, b, grad, SolveInfo(epochs, worst <= target, n_ws)

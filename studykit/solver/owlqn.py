"""OWL-QN inner solver (Andrew & Gao, 2007) for a working set: ``method="owlqn"`` (default).

L-BFGS on the smooth part (mean loss + the l2 half of the penalty) with the l1 half handled by
orthant-wise steps: the pseudo-gradient (the minimum-norm subgradient, whose largest entry is the
exact KKT violation), directions projected onto its orthant, and a backtracking Armijo search
that zeroes coordinates which cross zero. Curvature pairs adapt the step to the actual Hessian,
which matters on the nearly separable, strongly correlated deep features of the dense end of a
path, where a fixed ``1/L`` step needs hundreds of iterations.

Three departures from Andrew & Gao (issue 12, measured with ``benchmarks/solver_work_probe.py``):
the quasi-Newton direction is kept on the *non-zero* coordinates even where its sign differs
from the pseudo-gradient's (only coordinates at zero must move against it; a non-zero one that
would cross zero is stopped at zero by the orthant projection of the line search); a curvature
pair's gradient difference ``y`` is kept only on the coordinates that were non-zero before or
after the step (``FREE_PAIRS``: a coordinate held at zero has ``s = 0``, and its ``y`` would only
shrink the initial scaling ``s.y / y.y`` and feed the two-loop recursion directions that the
orthant rule then discards: the reduced-space pairs of L-BFGS-B); and the memory holds
``MEMORY = 60`` pairs instead of 10. Full gradients per alpha (the probe's k=200, n=3000, d=128
default grid): 122.6 with none of them, 53.4 with the first and 30 pairs plus extrapolated warm
starts (:mod:`.warmstart`), 47.4 with all three; k=1000, n=12000, d=256, 12 alphas: 176.9 -> 146.4
for the last two. A fourth: the pairs are not discarded between working-set rounds or between
alphas (:class:`Curvature`): k=200, n=3000, d=128 default grid 47.0 -> 43.2; at d=2048 (k=200,
n=10,000) together with the working-set growth of :func:`.workingset.working_set` 24.0 -> 18.4
(17.7 with :data:`.workingset.EARLY_CHECK` as well).
Every alpha certified by the same KKT check.
"""

from __future__ import annotations

import torch

from .coordinates import column_coords
from .design import Design

#: L-BFGS curvature pairs kept (issue 12: 30 measured fewer iterations than 10 at k=200, 60 fewer
#: than 30; a pair holds and the two-loop recursion touches only its free coordinates, see
#: :func:`make_pair`: at most ``2 MEMORY k d`` floats, 1 GB at ImageNet's k=1000, d=2048).
MEMORY = 60
#: Andrew & Gao's alignment of *every* coordinate of the direction with the pseudo-gradient's
#: orthant (the behaviour before issue 12); False aligns only the coordinates at zero.
ALIGN_ALL = False
#: Keep a pair's ``y`` only on coordinates non-zero before or after the step (issue 12).
FREE_PAIRS = True


def _pseudo_gradient(W, G, l1):
    """Minimum-norm subgradient of ``f + l1 |W|_1`` (OWL-QN); its magnitude is the KKT violation."""
    pos, neg = G + l1, G - l1
    at_zero = torch.where(pos < 0, pos, torch.where(neg > 0, neg, torch.zeros_like(G)))
    return torch.where(W > 0, pos, torch.where(W < 0, neg, at_zero))


def owlqn(D: Design, Y, datafit, W, b, Z, alpha, l1_ratio, *, L, target, max_iter, memory=None,
          align_all=None, pairs=None):
    """Solve on design ``D`` from ``(W, b)`` with predictions ``Z``; ``L`` scales the first step.

    ``align_all`` (default :data:`ALIGN_ALL`): align every coordinate of the direction with the
    pseudo-gradient's orthant, which the reduced-precision approach phase needs (its noisy
    gradients make unaligned steps on the non-zero coordinates stall). Returns ``W, b, Z,
    iterations, stalled``; stops when the largest pseudo-gradient entry is at
    most ``target``, or (``stalled``) when no step decreases the objective beyond rounding."""
    n = D.n_total
    l1, l2 = alpha * l1_ratio, alpha * (1.0 - l1_ratio)
    memory = MEMORY if memory is None else memory
    align_all = ALIGN_ALL if align_all is None else align_all

    def value(Zc, Wc):
        U, loss = datafit.residual_and_loss(Zc, Y)
        return D.total(loss) / n + 0.5 * l2 * float(Wc.double().pow(2).sum()), U

    def grads(U, Wc):
        G, gb = D.gradient(U)
        return G + l2 * Wc, gb

    f, U = value(Z, W)
    G, gb = grads(U, W)
    F = f + l1 * float(W.double().abs().sum())
    # objective values carry the rounding of Z (float32 GEMMs): accept steps within that noise
    slack = 10 * torch.finfo(W.dtype).eps * max(1.0, abs(F))
    pairs = [] if pairs is None else pairs  # a list passed in is used and updated in place
    it = 0
    for it in range(1, max_iter + 1):
        pg = _pseudo_gradient(W, G, l1)
        if max(float(pg.abs().max()) if pg.numel() else 0.0, float(gb.abs().max())) <= target:
            return W, b, Z, it - 1, False
        dW, db = _two_loop(-pg, -gb, pairs, 1.0 / L)
        if l1:  # without an l1 term (ridge) this is plain L-BFGS: no orthants
            aligned = torch.sign(dW) == -torch.sign(pg)
            dW = torch.where(aligned if align_all else aligned | (W != 0), dW, torch.zeros_like(dW))
            orthant = torch.where(W != 0, torch.sign(W), -torch.sign(pg))
        if float((pg * dW).sum() + (gb * db).sum()) >= 0:  # not a descent direction: steepest descent
            pairs.clear()
            dW, db = -pg / L, -gb / L
        t = 1.0
        for _ in range(30):
            Wn = W + t * dW
            if l1:
                Wn = torch.where(torch.sign(Wn) == orthant, Wn, torch.zeros_like(Wn))
            bn = b + t * db
            Zn = D.forward(Wn, bn)
            fn, Un = value(Zn, Wn)
            Fn = fn + l1 * float(Wn.double().abs().sum())
            decrease = float((pg * (Wn - W)).sum() + (gb * (bn - b)).sum())
            if Fn <= F + 1e-4 * decrease + slack:
                break
            t *= 0.5
        else:
            return W, b, Z, it, True  # no progress possible at this precision
        Gn, gbn = grads(Un, Wn)
        free = None
        if l1 and FREE_PAIRS:  # coordinates held at zero carry no curvature information
            free = ((Wn != 0) | (W != 0)).reshape(-1).nonzero().squeeze(1)
        pair = make_pair(free, (Wn - W).reshape(-1), bn - b, (Gn - G).reshape(-1), gbn - gb)
        if pair is not None:
            pairs.append(pair)
            if len(pairs) > memory:
                pairs.pop(0)
        W, b, Z, F, G, gb = Wn, bn, Zn, Fn, Gn, gbn
    return W, b, Z, it, False


def make_pair(free, s, sb, y, yb):
    """A curvature pair ``(free, s, sb, y, yb, s.y)`` from the flattened step ``s`` and gradient
    difference ``y`` (and the intercept's ``sb``, ``yb``), or None when ``s.y`` is not positive.
    ``free`` (flat indices, or None for all coordinates) keeps only those coordinates: the pair is
    zero elsewhere, so it costs ``|free|``, not ``k |working set|``, in memory and in the two-loop
    recursion (issue 12: with 60 full pairs at k=1000, d=2048 one recursion took 0.59 s against
    0.89 s for the forward and backward GEMMs of 12,000 rows; the free coordinates are a few
    thousand of the two million)."""
    if free is not None:
        s, y = s[free], y[free]
    sy = float(s @ y + sb @ yb)
    if sy > 1e-10 * float(s @ s + sb @ sb):
        return free, s, sb, y, yb, sy
    return None


class Curvature:
    """OWL-QN's curvature pairs kept between working-set rounds and between alphas (issue 12).

    Each alpha of a path used to start L-BFGS with no pairs, so its first iterations were
    gradient steps while the model was rebuilt, though the loss's curvature barely moves from one
    alpha of the grid to the next. The pairs are stored with the coefficients they live on
    (``coords``: the flat index ``c * d + j`` in ``W`` of each position of a pair's vector; a
    working set of columns is the class-major block of its columns,
    :func:`.coordinates.column_coords`) and the ``l2`` weight they were measured at; :meth:`on`
    re-expresses them on the next working set (a joining coefficient has ``s = y = 0``: it was
    held at zero, as :data:`FREE_PAIRS` records it; a leaving one is dropped) and shifts ``y`` by
    ``(l2' - l2) s``, which is exact because the smooth part's ``l2`` term is quadratic. Pairs
    whose ``s.y`` is no longer positive are dropped. The path saves them in its checkpoint
    (:meth:`state_dict`), so a resumed path repeats an uninterrupted one exactly."""

    def __init__(self, pairs=None, coords=None, l2=0.0):
        self.pairs, self.coords, self.l2 = list(pairs or []), coords, float(l2)

    def on(self, coords: torch.Tensor, size: int, l2: float) -> list:
        """The pairs on the working set ``coords`` (flat indices into ``W``, which has ``size``
        entries) at ridge weight ``l2``."""
        if not self.pairs:
            return []
        pos = torch.full((size,), -1, dtype=torch.long, device=coords.device)
        pos[coords] = torch.arange(len(coords), device=coords.device)
        where = pos[self.coords.to(coords.device)]  # old position -> new one (-1: left the set)
        shift = l2 - self.l2
        out = []
        for free, s, sb, y, yb, _ in self.pairs:
            new = where if free is None else where[free]
            kept = new >= 0
            pair = make_pair(None, s[kept], sb, y[kept] + shift * s[kept], yb)
            if pair is not None:
                out.append((new[kept], *pair[1:]))
        return out

    def keep(self, pairs: list, coords: torch.Tensor, l2: float) -> None:
        self.pairs, self.coords, self.l2 = pairs, coords, float(l2)

    def state_dict(self) -> dict:
        """CPU tensors for a checkpoint: about ``2 MEMORY |free|`` values (see :func:`make_pair`)."""
        cpu = lambda t: None if t is None else t.cpu()  # noqa: E731
        return {"coords": cpu(self.coords), "l2": self.l2,
                "pairs": [tuple(cpu(t) for t in pair[:5]) + (pair[5],) for pair in self.pairs]}

    @classmethod
    def from_state_dict(cls, state: dict | None, device, shape: tuple[int, int] | None = None) -> "Curvature":
        """``shape``: ``W``'s ``(k, d)``, which converts a checkpoint written before the pairs
        lived on coordinates (its ``"cols"``: the working set's columns)."""
        if not state:
            return cls()
        on = lambda t: None if t is None else t.to(device)  # noqa: E731
        pairs = [tuple(on(t) for t in pair[:5]) + (pair[5],) for pair in state["pairs"]]
        coords = on(state.get("coords"))
        if coords is None and state.get("cols") is not None:
            if shape is None:
                return cls()
            coords = column_coords(on(state["cols"]), *shape)
        return cls(pairs, coords, state["l2"])


def _two_loop(qW, qb, pairs, gamma0):
    """L-BFGS two-loop recursion: approximately ``H^{-1} q`` for the pair (``qW``, ``qb``);
    ``gamma0`` scales the initial inverse Hessian while no curvature pair is stored. Each pair
    touches only its own coordinates (:func:`make_pair`)."""
    shape = qW.shape
    q, qb = qW.reshape(-1).clone(), qb.clone()
    alphas = []
    for free, s, sb, y, yb, sy in reversed(pairs):
        a = float(s @ (q if free is None else q[free]) + sb @ qb) / sy
        alphas.append(a)
        if free is None:
            q.sub_(a * y)
        else:
            q.index_add_(0, free, y, alpha=-a)
        qb.sub_(a * yb)
    if pairs:
        _, s, sb, y, yb, sy = pairs[-1]
        gamma = sy / float(y @ y + yb @ yb)
    else:
        gamma = gamma0
    q.mul_(gamma)
    qb.mul_(gamma)
    for (free, s, sb, y, yb, sy), a in zip(pairs, reversed(alphas)):
        beta = float(y @ (q if free is None else q[free]) + yb @ qb) / sy
        if free is None:
            q.add_((a - beta) * s)
        else:
            q.index_add_(0, free, s, alpha=a - beta)
        qb.add_((a - beta) * sb)
    return q.reshape(shape), qb

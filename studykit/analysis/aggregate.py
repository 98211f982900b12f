"""Aggregating annotators' answers per task: confidence-weighted and plain majority votes, Dawid-Skene.

The paper determines "the final selection based on a majority vote over annotators, weighted by their
confidence" (appendix D.4). Confidence is a Likert answer 0-3, and its weight is

.. math::  w = 1 + c, \\qquad c \\in \\{0, 1, 2, 3\\},

so a confident vote counts up to four times a vote given with no confidence, and a confidence of 0
(or no confidence answer: weight 1) never erases a vote: the only vote of a task always decides it.
(crowd-kit's weighted majority vote takes one weight per worker, not per answer, so this vote is ours.)

Ties (several labels with the largest total weight) are broken by a seeded pseudo-random order: each
(task, label) pair gets a 64-bit key, SipHash-2-4 keyed by the seed of the task and of the label
(pandas' ``hash_array``), mixed by the SplitMix64 finaliser, and the tied label with the largest key
wins. Every tied label is equally likely to win, the result does not depend on the order of the rows,
and the same seed gives the same result on any machine.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["confidence_weight", "weighted_majority_vote", "majority_vote", "dawid_skene", "DawidSkeneResult",
           "VOTE_COLUMNS"]

#: Columns of the votes' results (indexed by task).
VOTE_COLUMNS = ("label", "score", "total", "share", "n_annotators", "tied")


def confidence_weight(confidence: pd.Series) -> pd.Series:
    """Weight ``1 + confidence`` of each answer; 1 where no confidence was given."""
    return 1.0 + pd.to_numeric(confidence, errors="coerce").fillna(0.0)


def weighted_majority_vote(annotations: pd.DataFrame, label: str = "label", *, weight: str | None = "confidence",
                           task: str = "task", seed: int = 0) -> pd.DataFrame:
    """Majority vote per task, each answer weighted by :func:`confidence_weight` of its ``weight`` column.

    Parameters
    ----------
    annotations : DataFrame
        Long table: one row per answer, with columns ``task``, ``label`` and ``weight``.
    label : str
        Column of the answers; empty or missing answers are ignored.
    weight : str or None
        Column of the confidences (0-3), or None for a plain majority vote (every weight 1). A table
        without that column (answers collected without a confidence question) is voted with weight 1.
    task : str
        Column of the task ids.
    seed : int
        Seed of the tie break (module docstring).

    Returns
    -------
    DataFrame
        Indexed by task (tasks without any answer are absent), with columns ``label`` (the winner),
        ``score`` (its total weight), ``total`` (all weights), ``share`` (score / total),
        ``n_annotators`` (answers counted) and ``tied`` (whether the winner was drawn among ties).
    """
    answers = annotations[annotations[label].notna() & annotations[label].astype(str).ne("")]
    weighted = weight is not None and weight in answers.columns
    weights = confidence_weight(answers[weight]) if weighted else pd.Series(1.0, index=answers.index)
    scores = (pd.DataFrame({"task": answers[task].to_numpy(), "label": answers[label].to_numpy(),
                            "weight": weights.to_numpy(dtype=float)})
              .groupby(["task", "label"], sort=False, observed=True)["weight"]
              .agg(score="sum", count="size").reset_index())
    return _winners(scores, seed)


def majority_vote(annotations: pd.DataFrame, label: str = "label", *, task: str = "task",
                  seed: int = 0) -> pd.DataFrame:
    """Plain majority vote per task (every answer weighs 1); same output and tie rule as
    :func:`weighted_majority_vote`."""
    return weighted_majority_vote(annotations, label, weight=None, task=task, seed=seed)


def _winners(scores: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Best-scoring label per task, ties broken by the seeded key.

    ``scores`` has one row per (task, label): ``task``, ``label``, ``score`` and ``count`` (answers).
    """
    if scores.empty:
        return pd.DataFrame(columns=list(VOTE_COLUMNS), index=pd.Index([], name="task"))
    scores = scores.assign(key=tie_keys(scores["task"], scores["label"], seed))
    grouped = scores.groupby("task", sort=False)
    best = grouped["score"].transform("max")
    # Integer weights sum exactly; a relative tolerance keeps fractional weights' ties ties.
    at_best = pd.Series(np.isclose(scores["score"], best, rtol=1e-12, atol=0.0), index=scores.index)
    n_best = at_best.groupby(scores["task"], sort=False).transform("sum")
    winners = (scores[at_best].assign(tied=n_best[at_best] > 1)
               .sort_values(["task", "key"], ascending=[True, False]).drop_duplicates("task"))
    totals = grouped["score"].sum()
    counts = grouped["count"].sum()
    result = winners.set_index("task")[["label", "score", "tied"]]
    result["total"] = totals.reindex(result.index)
    result["share"] = result["score"] / result["total"]
    result["n_annotators"] = counts.reindex(result.index)
    return result[list(VOTE_COLUMNS)]


def tie_keys(tasks: pd.Series, labels: pd.Series, seed: int) -> np.ndarray:
    """Seeded pseudo-random key of each (task, label): SipHash-2-4 keyed by the seed (pandas'
    ``hash_array``) of the task and of the label, mixed by the SplitMix64 finaliser; vectorised."""
    hash_key = f"{int(seed) % 2 ** 64:016x}"
    task_hash = pd.util.hash_array(tasks.astype(str).to_numpy(dtype=object), hash_key=hash_key)
    label_hash = pd.util.hash_array(labels.astype(str).to_numpy(dtype=object), hash_key=hash_key)
    with np.errstate(over="ignore"):
        key = task_hash * np.uint64(0x9E3779B97F4A7C15) ^ label_hash
        key ^= key >> np.uint64(30)
        key *= np.uint64(0xBF58476D1CE4E5B9)
        key ^= key >> np.uint64(27)
        key *= np.uint64(0x94D049BB133111EB)
        key ^= key >> np.uint64(31)
    return key


# ---------------------------------------------------------------------------------------- Dawid-Skene
@dataclasses.dataclass(frozen=True)
class DawidSkeneResult:
    """A fitted Dawid-Skene model.

    Attributes
    ----------
    votes : DataFrame
        Per task, as :func:`weighted_majority_vote` returns: ``label`` (most probable), ``score`` and
        ``share`` (its posterior probability), ``total`` (1), ``n_annotators``, ``tied``.
    probas : DataFrame
        Posterior probability of each true label, shape (n_tasks, n_labels).
    priors : Series
        Label prior, shape (n_labels,).
    errors : DataFrame
        Worker confusion matrices: indexed by (worker, observed label), one column per true label;
        ``errors.loc[(w, l), k]`` = P(worker w answers l | true label k).
    n_iter : int
        EM iterations run.
    converged : bool
        Whether the objective's change fell below ``tol`` within ``n_iter`` iterations.
    log_likelihood : float
        The objective L per answer at the end (:func:`dawid_skene`; crowd-kit's ``loss_history_[-1]``).
    """

    votes: pd.DataFrame
    probas: pd.DataFrame
    priors: pd.Series
    errors: pd.DataFrame
    n_iter: int
    converged: bool
    log_likelihood: float


_EPS = 1e-10


def dawid_skene(annotations: pd.DataFrame, label: str = "label", *, task: str = "task", worker: str = "worker",
                n_iter: int = 100, tol: float = 1e-5, seed: int = 0) -> DawidSkeneResult:
    """Dawid and Skene's (1979) latent-class model, fitted by EM with crowd-kit 1.4.2's defaults and stopping rule.

    Each worker w has a confusion matrix :math:`e^w_{lk} = P(\\text{answer } l \\mid \\text{true } k)`;
    true labels have the prior :math:`p_k`. Initialisation: the posteriors :math:`q` are the plain
    majority vote's label shares, then an M-step. Each iteration is an E-step (posterior
    :math:`q_{tk} \\propto p_k \\prod e^w_{l k}`), an M-step (:math:`p` = mean posterior, floored at
    1e-10; :math:`e^w_{lk} \\propto \\sum_{\\text{tasks of } w \\text{ answered } l} q_{tk}`, entries
    floored at 1e-10), and the objective

    .. math:: L = \\frac{1}{n_{\\text{answers}}} \\Big[\\sum_{\\text{answers } (t, w, l)} \\sum_k q_{tk}
              (\\log e^w_{lk} + \\log p_k) - \\sum_{t, k} q_{tk} \\log q_{tk}\\Big].

    **Convergence rule**: EM stops at the first iteration where L rises by less than ``tol`` (a fall
    stops it too), or after ``n_iter`` iterations. This is crowd-kit 1.4.2's ``DawidSkene`` exactly
    (``n_iter=100``, ``tol=1e-5``; its ``_evidence_lower_bound``), so both stop at the same iteration.
    Its L counts the prior once per answer rather than once per task, so it is not EM's evidence lower
    bound and can fall while EM still improves the likelihood; with few answers per worker it often
    stops after a handful of iterations. For the fixed point of EM, pass ``n_iter=500, tol=1e-10``.
    Ties between equally probable labels are broken by the seeded key of
    :func:`weighted_majority_vote` (crowd-kit takes the first label in its column order).

    Parameters
    ----------
    annotations : DataFrame
        Long table with columns ``task``, ``worker`` and ``label``; empty answers are ignored.
    label, task, worker : str
        Column names.
    n_iter : int
        Most EM iterations.
    tol : float
        Stopping tolerance on the change of L.
    seed : int
        Seed of the tie break between equally probable labels (as in :func:`weighted_majority_vote`).

    Returns
    -------
    DawidSkeneResult
    """
    if n_iter < 1 or tol < 0:
        raise ValueError(f"dawid_skene: n_iter must be >= 1 and tol >= 0, got n_iter={n_iter}, tol={tol}")
    answers = annotations[annotations[label].notna() & annotations[label].astype(str).ne("")]
    t, tasks = pd.factorize(answers[task], sort=True)
    w, workers = pd.factorize(answers[worker], sort=True)
    obs, labels = pd.factorize(answers[label], sort=True)
    n_labels = len(labels)
    # answers[task, worker x observed label] = 1: both EM steps are products with this sparse matrix.
    answered = sparse.csr_matrix((np.ones(len(t)), (t, w * n_labels + obs)),
                                 shape=(len(tasks), len(workers) * n_labels))
    per_task = np.asarray(answered.sum(axis=1)).ravel()
    probas = np.bincount(t * n_labels + obs, minlength=len(tasks) * n_labels).reshape(len(tasks), n_labels) \
        .astype(float)
    probas /= np.maximum(probas.sum(axis=1, keepdims=True), 1.0)
    priors = np.clip(probas.mean(axis=0), _EPS, None) if len(tasks) else np.ones(n_labels)
    counts, errors = _m_step(answered, probas, len(workers))
    previous, converged, iteration, objective = -np.inf, False, 0, float("nan")
    for iteration in range(1, n_iter + 1):
        probas = _e_step(answered, priors, errors)
        priors = np.clip(probas.mean(axis=0), _EPS, None)
        counts, errors = _m_step(answered, probas, len(workers))
        objective = _objective(probas, priors, counts, errors, per_task)
        if objective - previous < tol:
            converged = True
            break
        previous = objective
    return _ds_result(probas, priors, errors, tasks, workers, labels, t, iteration, converged, objective, seed)


def _objective(probas: np.ndarray, priors: np.ndarray, counts: np.ndarray, errors: np.ndarray,
               per_task: np.ndarray) -> float:
    """crowd-kit 1.4.2's ``_evidence_lower_bound`` per answer (docstring of :func:`dawid_skene`), from the
    M-step's counts: sum over answers of q log e is sum over (worker, label) cells of counts x log e."""
    n_answers = per_task.sum()
    if not n_answers:
        return 0.0
    joint = float((counts * np.log(errors)).sum()) + float((probas * per_task[:, None]).sum(axis=0) @ np.log(priors))
    clipped = np.clip(probas, _EPS, None)
    return (joint - float((clipped * np.log(clipped)).sum())) / n_answers


def _m_step(answered, probas: np.ndarray, n_workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts and confusion matrices, shape (n_workers, n_labels observed, n_labels true)."""
    n_labels = probas.shape[1]
    counts = np.asarray(answered.T @ probas).reshape(n_workers, n_labels, n_labels)
    errors = np.clip(counts, _EPS, None)
    return counts, errors / errors.sum(axis=1, keepdims=True)


def _e_step(answered, priors: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Posteriors of the true labels, shape (n_tasks, n_labels)."""
    joint = np.log(priors) + np.asarray(answered @ np.log(errors).reshape(-1, len(priors)))
    joint -= joint.max(axis=1, keepdims=True)
    probas = np.exp(joint)
    return probas / probas.sum(axis=1, keepdims=True)


def _ds_result(probas, priors, errors, tasks, workers, labels, t, iteration, converged, log_likelihood,
               seed) -> DawidSkeneResult:
    probas_frame = pd.DataFrame(probas, index=pd.Index(tasks, name="task"), columns=pd.Index(labels, name="label"))
    long = probas_frame.stack().rename("score").reset_index()
    long["count"] = 0
    errors_frame = pd.DataFrame(errors.reshape(-1, len(labels)), columns=pd.Index(labels, name="true"),
                                index=pd.MultiIndex.from_product([workers, labels], names=["worker", "label"]))
    votes = _winners(long, seed)
    votes["n_annotators"] = pd.Series(np.bincount(t, minlength=len(tasks)), index=tasks).reindex(votes.index)
    return DawidSkeneResult(votes, probas_frame, pd.Series(priors, index=labels, name="prior"),
                            errors_frame, iteration, converged, log_likelihood)

"""Aggregating annotators' answers per task: confidence-weighted and plain majority votes, Dawid-Skene.

The appendix states only: "We determine the final selection based on a majority vote over annotators,
weighted by their confidence." (D.4, E.2.1, G.1). Confidence is a Likert answer 0-3. The weight of an
answer (``weighting``):

- ``"confidence"`` (default, the literal reading): :math:`w = c`. A vote given with "0 (no
  confidence)" (or without a confidence answer) weighs 0; a task whose votes all weigh 0 falls back to
  the plain vote, and is marked (column ``unweighted``).
- ``"1+confidence"``: :math:`w = 1 + c` (studykit's earlier choice, not the paper's words): a confident
  vote counts up to four times a vote given with no confidence, and no vote is ever erased.

(crowd-kit's weighted majority vote takes one weight per worker, not per answer, so this vote is ours.)

Ties (several labels with the largest total weight) are broken by a seeded pseudo-random order: each
(task, label) pair gets the key BLAKE2b(seed, task, label), and the tied label with the largest key
wins. Every tied label is equally likely to win, the result does not depend on the order of the rows,
and the same seed gives the same result on any machine.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd

__all__ = ["WEIGHTINGS", "confidence_weight", "weighted_majority_vote", "majority_vote", "dawid_skene",
           "DawidSkeneResult",
           "VOTE_COLUMNS"]

#: Columns of the votes' results (indexed by task).
VOTE_COLUMNS = ("label", "score", "total", "share", "n_annotators", "tied", "unweighted")
#: The weightings of a confidence-weighted vote (module docstring); the first is the default.
WEIGHTINGS = ("confidence", "1+confidence")


def confidence_weight(confidence: pd.Series, weighting: str = "confidence") -> pd.Series:
    """Weight of each answer: its confidence (``"confidence"``) or ``1 + confidence`` (``"1+confidence"``);
    a missing confidence counts as 0."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    confidence = pd.to_numeric(confidence, errors="coerce").fillna(0.0)
    return confidence if weighting == "confidence" else 1.0 + confidence


def weighted_majority_vote(annotations: pd.DataFrame, label: str = "label", *, weight: str | None = "confidence",
                           task: str = "task", seed: int = 0, weighting: str = "confidence") -> pd.DataFrame:
    """Majority vote per task, each answer weighted by :func:`confidence_weight` of its ``weight`` column.

    Parameters
    ----------
    annotations : DataFrame
        Long table: one row per answer, with columns ``task``, ``label`` and ``weight``.
    label : str
        Column of the answers; empty or missing answers are ignored.
    weight : str or None
        Column of the confidences (0-3), or None for a plain majority vote (every weight 1).
    task : str
        Column of the task ids.
    seed : int
        Seed of the tie break (module docstring).
    weighting : str
        ``"confidence"`` (w = c) or ``"1+confidence"`` (w = 1 + c); module docstring.

    Returns
    -------
    DataFrame
        Indexed by task (tasks without any answer are absent), with columns ``label`` (the winner),
        ``score`` (its total weight), ``total`` (all weights), ``share`` (score / total),
        ``n_annotators`` (answers counted), ``tied`` (whether the winner was drawn among ties) and
        ``unweighted`` (every vote of the task weighed 0, so the plain vote decided it).
    """
    answers = annotations[annotations[label].notna() & annotations[label].astype(str).ne("")]
    weighted = weight is not None and weight in answers.columns
    weights = confidence_weight(answers[weight], weighting) if weighted else pd.Series(1.0, index=answers.index)
    scores = (pd.DataFrame({"task": answers[task].to_numpy(), "label": answers[label].to_numpy(),
                            "weight": weights.to_numpy(dtype=float)})
              .groupby(["task", "label"], sort=False, observed=True)["weight"]
              .agg(score="sum", count="size").reset_index())
    unweighted = scores.groupby("task", sort=False)["score"].transform("sum").le(0)
    scores.loc[unweighted, "score"] = scores.loc[unweighted, "count"].astype(float)
    result = _winners(scores, seed)
    result["unweighted"] = result.index.isin(pd.unique(scores.loc[unweighted, "task"]))
    return result


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
    result["unweighted"] = False
    return result[list(VOTE_COLUMNS)]


def tie_keys(tasks: pd.Series, labels: pd.Series, seed: int) -> np.ndarray:
    """Seeded pseudo-random key of each (task, label): BLAKE2b-64 of ``seed``, task and label."""
    salt = int(seed).to_bytes(8, "little", signed=True)
    pairs = pd.DataFrame({"task": tasks.astype(str).to_numpy(), "label": labels.astype(str).to_numpy()})
    unique = pairs.drop_duplicates()
    keys = [int.from_bytes(hashlib.blake2b(f"{t}\x1f{lab}".encode(), digest_size=8, key=salt).digest(), "little")
            for t, lab in zip(unique["task"], unique["label"])]
    table = pd.Series(np.array(keys, dtype=np.uint64), index=pd.MultiIndex.from_frame(unique))
    return table.reindex(pd.MultiIndex.from_frame(pairs)).to_numpy()


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
        Whether the log-likelihood gain fell below ``tol`` within ``n_iter`` iterations.
    log_likelihood : float
        Mean log-likelihood per answer of the observed answers at the end.
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
    """Dawid and Skene's (1979) latent-class model, fitted by EM.

    Each worker w has a confusion matrix :math:`e^w_{lk} = P(\\text{answer } l \\mid \\text{true } k)`;
    true labels have the prior :math:`p_k`. Starting from the plain majority vote's label shares, EM
    alternates the M-step (:math:`p` = mean posterior, :math:`e^w_{lk} \\propto \\sum_{\\text{tasks of }
    w \\text{ answered } l} P(k)`, entries floored at 1e-10) and the E-step (posterior
    :math:`\\propto p_k \\prod e^w_{l k}`), until the mean log-likelihood per answer gains less than
    ``tol``; the same scheme as crowd-kit's ``DawidSkene``.

    Parameters
    ----------
    annotations : DataFrame
        Long table with columns ``task``, ``worker`` and ``label``; empty answers are ignored.
    label, task, worker : str
        Column names.
    n_iter : int
        Most EM iterations.
    tol : float
        Stopping tolerance on the log-likelihood gain.
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
    shape = (len(tasks), len(labels))
    probas = np.zeros(shape)
    np.add.at(probas, (t, obs), 1.0)
    probas /= probas.sum(axis=1, keepdims=True)
    previous, converged, iteration = -np.inf, False, 0
    for iteration in range(1, n_iter + 1):
        priors = np.clip(probas.mean(axis=0), _EPS, None)
        errors = _m_step(probas, t, w, obs, len(workers))
        probas, log_likelihood = _e_step(priors, errors, t, w, obs, len(tasks))
        if log_likelihood - previous < tol:
            converged = True
            break
        previous = log_likelihood
    return _ds_result(probas, priors, errors, tasks, workers, labels, t, iteration, converged, log_likelihood, seed)


def _m_step(probas: np.ndarray, t: np.ndarray, w: np.ndarray, obs: np.ndarray, n_workers: int) -> np.ndarray:
    """Confusion matrices, shape (n_workers, n_labels observed, n_labels true)."""
    n_labels = probas.shape[1]
    cell = w * n_labels + obs
    errors = np.stack([np.bincount(cell, weights=probas[t, k], minlength=n_workers * n_labels)
                       for k in range(n_labels)], axis=1).reshape(n_workers, n_labels, n_labels)
    errors = np.clip(errors, _EPS, None)
    return errors / errors.sum(axis=1, keepdims=True)


def _e_step(priors: np.ndarray, errors: np.ndarray, t: np.ndarray, w: np.ndarray, obs: np.ndarray,
            n_tasks: int) -> tuple[np.ndarray, float]:
    """Posteriors of the true labels, shape (n_tasks, n_labels), and the mean log-likelihood per answer."""
    from scipy.special import logsumexp

    log_errors = np.log(errors[w, obs])
    joint = np.log(priors) + np.stack([np.bincount(t, weights=log_errors[:, k], minlength=n_tasks)
                                       for k in range(len(priors))], axis=1)
    evidence = logsumexp(joint, axis=1, keepdims=True)
    return np.exp(joint - evidence), float(evidence.sum() / len(t))


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

"""Tiny batch folders as ``docs/batch-folder.md`` describes them, built by hand for the analysis tests."""

import json

import numpy as np
import pandas as pd
import pytest

REWARDS = {"simulatability": "0.04", "spurious": "0.07", "misclassification": "0.03"}


def _key_simulatability(rng, n, layers):
    rows = []
    for layer in layers:
        for i in range(n):
            probs = np.sort(rng.uniform(0, 1, 3))[::-1]
            order = rng.permutation(3)
            prob = {"ABC"[order[k]]: probs[k] for k in range(3)}
            target = f"class{i % 4}"
            top_is_target = bool(rng.random() < 0.4)
            labels = {o: (target if (o == "ABC"[order[0]] and top_is_target) else f"other{rng.integers(9)}")
                      for o in "ABC"}
            rows.append({"layer": layer, "target_class": target, "correct_choice": "ABC"[order[0]],
                         "top_is_target": str(top_is_target), **{f"prob_{o}": prob[o] for o in "ABC"},
                         **{f"label_{o}": labels[o] for o in "ABC"}})
    return rows


def _key_spurious(rng, n, layers):
    return [{"layer": layer, "class_a": f"class{i % 5}", "class_b": f"class{(i + 1) % 5 + 5}",
             "feature": int(rng.integers(2048))} for layer in layers for i in range(n)]


def _key_misclassification(rng, n, conditions):
    rows = []
    for condition in conditions:
        for i in range(n):
            first, second = ("A", "B") if rng.random() < 0.5 else ("B", "A")
            roles = condition.split("_")
            option = {f"option_{r}": "" for r in ("fp", "fl", "fr")}
            option[f"option_{roles[0]}"], option[f"option_{roles[1]}"] = first, second
            rows.append({"layer": "sparse", "condition": condition, "true_class": f"class{i % 3}",
                         "predicted_class": f"class{(i + 1) % 3}", **option})
    return rows


_KEYS = {"simulatability": (_key_simulatability, ("dense", "sparse")),
         "spurious": (_key_spurious, ("dense", "sparse")),
         "misclassification": (_key_misclassification, ("fp_fl", "fl_fr"))}
ANSWERS = {"simulatability": ("choice", "confidence"),
           "spurious": ("common", "confidence", "description", "part_a", "part_b"),
           "misclassification": ("match", "best", "confidence")}


def build_batch(directory, study, n_per_condition=20, *, seed=0, max_assignments=5):
    """Write manifest.json, tasks.csv and answer_key.csv of a batch of ``study``."""
    rng = np.random.default_rng(seed)
    make, conditions = _KEYS[study]
    key = pd.DataFrame(make(rng, n_per_condition, conditions))
    key.insert(0, "task_id", [f"t{i:05d}" for i in range(len(key))])
    directory.mkdir(parents=True, exist_ok=True)
    tasks = pd.DataFrame({"task_id": key["task_id"],
                          "image_a": [f"assets/{i:016x}.png" for i in range(len(key))],
                          "caption": ['<b>Which</b> image, "best"?'] * len(key)})
    tasks.to_csv(directory / "tasks.csv", index=False)
    key.to_csv(directory / "answer_key.csv", index=False)
    manifest = {"format": "studykit-batch/1", "batch_id": f"{study[:3]}-test{seed}", "study": study, "seed": seed,
                "studykit_version": "0.1.0", "spec": {}, "layers": {}, "counts": {},
                "hit": {"title": f"{study} study", "description": "Look at images", "keywords": "images, survey",
                        "reward": REWARDS[study], "max_assignments": max_assignments,
                        "assignment_duration_seconds": 1800, "lifetime_seconds": 604800,
                        "auto_approval_delay_seconds": 259200},
                "n_hits": len(key), "answers": {f"Answer.{a}": a for a in ANSWERS[study]}, "asset_base_url": None}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return directory


@pytest.fixture
def make_batch(tmp_path):
    """``make_batch(study, n_per_condition=20, seed=0, max_assignments=5)`` -> a batch folder under tmp_path."""
    def make(study, n_per_condition=20, *, seed=0, max_assignments=5, name=None):
        return build_batch(tmp_path / (name or f"batch-{study}-{seed}"), study, n_per_condition, seed=seed,
                           max_assignments=max_assignments)
    return make

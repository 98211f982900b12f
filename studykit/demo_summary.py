"""The headline numbers ``studykit demo`` prints at the end, read back from the files it wrote."""

from __future__ import annotations

from pathlib import Path


def summary(out: Path, study_model: str, models, studies, mturk_local: bool, seconds: float) -> str:
    import numpy as np
    import pandas as pd

    from studykit.features import FeatureStore
    from studykit.solver.layers import DecisionLayer

    lines = ["", f"studykit demo: done in {seconds:.0f} s; everything is under {out}/", ""]
    lines.append("decision layers (test accuracy; features used per class, mean):")
    for model in models:
        X, y = FeatureStore.open(out / "features" / model).split("test")
        X = np.asarray(X)
        for name in ("dense", "sparse"):
            layer = DecisionLayer.load(out / "paths" / model / "layers" / f"{name}.npz")
            accuracy = float((layer.predict(X) == y).mean())
            per_class = float((layer.weight != 0).sum(axis=1).mean())
            lines.append(f"  {model:8s} {name:6s} accuracy {accuracy:.3f}, {per_class:6.1f} features per class")
    lines += ["", f"simulated Table 25 ({study_model} model; accuracy of the confidence-weighted vote):"]
    table = pd.read_csv(out / "reports" / "simulatability" / "table25.csv")
    lines += ["  " + line for line in table.to_string(index=False).splitlines()]
    lines += ["", "where things are:",
              f"  feature stores    {out / 'features'}",
              f"  paths, layers     {out / 'paths'}/<model>/layers, analyses in {out / 'paths'}/<model>/analysis",
              f"  feature images    {out / 'feature-images'}",
              f"  batches           {out / 'batches'}  (studykit preview {out / 'batches' / 'simulatability'})",
              f"  reports           {out / 'reports'}/<study>/report.md"]
    if mturk_local:
        lines.append(f"  via local MTurk   {out / 'reports-mturk-local'}/<study>/report.md")
    return "\n".join(lines)

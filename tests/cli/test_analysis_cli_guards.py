"""``simulate`` then ``analyze``: the tables hold numbers, not just files (issue 20)."""

import pandas as pd

from cli_runner import ok


def test_table25_holds_proportions_for_every_layer(make_batch, tmp_path):
    batch = make_batch("simulatability", 30)
    results, report = tmp_path / "results.csv", tmp_path / "report"
    ok("simulate", batch, "--out", results, "--accuracy", "sparse=0.8", "--accuracy", "dense=0.5", "--seed", 2)
    ok("analyze", results, "--batch", batch, "--out", report, "--salt", "s")
    table = pd.read_csv(report / "table25.csv")
    assert len(table) > 0
    overall = table[table["subset"] == "Overall"].set_index("group")
    assert {"dense", "sparse"} <= set(overall.index), table
    numeric = table.select_dtypes("number")
    shares = [c for c in numeric.columns if c in ("mean", "ci_low", "ci_high") or c.startswith("p")]
    assert shares, list(table.columns)
    assert numeric[shares].stack().between(0, 1).all(), table[shares]
    assert overall.loc["sparse", "mean"] > overall.loc["dense", "mean"]

"""Wall-clock time of ``studykit demo`` from nothing, against its 3-minute budget on 2 cores.

    .venv/bin/python benchmarks/demo.py --out benchmarks/results/demo.md

Runs the demo (default settings, then ``--mturk-local`` on the same folder, which reuses the finished
stages and adds the local MTurk round trip) in a fresh temporary folder, each in its own process as
a user would, and reports the seconds of each run and of each stage as the demo printed it.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 180.0


def run(args: list[str]) -> tuple[float, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "studykit.cli", *args], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"studykit {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "demo.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh, output = run(["demo", "--out", f"{tmp}/demo"])
        local, _ = run(["demo", "--out", f"{tmp}/demo", "--mturk-local"])
    headline = output[output.index("decision layers"):output.index("where things are")].rstrip()
    lines = ["# `studykit demo` wall-clock time", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
             "Command: `.venv/bin/python benchmarks/demo.py`.", "",
             "| run | seconds | share of the 180 s budget |", "|---|---|---|",
             f"| `studykit demo` from nothing | {fresh:.1f} | {fresh / BUDGET_S:.2f} |",
             f"| then `studykit demo --mturk-local` (reuses the stages, adds the MTurk round trip) | {local:.1f} | "
             f"{local / BUDGET_S:.2f} |", "", "Headline numbers the demo printed:", "", "```", headline, "```"]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Are two `vjepa-ac-eval` runs the same, episode by episode? (Issue 20: a refactor must not change any plan.)

    python experiments/compare_runs.py BEFORE.json AFTER.json [--markdown OUT.md]

Compares, per seed: success, final distance, and every executed action (largest absolute difference).
Exits 1 when the seeds, the verdicts or any action differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def compare(before: dict, after: dict) -> tuple[list[dict], bool]:
    rows, same = [], True
    if [r["seed"] for r in before["records"]] != [r["seed"] for r in after["records"]]:
        raise SystemExit("the runs cover different seeds")
    for old, new in zip(before["records"], after["records"]):
        a, b = np.asarray(old["actions"]), np.asarray(new["actions"])
        diff = float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
        row = {"seed": old["seed"], "success": (old["success"], new["success"]),
               "final_distance_m": (old["final_distance_m"], new["final_distance_m"]), "max_action_diff": diff}
        same &= old["success"] == new["success"] and diff == 0.0
        rows.append(row)
    return rows, same


def markdown(task: str, before: dict, after: dict, rows: list[dict]) -> str:
    lines = [f"### {task}: commit {before['provenance']['commit'][:7]} vs {after['provenance']['commit'][:7]}", "",
             "| seed | success before / after | final distance before / after (m) | largest action difference |",
             "| ---: | --- | --- | ---: |"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['success'][0]} / {r['success'][1]} | {r['final_distance_m'][0]:.4f} / "
                     f"{r['final_distance_m'][1]:.4f} | {r['max_action_diff']:.3g} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--markdown", type=Path, default=None)
    args = p.parse_args(argv)
    before, after = json.loads(args.before.read_text()), json.loads(args.after.read_text())
    rows, same = compare(before, after)
    text = markdown(before["task"], before, after, rows)
    print(text + ("identical: every verdict and every action\n" if same else "DIFFERENT\n"))
    if args.markdown is not None:
        with args.markdown.open("a") as out:
            out.write(text + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

"""The release table's runs: every task x policy cell on the test seeds, one `vjepa-ac-eval` run per cell.

    python -m vjepa_ac.evaluation.release [--only CELL ...] [--list]

Cells run one after another in priority order (baselines, then the planner on grasp and pick-and-place, reach,
the image-energy planner, the remaining tasks, then the near-cube protocol); a cell whose JSON exists is
skipped, so an interrupted release resumes where it stopped. Results go to docs/results/v2/ (near-cube:
docs/results/v2/near_cube/), logs to runs/eval_v2/release/. It refuses to start with uncommitted changes to
the evaluated code, so every JSON names a commit that reproduces it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from vjepa_ac.evaluation.provenance import REPO_ROOT, SEED_RANGES, git_state

TEST_SEED = SEED_RANGES["test"][0]
EPISODES = {"reach": 50, "grasp": 50, "pick-and-place": 50, "reach-with-object": 20, "pick-and-place-single-goal": 20}
RESULTS = REPO_ROOT / "docs" / "results" / "v2"
LOGS = REPO_ROOT / "runs" / "eval_v2" / "release"
# (column name, vjepa-ac-eval arguments)
POLICY_ARGS = {
    "oracle": ["--policy", "oracle"],
    "blind": ["--policy", "blind"],
    "random": ["--policy", "random"],
    "planner": ["--policy", "planner"],
    "planner-image-energy": ["--policy", "planner", "--gripper-goal-weight", "0"],
}
BASELINES = ("oracle", "blind", "random")
TASK_ORDER = ("grasp", "pick-and-place", "reach", "reach-with-object", "pick-and-place-single-goal")


def cells() -> list[tuple[str, str, str]]:
    """(protocol, task, policy) in the order they run."""
    order = [("v2", task, policy) for task in TASK_ORDER for policy in BASELINES]
    order += [("v2", "grasp", "planner"), ("v2", "pick-and-place", "planner"), ("v2", "reach", "planner")]
    order += [("v2", "grasp", "planner-image-energy"), ("v2", "pick-and-place", "planner-image-energy")]
    order += [("v2", "reach-with-object", "planner"), ("v2", "pick-and-place-single-goal", "planner"),
              ("v2", "reach", "planner-image-energy")]
    order += [("near-cube", task, policy) for task in TASK_ORDER for policy in BASELINES]
    order += [("near-cube", task, policy) for policy in ("planner", "planner-image-energy") for task in TASK_ORDER]
    return order


def cell_name(protocol: str, task: str, policy: str) -> str:
    return f"{protocol}/{task}/{policy}"


def json_path(protocol: str, task: str, policy: str) -> Path:
    folder = RESULTS if protocol == "v2" else RESULTS / "near_cube"
    return folder / f"{task}_{policy}.json"


def command(protocol: str, task: str, policy: str) -> list[str]:
    return [sys.executable, "-m", "vjepa_ac.evaluation.cli", "--task", task, "--protocol", protocol,
            "--episodes", str(EPISODES[task]), "--seed", str(TEST_SEED), *POLICY_ARGS[policy],
            "--json", str(json_path(protocol, task, policy))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vjepa_ac.evaluation.release", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", action="append", default=[], help="run only this cell (protocol/task/policy); repeatable")
    p.add_argument("--list", action="store_true", help="print the cells, their state and commands, then stop")
    args = p.parse_args(argv)
    todo = cells()
    if args.only:
        unknown = set(args.only) - {cell_name(*c) for c in todo}
        if unknown:
            raise SystemExit(f"unknown cells {sorted(unknown)}")
        todo = [c for c in todo if cell_name(*c) in args.only]
    if args.list:
        for cell in todo:
            state = "done" if json_path(*cell).is_file() else "to run"
            print(f"{cell_name(*cell)}: {state}: {' '.join(command(*cell)[1:])}")
        return 0
    state = git_state()
    if state["dirty"]:
        raise SystemExit(f"uncommitted changes to the evaluated code: {state['dirty_paths']}; commit them first")
    LOGS.mkdir(parents=True, exist_ok=True)
    for cell in todo:
        path = json_path(*cell)
        if path.is_file():
            print(f"{cell_name(*cell)}: done ({path.relative_to(REPO_ROOT)})", flush=True)
            continue
        log = LOGS / (cell_name(*cell).replace("/", "_") + ".log")
        print(f"{cell_name(*cell)}: running, log {log.relative_to(REPO_ROOT)}", flush=True)
        with open(log, "w") as out:
            done = subprocess.run(command(*cell), cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            print(f"{cell_name(*cell)}: failed (exit {done.returncode}), see {log}", flush=True)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())

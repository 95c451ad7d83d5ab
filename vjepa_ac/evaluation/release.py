"""The release tables' runs on the test seeds, one `vjepa-ac-eval` run per cell.

    python -m vjepa_ac.evaluation.release [--suite protocol-v2|model-v2] [--only CELL ...] [--list]

Suites:
- `protocol-v2` (the evaluation protocol's table, MuJoCo): every task x policy, baselines first, then the
  planner on grasp and pick-and-place, reach, the image-energy planner, the remaining tasks, then the near-cube
  protocol. Results in docs/results/v2/ (near-cube: docs/results/v2/near_cube/).
- `model-v2` (the embedded model's table, both engines): reach in PyBullet and MuJoCo, reach under the unseen
  appearance in both, reach-rotate, the image-energy grasp, then grasp and pick-and-place in both engines; each
  with its blind, random and oracle baselines on the same seeds. Results in docs/results/model_v2/.

Cells run one after another in that order; a cell whose JSON exists is skipped, so an interrupted release
resumes where it stopped. Logs go to runs/eval_v2/release/. It refuses to start with uncommitted changes to the
evaluated code, so every JSON names a commit that reproduces it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from vjepa_ac.evaluation.provenance import REPO_ROOT, SEED_RANGES, git_state

TEST_SEED = SEED_RANGES["test"][0]
EPISODES = {"reach": 50, "grasp": 50, "pick-and-place": 50, "reach-with-object": 20, "pick-and-place-single-goal": 20,
            "reach-rotate": 50}
UNSEEN_EPISODES = 20  # the unseen-appearance cells
RESULTS = REPO_ROOT / "docs" / "results"
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
SUITES = ("protocol-v2", "model-v2")


class Cell(NamedTuple):
    suite: str
    protocol: str
    task: str
    policy: str
    engine: str = "mujoco"
    appearance: str = "default"

    @property
    def name(self) -> str:
        if self.suite == "protocol-v2":
            return f"{self.protocol}/{self.task}/{self.policy}"
        return f"{self.engine}{'-' + self.appearance if self.appearance != 'default' else ''}/{self.task}/{self.policy}"

    @property
    def json_path(self) -> Path:
        if self.suite == "protocol-v2":
            folder = RESULTS / "v2" if self.protocol == "v2" else RESULTS / "v2" / "near_cube"
            return folder / f"{self.task}_{self.policy}.json"
        look = "" if self.appearance == "default" else f"_{self.appearance}"
        return RESULTS / "model_v2" / f"{self.engine}{look}" / f"{self.task}_{self.policy}.json"

    @property
    def episodes(self) -> int:
        return UNSEEN_EPISODES if self.appearance == "unseen" else EPISODES[self.task]

    def command(self) -> list[str]:
        return [sys.executable, "-m", "vjepa_ac.evaluation.cli", "--task", self.task, "--protocol", self.protocol,
                "--engine", self.engine, "--appearance", self.appearance, "--episodes", str(self.episodes),
                "--seed", str(TEST_SEED), *POLICY_ARGS[self.policy],
                "--json", str(self.json_path.relative_to(REPO_ROOT))]  # run from REPO_ROOT


def _protocol_v2() -> list[Cell]:
    def cell(protocol, task, policy):
        return Cell("protocol-v2", protocol, task, policy)

    order = [cell("v2", task, policy) for task in TASK_ORDER for policy in BASELINES]
    order += [cell("v2", "grasp", "planner"), cell("v2", "pick-and-place", "planner"), cell("v2", "reach", "planner")]
    order += [cell("v2", "grasp", "planner-image-energy"), cell("v2", "pick-and-place", "planner-image-energy")]
    order += [cell("v2", "reach-with-object", "planner"), cell("v2", "pick-and-place-single-goal", "planner"),
              cell("v2", "reach", "planner-image-energy")]
    order += [cell("near-cube", task, policy) for task in TASK_ORDER for policy in BASELINES]
    order += [cell("near-cube", task, policy) for policy in ("planner", "planner-image-energy") for task in TASK_ORDER]
    return order


def _model_v2() -> list[Cell]:
    groups = [("reach", "planner", "pybullet", "default"), ("reach", "planner", "mujoco", "default"),
              ("reach", "planner", "mujoco", "unseen"), ("reach", "planner", "pybullet", "unseen"),
              ("reach-rotate", "planner", "mujoco", "default"), ("grasp", "planner-image-energy", "mujoco", "default"),
              ("grasp", "planner", "mujoco", "default"), ("grasp", "planner", "pybullet", "default"),
              ("pick-and-place", "planner", "mujoco", "default"), ("pick-and-place", "planner", "pybullet", "default")]
    order, seen = [], set()
    for task, policy, engine, appearance in groups:
        for p in ((*BASELINES, policy) if (task, engine, appearance) not in seen else (policy,)):
            order.append(Cell("model-v2", "v2", task, p, engine, appearance))
        seen.add((task, engine, appearance))
    return order


def cells(suite: str = "protocol-v2") -> list[Cell]:
    """The suite's cells in the order they run."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose one of {SUITES}")
    return _protocol_v2() if suite == "protocol-v2" else _model_v2()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vjepa_ac.evaluation.release", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", choices=SUITES, default="protocol-v2")
    p.add_argument("--only", action="append", default=[], help="run only this cell (as --list names it); repeatable")
    p.add_argument("--list", action="store_true", help="print the cells, their state and commands, then stop")
    args = p.parse_args(argv)
    todo = cells(args.suite)
    if args.only:
        unknown = set(args.only) - {c.name for c in todo}
        if unknown:
            raise SystemExit(f"unknown cells {sorted(unknown)}")
        todo = [c for c in todo if c.name in args.only]
    if args.list:
        for cell in todo:
            state = "done" if cell.json_path.is_file() else "to run"
            print(f"{cell.name}: {state}: {' '.join(cell.command()[1:])}")
        return 0
    state = git_state()
    if state["dirty"]:
        raise SystemExit(f"uncommitted changes to the evaluated code: {state['dirty_paths']}; commit them first")
    LOGS.mkdir(parents=True, exist_ok=True)
    for cell in todo:
        if cell.json_path.is_file():
            print(f"{cell.name}: done ({cell.json_path.relative_to(REPO_ROOT)})", flush=True)
            continue
        log = LOGS / f"{args.suite}_{cell.name.replace('/', '_')}.log"
        print(f"{cell.name}: running, log {log.relative_to(REPO_ROOT)}", flush=True)
        with open(log, "w") as out:
            done = subprocess.run(cell.command(), cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            print(f"{cell.name}: failed (exit {done.returncode}), see {log}", flush=True)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())

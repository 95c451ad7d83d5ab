"""How far would the planner get if it knew each goal image's gripper? An upper bound for a gripper readout.

Runs `vjepa-ac-eval`'s closed loop (the embedded or a given model, the evaluation's CEM with the anchored
energy) and hands the planner the true gripper of each sub-goal (`setup.info["subgoal_ee_poses"][i][6]`, which
the planner never sees in the real protocol) through `CEMConfig.gripper_goal_weight`. The arm still goes where
the image energy sends it. If this fails, no readout of the goal images can make it succeed.

    MUJOCO_GL=osmesa OMP_NUM_THREADS=1 .venv/bin/python bench/goal_gripper_oracle.py --task grasp --episodes 10 \\
        --json bench/results/goal_gripper/oracle_grasp.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=["grasp", "pick-and-place"], default="grasp")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=100_000)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--weight", type=float, default=0.02, help="CEMConfig.gripper_goal_weight")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    from vjepa_ac.evaluation.cli import summarize
    from vjepa_ac.evaluation.episode_runner import run_episode
    from vjepa_ac.evaluation.tasks import make_task
    from vjepa_ac.models import load_world_model
    from vjepa_ac.planning import CEMConfig, CEMPlanner
    from vjepa_ac.simulation import make_sim

    world_model = load_world_model(args.checkpoint)
    planner = CEMPlanner(world_model, CEMConfig(anchor_to_observation=True, gripper_goal_weight=args.weight))
    task = make_task(args.task)
    records = []
    with make_sim("mujoco", image_size=world_model.image_size) as sim:
        for seed in range(args.seed, args.seed + args.episodes):
            record = run_episode(sim, world_model, planner, task, seed,
                                 goal_gripper=lambda _image, setup, i: float(setup.info["subgoal_ee_poses"][i][6]))
            records.append(record)
            print(seed, "success" if record.success else "failure", f"{record.final_distance_m:.3f} m", flush=True)
    # vjepa-ac-eval's summary format, so summary_report reads it like any evaluation.
    settings = {"checkpoint": args.checkpoint or "embedded", "goal_gripper": "ground truth (oracle)",
                "gripper_goal_weight": args.weight, "anchor_to_observation": True, "first_seed": args.seed}
    summary = summarize(args.task, "mujoco", records, settings)
    print(f"{args.task}: {summary['successes']}/{summary['episodes']} with the true goal grippers")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

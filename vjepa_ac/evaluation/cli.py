"""`vjepa-ac-eval`: success rates of goal-image tasks in simulation for the planner (any checkpoint) and its
baselines (oracle, blind, random), under protocol v2 (default) or near-cube, with provenance in the JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from vjepa_ac.evaluation.episode_runner import run_policy_episode
from vjepa_ac.evaluation.policies import POLICIES, make_policy
from vjepa_ac.evaluation.provenance import (
    SEED_RANGES,
    display_path,
    git_state,
    model_file_hashes,
    run_seed_range,
)
from vjepa_ac.evaluation.reports import markdown_table, plot_energy_and_latency, write_episode_gif
from vjepa_ac.evaluation.tasks import DEFAULT_PROTOCOL, EVALUATION_SEED_START, PROTOCOLS, TASKS, make_task
from vjepa_ac.planning.config import CEMConfig
from vjepa_ac.planning.goal_gripper import DEFAULT_READOUT_MIN_CONFIDENCE, GoalGripper
from vjepa_ac.simulation.appearance import APPEARANCES
from vjepa_ac.simulation.scene_layout import CAMERAS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vjepa-ac-eval", description=__doc__)
    p.add_argument("--engine", choices=["mujoco", "pybullet"], default="mujoco")
    p.add_argument("--task", choices=sorted(TASKS), default="reach")
    p.add_argument("--protocol", choices=PROTOCOLS, default=DEFAULT_PROTOCOL,
                   help="v2: the hand starts 20-35 cm above the table, 12-25 cm (xy) from the cube; near-cube: the "
                        "earlier protocol (grasping tasks start just above the cube, reach tasks at home)")
    p.add_argument("--policy", choices=POLICIES, default="planner",
                   help="planner: CEM on the world model; oracle: greedy on the true sub-goal poses; blind: no camera "
                        "and no goal images; random: uniform actions within the planner's bounds")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=EVALUATION_SEED_START,
                   help="first seed; episode i uses seed+i. Development {}-{}, test {}-{} (release tables only), "
                        ">= 200000 other".format(*SEED_RANGES["development"], *SEED_RANGES["test"]))
    p.add_argument("--checkpoint", default=None, help="model directory or official .pt (default: embedded model)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--camera-size", type=int, default=None,
                   help="rendered camera resolution (px); default: the model's input size, so no frame is rescaled")
    p.add_argument("--planner-settings", choices=("package", "paper"), default="package",
                   help="package: CEMConfig() as shipped (anchored energy, gripper readout); paper: CEMConfig.paper()")
    p.add_argument("--samples", type=int, default=None, help="CEM samples per iteration (default: the settings')")
    p.add_argument("--iters", type=int, default=None, help="CEM iterations")
    p.add_argument("--top-k", type=int, default=None, help="CEM elites")
    p.add_argument("--horizon", type=int, default=None, help="actions planned ahead")
    p.add_argument("--l1-radius", type=float, default=None, help="L1 bound of one action's translation (m)")
    p.add_argument("--anchor-to-observation", action=argparse.BooleanOptionalAction, default=None,
                   help="score predicted changes added to the observed frame (CEMConfig.anchor_to_observation); "
                        "--no-anchor-to-observation is the paper's energy")
    p.add_argument("--gripper-goal-weight", type=float, default=None,
                   help="energy per unit of closedness between the plan's gripper and the one the goal image shows, "
                        "as the gripper readout reads it (CEMConfig.gripper_goal_weight); 0 = the image energy alone "
                        "decides the gripper, as in the paper")
    p.add_argument("--gripper-readout", default=None,
                   help="gripper readout file (default: gripper_readout.safetensors next to the model, if any)")
    p.add_argument("--readout-min-confidence", type=float, default=DEFAULT_READOUT_MIN_CONFIDENCE,
                   help="a goal's gripper is used only when the readout is this sure of it; "
                        "otherwise the planner holds the gripper as it is")
    p.add_argument("--appearance", choices=APPEARANCES, default="default",
                   help="default: the fixed look; train: light, colours, backdrop and camera drawn per seed within the "
                        "training ranges; unseen: a light direction and table colours outside them (testing only)")
    p.add_argument("--camera", choices=tuple(CAMERAS), default=None,
                   help="scene camera (TaskOptions.camera); default: the one the model was trained on, for every "
                        "policy, so all of them see the same episodes")
    p.add_argument("--rotation", action=argparse.BooleanOptionalAction, default=None,
                   help="plan rotations too (CEMConfig.rotation_enabled; the baselines' bounds as well); default: "
                        "on for reach-rotate, off otherwise")
    p.add_argument("--tilt", action=argparse.BooleanOptionalAction, default=False,
                   help="with rotation, also plan roll and pitch (default: yaw only, the tool stays pointing down)")
    p.add_argument("--budgets", default=None,
                   help="comma-separated actions per goal image, overriding the task's (e.g. 3 or 1,1,1); "
                        "for quick checks only: the documented criteria use the defaults")
    p.add_argument("--json", type=Path, default=None, help="write the summary + per-episode records here")
    p.add_argument("--out", type=Path, default=None, help="directory for GIFs and plots")
    p.add_argument("--gifs", type=int, default=2, help="with --out: GIFs for this many episodes (first ones)")
    p.add_argument("--allow-training-seeds", action="store_true",
                   help=f"allow seeds below {EVALUATION_SEED_START} (they were used for training data)")
    return p


def _tilt_frozen(args) -> tuple[str, ...] | None:
    """Roll and pitch pinned when rotation is planned without --tilt; None (the settings' own) otherwise."""
    from vjepa_ac.evaluation.greedy_oracle import TILT_DIMENSIONS

    return TILT_DIMENSIONS if getattr(args, "rotation", None) and not getattr(args, "tilt", False) else None


def planner_config(args) -> CEMConfig:
    """The settings named by --planner-settings, with every planner flag given on the command line applied."""
    base = CEMConfig.paper() if args.planner_settings == "paper" else CEMConfig()
    return CEMConfig.from_mapping({"samples": args.samples, "iterations": args.iters, "top_k": args.top_k,
                                   "horizon": args.horizon, "l1_radius": args.l1_radius,
                                   "anchor_to_observation": args.anchor_to_observation,
                                   "gripper_goal_weight": args.gripper_goal_weight,
                                   "rotation_enabled": getattr(args, "rotation", None),
                                   "frozen_dimensions": _tilt_frozen(args)},
                                  base)


def summarize(task: str, engine: str, records: list, settings: dict, provenance: dict | None = None) -> dict:
    successes = sum(r.success for r in records)
    summary = {
        "task": task,
        "engine": engine,
        "episodes": len(records),
        "successes": int(successes),
        "success_rate": successes / max(len(records), 1),
        "mean_final_distance_m": float(np.mean([r.final_distance_m for r in records])) if records else float("nan"),
        "seconds_per_action": float(np.mean([t for r in records for t in r.plan_seconds])) if records else 0.0,
        "settings": settings,
    }
    if provenance is not None:
        summary["provenance"] = provenance
    summary["records"] = [r.to_json() for r in records]
    return summary


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.episodes < 1:
        raise SystemExit("--episodes must be >= 1")
    try:
        seed_range = run_seed_range(args.seed, args.episodes)
    except ValueError as error:
        raise SystemExit(f"--seed {args.seed} --episodes {args.episodes}: {error}") from error
    if seed_range == "training" and not args.allow_training_seeds:
        raise SystemExit(f"--seed {args.seed} overlaps the training seeds (< {EVALUATION_SEED_START}); "
                         "pass --allow-training-seeds to do it anyway")
    if args.camera is None:
        from vjepa_ac.models import world_model_camera

        args.camera = world_model_camera(args.checkpoint or None)
    try:
        budgets = None if args.budgets is None else [int(b) for b in args.budgets.split(",") if b.strip()]
        task = make_task(args.task, budgets=budgets, protocol=args.protocol, appearance=args.appearance,
                         camera=args.camera)
    except ValueError as error:
        raise SystemExit(f"--budgets {args.budgets!r}: {error}") from error
    if args.rotation is None:
        args.rotation = task.plans_rotation
    print(f"vjepa-ac-eval: {args.task} ({args.protocol}), policy {args.policy}, seeds {args.seed}-"
          f"{args.seed + args.episodes - 1}: {seed_range} range", flush=True)
    from tqdm import tqdm

    from vjepa_ac.simulation import make_sim

    goal_gripper = config = controller = None
    model_hashes = {"model": {}, "readout": {}}
    if args.policy == "planner":
        from vjepa_ac.models import CheckpointError, load_world_model
        from vjepa_ac.planning import CEMPlanner, GoalImageController

        try:
            config = planner_config(args)
        except ValueError as error:
            raise SystemExit(f"planner settings: {error}") from error
        world_model = load_world_model(args.checkpoint, device=args.device)
        try:
            goal_gripper = GoalGripper.for_model(args.checkpoint, args.gripper_readout,
                                                 args.readout_min_confidence) if config.gripper_goal_weight > 0 else None
        except (ValueError, OSError, CheckpointError) as error:
            raise SystemExit(f"gripper readout: {error}") from error
        controller = GoalImageController(world_model, CEMPlanner(world_model, config), goal_gripper)
        model_hashes = model_file_hashes(args.checkpoint, None if goal_gripper is None else goal_gripper.source)
        if args.camera_size is None:
            args.camera_size = world_model.image_size
    elif args.camera_size is None:  # the planner's camera, so every policy sees the same rendered episode
        from vjepa_ac.models import world_model_image_size

        args.camera_size = world_model_image_size(args.checkpoint or None)
    from vjepa_ac.evaluation.greedy_oracle import oracle_space

    policy = make_policy(args.policy, controller, oracle_space(task, args.rotation, args.tilt))
    provenance = {**git_state(), "model_files": model_hashes}
    sim = make_sim(args.engine, image_size=args.camera_size)
    records = []
    started = time.time()
    try:
        progress = tqdm(range(args.episodes), desc=f"{args.task}/{args.engine}/{args.policy}", unit="episode")
        for i in progress:
            record = run_policy_episode(sim, policy, task, args.seed + i,
                                        record_frames=args.out is not None and i < args.gifs)
            records.append(record)
            rate = sum(r.success for r in records) / len(records)
            progress.set_postfix(success=f"{rate:.0%}", dist=f"{record.final_distance_m:.3f}")
            if record.frames:
                write_episode_gif(record, args.out / f"{args.task}_{args.engine}_seed{record.seed}.gif")
    finally:
        sim.close()
    settings = {"protocol": args.protocol, "policy": args.policy, "seed_range": seed_range,
                "checkpoint": (args.checkpoint or "embedded") if args.policy == "planner" else None,
                "planner": None if config is None else dataclasses.asdict(config),
                "gripper_readout": None if goal_gripper is None else str(display_path(Path(goal_gripper.source))),
                "readout_min_confidence": None if goal_gripper is None else goal_gripper.min_confidence,
                "appearance": args.appearance, "camera": args.camera, "rotation": bool(args.rotation), "tilt": bool(args.tilt),
                "camera_size": args.camera_size, "first_seed": args.seed, "budgets": list(task.budgets),
                "budgets_overridden": budgets is not None, "device": args.device,
                "wall_seconds": time.time() - started}
    summary = summarize(args.task, args.engine, records, settings, provenance)
    print(markdown_table([summary]), end="")
    if args.out is not None:
        if args.policy == "planner":
            plot_energy_and_latency(records, args.out / f"{args.task}_{args.engine}_energy_latency.png")
        (args.out / f"{args.task}_{args.engine}.md").write_text(markdown_table([summary]))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

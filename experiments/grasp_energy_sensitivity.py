"""Can an encoder's goal energy see a grasp? Checked on real rendered frames, before training a predictor.

Horizon-1 CEM only grasps if, from the open hand around the cube, "close and lift" lands nearer (in the
energy) to the "cube lifted in the hand" goal image than "lift with the hand open" does, which leaves
the cube on the table. Likewise the first goal (the open hand around the cube) must prefer open fingers
to closed ones at the grasp pose, or the planner closes before it gets there. This script drives the simulator to the grasp pose with ground truth (no model), executes both
alternatives, encodes the real resulting frames and compares their L1 energies to the task's goal images,
and to a near goal: the cube lifted by exactly the compared action, where only the cube and the fingers
differ between the two outcomes.
If the encoder cannot tell them apart, no predictor trained on it can, and no planner will grasp.
With a world model (`--model`, the default) it also asks the predictor: the same comparisons on the
predicted tokens of each action, which is what CEM ranks. `--goal-lift` sets the lifted image's height
above the grasp pose (the grasp task's 7 cm by default; 0.14 was the task's earlier, unsolvable one).

    .venv/bin/python experiments/grasp_energy_sensitivity.py --model vjepa_ac/assets/embedded_model --seeds 12
    .venv/bin/python experiments/grasp_energy_sensitivity.py --encoder runs/embedded/encoder/checkpoints/step_00001200
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def _margins(rows, worse: str, better: str) -> list[float]:
    """Per seed, how much lower (relative) energy `better` has than `worse`: > 0 means CEM prefers it."""
    return [(r[worse] - r[better]) / r[worse] for r in rows]


def _encoder_energy(args):
    """(energy(image, goal_image), label, predicted_energy or None) with the chosen encoder or world model
    (layer-normed tokens, the planner's L1)."""
    from vjepa_ac.planning.energy import l1_energy

    model = None
    if args.model is not None:
        from vjepa_ac.models import load_world_model

        model = load_world_model(args.model)
        encode, label = model.encode, f"model {args.model}"
    else:
        from vjepa_ac.models.image_preprocessing import images_to_frames
        from vjepa_ac.models.world_model import normalize_tokens
        from vjepa_ac.training.encoder.encoder_pretrainer import load_pretrained_encoder

        encoder = load_pretrained_encoder(args.encoder).eval()
        image_size, label = encoder.config.image_size, f"encoder {args.encoder}"

        @torch.no_grad()
        def encode(images):
            return normalize_tokens(encoder.encode_frames(images_to_frames(np.asarray(images), image_size)))

    def energy(image, goal) -> float:
        tokens = encode(np.stack([image, goal]))
        return float(l1_energy(tokens[0], tokens[1]))

    def predicted_energy(image, state, action, goal) -> float:
        """Energy of the predictor's tokens for `action` from `image` (what CEM ranks)."""
        tokens = model.rollout(model.encode(image), torch.as_tensor(state, dtype=torch.float32)[None],
                               torch.as_tensor(action, dtype=torch.float32)[None, None])
        return float(l1_energy(tokens[0], model.encode(goal)[0]))

    return energy, label, (predicted_energy if model is not None else None)


def _to(sim, obs, xyz, step=0.05, limit=20):
    """Straight-line moves (gripper unchanged) to a ground-truth position."""
    for _ in range(limit):
        delta = np.asarray(xyz) - obs.ee_state[:3]
        if np.linalg.norm(delta) < 0.003:
            break
        obs = sim.step(np.concatenate([delta * min(1.0, step / np.linalg.norm(delta)), np.zeros(4)]))
    return obs


def _at_grasp_pose(sim, task, seed):
    from vjepa_ac.simulation.expert import GRASP_Z

    obs, setup = task.setup(sim, seed)
    cube = obs.object_poses["cube"]
    obs = _to(sim, obs, [cube[0], cube[1], cube[2] + 0.08])
    return _to(sim, obs, [cube[0], cube[1], GRASP_Z]), setup


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--model", help="world-model directory (default: the embedded model)")
    source.add_argument("--encoder", help="a vjepa-ac-pretrain-encoder checkpoint directory")
    p.add_argument("--seeds", type=int, default=12, help="evaluation seeds from 100000")
    p.add_argument("--camera-size", type=int, default=128)
    p.add_argument("--engine", choices=("mujoco", "pybullet"), default="mujoco")
    p.add_argument("--camera", default=None, help="scene camera (default: the one --model was trained on)")
    p.add_argument("--lift", type=float, default=0.075, help="lift of the compared actions (m)")
    p.add_argument("--goal-lift", type=float, default=None,
                   help="lifted goal image: TCP height above the grasp pose (m; default: the grasp task's)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.model is None and args.encoder is None:
        from vjepa_ac.models.checkpoints import EMBEDDED_MODEL_DIR

        args.model = str(EMBEDDED_MODEL_DIR)

    from vjepa_ac.evaluation.tasks import GRASP_TASK_LIFT_Z, GraspTask
    from vjepa_ac.simulation import make_sim
    from vjepa_ac.simulation.expert import GRASP_Z

    energy, label, predicted_energy = _encoder_energy(args)
    from vjepa_ac.models import world_model_camera

    camera = args.camera or (world_model_camera(args.model) if args.model else "default")
    sim = make_sim(args.engine, image_size=args.camera_size)
    goal_lift = GRASP_TASK_LIFT_Z - GRASP_Z if args.goal_lift is None else args.goal_lift
    # goal images: [open hand around the cube, cube lifted goal_lift in the closed hand]
    task = GraspTask(lift_z=GRASP_Z + goal_lift)
    task.camera = camera
    rows = []
    try:
        for seed in range(100000, 100000 + args.seeds):
            row = {"seed": seed}
            for name, gripper in (("lift_open", 0.0), ("close_and_lift", 0.75)):
                obs, setup = _at_grasp_pose(sim, task, seed)
                ee, cube = obs.ee_state, obs.object_poses["cube"]
                near_goal = sim.render_goal(
                    ee_pose=np.concatenate([ee[:2], [ee[2] + args.lift], ee[3:6], [1.0]]),
                    object_poses={"cube": np.concatenate([cube[:2], [cube[2] + args.lift], cube[3:]])})
                action = np.array([0, 0, args.lift, 0, 0, 0, gripper])
                if predicted_energy is not None:
                    row[f"predicted_lifted_goal_energy_{name}"] = predicted_energy(
                        obs.image, obs.ee_state, action, setup.goal_images[1])
                after = sim.step(action)
                row[f"lifted_goal_energy_{name}"] = energy(after.image, setup.goal_images[1])
                row[f"near_goal_energy_{name}"] = energy(after.image, near_goal)
                row[f"cube_lift_m_{name}"] = float(after.object_poses["cube"][2] - obs.object_poses["cube"][2])
            obs, setup = _at_grasp_pose(sim, task, seed)
            row["first_goal_energy_open"] = energy(obs.image, setup.goal_images[0])
            if predicted_energy is not None:
                for name, gripper in (("open", 0.0), ("closed", 0.75)):
                    row[f"predicted_first_goal_energy_{name}"] = predicted_energy(
                        obs.image, obs.ee_state, np.array([0, 0, 0, 0, 0, 0, gripper]), setup.goal_images[0])
            closed = sim.step(np.array([0, 0, 0, 0, 0, 0, 0.75]))
            row["first_goal_energy_closed"] = energy(closed.image, setup.goal_images[0])
            rows.append(row)
            print(f"seed {seed}: lifted goal: lift open {row['lifted_goal_energy_lift_open']:.4f}, close and lift "
                  f"{row['lifted_goal_energy_close_and_lift']:.4f} | first goal: open {row['first_goal_energy_open']:.4f},"
                  f" closed {row['first_goal_energy_closed']:.4f}")
    finally:
        sim.close()
    grasp_margin = _margins(rows, "lifted_goal_energy_lift_open", "lifted_goal_energy_close_and_lift")
    near_margin = _margins(rows, "near_goal_energy_lift_open", "near_goal_energy_close_and_lift")
    open_margin = _margins(rows, "first_goal_energy_closed", "first_goal_energy_open")
    summary = {
        "source": label, "seeds": args.seeds, "camera_size": args.camera_size, "goal_lift_m": goal_lift,
        "engine": args.engine, "camera": camera,
        "grasp_preferred": int(sum(m > 0 for m in grasp_margin)),
        "grasp_margin_mean": float(np.mean(grasp_margin)), "grasp_margin_min": float(np.min(grasp_margin)),
        "near_goal_grasp_preferred": int(sum(m > 0 for m in near_margin)),
        "near_goal_margin_mean": float(np.mean(near_margin)),
        "open_fingers_preferred": int(sum(m > 0 for m in open_margin)),
        "open_margin_mean": float(np.mean(open_margin)),
        "cube_lifted_by_close_and_lift": int(sum(r["cube_lift_m_close_and_lift"] > 0.03 for r in rows)),
        "records": rows,
    }
    if predicted_energy is not None:
        predicted_grasp = _margins(rows, "predicted_lifted_goal_energy_lift_open",
                                   "predicted_lifted_goal_energy_close_and_lift")
        predicted_open = _margins(rows, "predicted_first_goal_energy_closed", "predicted_first_goal_energy_open")
        summary.update(predicted_grasp_preferred=int(sum(m > 0 for m in predicted_grasp)),
                       predicted_grasp_margin_mean=float(np.mean(predicted_grasp)),
                       predicted_open_fingers_preferred=int(sum(m > 0 for m in predicted_open)),
                       predicted_open_margin_mean=float(np.mean(predicted_open)),
                       predicted_over_real_energy=float(np.mean(
                           [r["predicted_lifted_goal_energy_close_and_lift"] / r["lifted_goal_energy_close_and_lift"]
                            for r in rows])))
    print(f"{label}: the lifted goal prefers 'close and lift' on {summary['grasp_preferred']}/{args.seeds} seeds "
          f"(relative margin mean {summary['grasp_margin_mean']:+.3f}, min {summary['grasp_margin_min']:+.3f}); "
          f"the near goal (cube lifted {args.lift:.3f} m) on {summary['near_goal_grasp_preferred']}/{args.seeds} "
          f"(margin mean {summary['near_goal_margin_mean']:+.3f}); "
          f"the first goal (open hand) prefers open fingers on {summary['open_fingers_preferred']}/{args.seeds} "
          f"(margin mean {summary['open_margin_mean']:+.3f}); close-and-lift really lifted the cube on "
          f"{summary['cube_lifted_by_close_and_lift']}/{args.seeds}")
    if predicted_energy is not None:
        print(f"predicted tokens: the lifted goal prefers 'close and lift' on {summary['predicted_grasp_preferred']}/"
              f"{args.seeds} (margin mean {summary['predicted_grasp_margin_mean']:+.4f}); the first goal prefers open "
              f"fingers on {summary['predicted_open_fingers_preferred']}/{args.seeds} (margin mean "
              f"{summary['predicted_open_margin_mean']:+.4f}); predicted energy / real energy after close-and-lift "
              f"{summary['predicted_over_real_energy']:.2f}")
    if args.json:
        from vjepa_ac.evaluation.provenance import run_provenance

        summary["provenance"] = run_provenance(args.model or args.encoder)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

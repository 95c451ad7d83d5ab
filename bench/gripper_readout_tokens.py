"""Can the goal image's gripper be read off the world model's own tokens? (It could not: hence the CNN readout.)

Encodes every training frame (setpoint not between 0.2 and 0.8) with the world model's frozen encoder, as the
planner encodes goal images, and fits class-balanced logistic regression (full-batch L-BFGS, L2 weight decay)
on the 16 x 128 layer-normed tokens, for two labels: the gripper setpoint (closed at >= 0.5), and "the cube is
lifted" (centre 2 cm or more above its resting height). Every 10th episode is held out. Then the grasp and
pick-and-place sub-goal images of seeds 90000+ are labelled (decided at p >= 0.8 or <= 0.2), as
`vjepa-ac-train-gripper-readout --goal-check-seeds` does for the CNN.

    MUJOCO_GL=osmesa .venv/bin/python bench/gripper_readout_tokens.py --episodes runs/embedded/episodes \\
        --json bench/results/goal_gripper/token_readouts.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

CUBE_REST_Z = 0.0275


def fit_logistic(x: torch.Tensor, y: torch.Tensor, weight_decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    positives = int(y.sum())
    sample_weight = torch.where(y, 0.5 / positives, 0.5 / (len(y) - positives))
    optimizer = torch.optim.LBFGS([w, b], lr=1.0, max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = (sample_weight * F.binary_cross_entropy_with_logits(x @ w + b, y.float(), reduction="none")).sum()
        loss = loss + 0.5 * weight_decay * w.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return w.detach(), b.detach()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=Path, required=True)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--goal-seeds", type=int, default=60)
    p.add_argument("--weight-decay", type=float, nargs="+", default=[1e-3, 1e-4])
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    from vjepa_ac.evaluation.tasks import make_task
    from vjepa_ac.models import load_world_model
    from vjepa_ac.simulation import make_sim
    from vjepa_ac.training.episodes import list_episode_files, load_cube_positions, load_episode

    world_model = load_world_model(args.checkpoint)
    tokens, setpoint_closed, lifted, held_out = [], [], [], []
    for index, path in enumerate(list_episode_files(args.episodes)):
        episode, cube = load_episode(path), load_cube_positions(path)
        if cube is None:
            raise SystemExit(f"{path} has no cube positions (collected before they were recorded)")
        setpoint = episode.states[:, 6]
        keep = (setpoint <= 0.2) | (setpoint >= 0.8)
        tokens.append(world_model.encode(episode.frames[keep]).float().flatten(1))
        setpoint_closed.append(torch.from_numpy(setpoint[keep] >= 0.5))
        lifted.append(torch.from_numpy(cube[keep, 2] > CUBE_REST_Z + 0.02))
        held_out.append(torch.full((int(keep.sum()),), index % 10 == 9))
    x, held_out = torch.cat(tokens), torch.cat(held_out)
    goals = {}
    with make_sim("mujoco", image_size=world_model.image_size) as sim:
        for name in ("grasp", "pick-and-place"):
            task = make_task(name)
            images, truth = [], []
            for seed in range(90_000, 90_000 + args.goal_seeds):
                _, setup = task.setup(sim, seed)
                images.append(world_model.encode(np.stack(setup.goal_images)).float().flatten(1))
                truth.append([pose[6] for pose in setup.info["subgoal_ee_poses"]])
            goals[name] = (torch.stack(images), torch.tensor(truth))
    results = []
    for label, y in (("gripper setpoint", torch.cat(setpoint_closed)), ("cube lifted", torch.cat(lifted))):
        for weight_decay in args.weight_decay:
            w, b = fit_logistic(x[~held_out], y[~held_out], weight_decay)
            predicted, truth = (x[held_out] @ w + b) > 0, y[held_out]
            balanced = 0.5 * (float((predicted & truth).sum() / truth.sum())
                              + float((~predicted & ~truth).sum() / (~truth).sum()))
            row = {"label": label, "weight_decay": weight_decay, "validation_balanced_accuracy": round(balanced, 3),
                   "goal_images": {}}
            for name, (images, goal_truth) in goals.items():
                prob = torch.sigmoid(images @ w + b)
                for k in range(goal_truth.shape[1]):
                    decided_closed, decided_open = prob[:, k] >= 0.8, prob[:, k] <= 0.2
                    closed = goal_truth[:, k] == 1
                    right = int(((decided_closed & closed) | (decided_open & ~closed)).sum())
                    wrong = int(((decided_closed & ~closed) | (decided_open & closed)).sum())
                    row["goal_images"][f"{name} {k + 1}"] = {"right": right, "wrong": wrong,
                                                             "undecided": len(prob) - right - wrong}
            results.append(row)
            print(json.dumps(row), flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"episodes": str(args.episodes), "goal_seeds": args.goal_seeds,
                                         "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Why does a model plan in one engine and not the other? Encoder and predictor checked apart, per engine.

For development seeds, in each engine and look:
  - encoder: the energy of real renders with the hand on a 9 x 9 xy grid (+-12 cm) around a goal pose, against
    the goal render. Reported: the argmin's distance from the goal and the rank correlation of energy with
    distance (1.0: the energy is a perfect bowl). No predictor involved.
  - predictor: for random one-step actions within the planner's L1 ball, the L1 between the predicted tokens and
    the encoded real frame after the action, against the L1 of "nothing moves" (the current frame's tokens).
    A ratio near 1 means the prediction is no better than copying the input.
  - engines: the L1 between the two engines' renders of the same pose, against a 5 cm move in one engine.

    .venv/bin/python experiments/engine_gap.py --model runs/embedded_v2/package --seeds 6 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vjepa_ac.evaluation.provenance import require_development_seeds, run_provenance  # noqa: E402
from vjepa_ac.models import load_world_model, world_model_camera  # noqa: E402
from vjepa_ac.simulation import make_sim  # noqa: E402
from vjepa_ac.simulation.goals import sample_reach_goal  # noqa: E402

GRID = np.linspace(-0.12, 0.12, 9)


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean(dim=(-1, -2))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def encoder_bowl(model, sim, goal: np.ndarray) -> dict:
    """Energy of real renders around `goal` (xy grid at the goal's height) against the goal render."""
    goal_tokens = model.encode(sim.render_goal(ee_pose=goal))
    poses = []
    for dx in GRID:
        for dy in GRID:
            pose = goal.copy()
            pose[:2] += (dx, dy)
            poses.append(pose)
    images = np.stack([sim.render_goal(ee_pose=p) for p in poses])
    energies = _l1(model.encode(images), goal_tokens).numpy()
    distance = np.array([np.linalg.norm(p[:2] - goal[:2]) for p in poses])
    best = int(np.argmin(energies))
    ring = (distance > 0.04) & (distance < 0.06)
    return {"argmin_error_m": float(distance[best]), "spearman": _spearman(distance, energies),
            "energy_at_5cm": float(energies[ring].mean()), "energy_min": float(energies.min())}


def predictor_gain(model, sim, rng: np.random.Generator, actions: int) -> dict:
    """Prediction error of one-step actions against copying the current frame, on real next frames."""
    errors, copies = [], []
    for _ in range(actions):
        obs = sim.observe()
        action = np.zeros(7)
        step = rng.normal(size=3)
        action[:3] = step / np.abs(step).sum() * rng.uniform(0.03, 0.075)
        tokens = model.encode(obs.image)
        predicted = model.rollout(tokens, torch.tensor(obs.ee_state[None]), torch.tensor(action[None, None]))
        after = model.encode(sim.step(action).image)
        errors.append(float(_l1(predicted.float(), after)))
        copies.append(float(_l1(tokens, after)))
    return {"prediction_l1": float(np.mean(errors)), "copy_l1": float(np.mean(copies)),
            "ratio": float(np.mean(errors) / np.mean(copies))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="world-model directory (default: the shipped model)")
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--first-seed", type=int, default=100000)
    p.add_argument("--appearances", nargs="+", default=["default", "train"])
    p.add_argument("--actions", type=int, default=6, help="one-step actions per seed for the predictor check")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    require_development_seeds(args.first_seed, args.seeds)
    torch.manual_seed(0)
    model, camera = load_world_model(args.model), world_model_camera(args.model)
    sims = {engine: make_sim(engine, image_size=model.image_size) for engine in ("mujoco", "pybullet")}
    results = {}
    try:
        for look in args.appearances:
            options = {"appearance": look, **({} if camera == "default" else {"camera": camera})}
            rows = {engine: [] for engine in sims}
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                renders = {}
                for engine, sim in sims.items():
                    sim.reset(seed, options)
                    goal = sample_reach_goal(sim, np.random.default_rng([seed, 7]), 0.10, 0.25)
                    renders[engine] = sim.render_goal(ee_pose=goal)
                    row = {"seed": seed, **encoder_bowl(model, sim, goal),
                           **predictor_gain(model, sim, np.random.default_rng([seed, 11]), args.actions)}
                    rows[engine].append(row)
                cross = float(_l1(model.encode(renders["mujoco"]), model.encode(renders["pybullet"])))
                for engine in sims:
                    rows[engine][-1]["other_engine_l1"] = cross
            results[look] = {engine: {"rows": r, "mean": {k: float(np.mean([x[k] for x in r]))
                                                          for k in r[0] if k != "seed"}}
                             for engine, r in rows.items()}
            for engine, summary in results[look].items():
                m = summary["mean"]
                print(f"{look:8s} {engine:9s} argmin {m['argmin_error_m'] * 100:5.1f} cm  spearman "
                      f"{m['spearman']:.2f}  E(5cm) {m['energy_at_5cm']:.4f}  pred/copy {m['ratio']:.2f}  "
                      f"cross-engine {m['other_engine_l1']:.4f}", flush=True)
    finally:
        for sim in sims.values():
            sim.close()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"camera": camera, "grid_m": GRID.tolist(), "results": results,
                                         "provenance": run_provenance(args.model)},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

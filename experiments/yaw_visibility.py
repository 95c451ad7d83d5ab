"""Can the world model see yaw? Encoder and predictor checked apart, as engine_gap.py does for position.

For development seeds, in each engine (default look unless --appearance; the model's camera), near a reach goal:
  - encoder: the energy of real renders turned about the vertical by +-10..45 deg against the goal render,
    beside the energy of renders moved 1, 2 and 4 cm (mean over x, y, z). If 20 deg of yaw costs less energy
    than 1 cm of motion, CEM cannot tell a turned hand from a hand 1 cm off, whatever the predictor does.
  - predictor: the mean |change| of the predicted tokens for a one-step yaw action of +-0.2 rad (the planner's
    rotation bound) against a 4 cm translation, from the same frame (the gripper-response check of issue 19,
    for yaw), beside the change between the encoded renders of the same poses (what it should predict), and the
    gain: the share of the distance from "nothing moves" to the real outcome that the action input removes
    (a change in the wrong direction has a gain <= 0, however large), and the floor: how far the prediction for
    "nothing moves" lies from the current frame itself.

    .venv/bin/python experiments/yaw_visibility.py --model runs/model_v2 --seeds 4 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vjepa_ac.evaluation.provenance import require_development_seeds, run_provenance  # noqa: E402
from vjepa_ac.models import load_world_model, world_model_camera  # noqa: E402
from vjepa_ac.simulation import make_sim  # noqa: E402
from vjepa_ac.simulation.goals import sample_reach_goal  # noqa: E402

YAWS_DEG = (10.0, 20.0, 30.0, 45.0)
MOVES_M = (0.01, 0.02, 0.04)


def _l1(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().mean())


def _turned(pose: np.ndarray, yaw_deg: float) -> np.ndarray:
    out = pose.copy()
    out[3:6] = (Rotation.from_rotvec([0.0, 0.0, np.deg2rad(yaw_deg)]) * Rotation.from_euler("xyz", pose[3:6])
                ).as_euler("xyz")
    return out


def encoder_energies(model, sim, goal: np.ndarray) -> dict:
    """Energy of real renders against the goal render: turned by each yaw (both signs), moved by each distance."""
    goal_tokens = model.encode(sim.render_goal(ee_pose=goal))
    yaw = {f"{d:g}": float(np.mean([_l1(model.encode(sim.render_goal(ee_pose=_turned(goal, s * d))), goal_tokens)
                                   for s in (-1.0, 1.0)])) for d in YAWS_DEG}
    move = {}
    for d in MOVES_M:
        energies = []
        for axis in range(3):
            for s in (-1.0, 1.0):
                pose = goal.copy()
                pose[axis] += s * d
                energies.append(_l1(model.encode(sim.render_goal(ee_pose=pose)), goal_tokens))
        move[f"{d * 100:g}"] = float(np.mean(energies))
    return {"yaw_deg": yaw, "move_cm": move}


def predictor_response(model, sim) -> dict:
    """Mean |change| of the predicted tokens for yaw +-0.2 rad and for 4 cm moves, from the current frame."""
    obs = sim.observe()
    tokens = model.encode(obs.image)
    state = torch.tensor(obs.ee_state[None])

    def predict(action):
        return model.rollout(tokens, state, torch.tensor(np.asarray(action, dtype=np.float64)[None, None]))

    def real(action):  # the encoded render after the action, no physics: what the prediction should match
        pose = obs.ee_state.copy()
        pose[:3] += action[:3]
        return model.encode(sim.render_goal(ee_pose=_turned(pose, np.rad2deg(action[5]))))

    still, here = predict(np.zeros(7)), real(np.zeros(7))
    result = {"still_error": _l1(still, here)}  # the floor: "nothing moves" predicted against the frame itself
    for name, key, actions in (("yaw", "yaw_0.2rad", [np.eye(7)[5] * s * 0.2 for s in (-1.0, 1.0)]),
                               ("move", "move_4cm", [np.eye(7)[a] * s * 0.04 for a in range(3) for s in (-1.0, 1.0)])):
        outcomes = [(predict(a), real(a)) for a in actions]  # each rendered and predicted once
        result[key] = float(np.mean([_l1(p, still) for p, _ in outcomes]))
        result["real_" + key] = float(np.mean([_l1(r, here) for _, r in outcomes]))
        # the share of the distance to the real outcome that the action input removes (1: all)
        result["gain_" + name] = float(np.mean([1.0 - _l1(p, r) / _l1(still, r) for p, r in outcomes]))
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="world-model directory (default: the shipped model)")
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--first-seed", type=int, default=100000)
    p.add_argument("--engines", nargs="+", default=["mujoco", "pybullet"])
    p.add_argument("--appearance", default="default", help="TaskOptions.appearance of the scenes")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    require_development_seeds(args.first_seed, args.seeds)
    torch.manual_seed(0)
    model, camera = load_world_model(args.model), world_model_camera(args.model)
    options = {"appearance": args.appearance, **({} if camera == "default" else {"camera": camera})}
    results = {}
    for engine in args.engines:
        sim = make_sim(engine, image_size=model.image_size)
        rows = []
        try:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                sim.reset(seed, options)
                goal = sample_reach_goal(sim, np.random.default_rng([seed, 7]), 0.10, 0.25)
                rows.append({"seed": seed, "encoder": encoder_energies(model, sim, goal),
                             "predictor": predictor_response(model, sim)})
        finally:
            sim.close()
        parts = [{**r["encoder"], "predictor": r["predictor"]} for r in rows]  # yaw_deg, move_cm, predictor
        mean = {part: {key: float(np.mean([p[part][key] for p in parts])) for key in parts[0][part]}
                for part in parts[0]}
        results[engine] = {"rows": rows, "mean": mean}
        print(f"{engine}: encoder energy, yaw (deg) {mean['yaw_deg']}  move (cm) {mean['move_cm']}")
        print(f"{engine}: predictor |change|, {mean['predictor']}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"camera": camera, "appearance": args.appearance, "results": results,
                                         "provenance": run_provenance(args.model)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Energy landscapes of the shipped embedded model around simulator states (docs/images/landscape_*.png).

For each evaluation seed: a goal 4-7 cm away (inside one action's L1 ball), the planning energy over a
dx/dy grid (dz fixed at the true value), the argmin against the true displacement, and a bowl check
(energy at the grid border vs. at the minimum). Prints and saves a JSON summary.

    python bench/embedded_energy_landscapes.py [--engine pybullet] [--checkpoint DIR] [--seeds 100001 ...]

Scenes are rendered through the camera the model was trained on (its config's `camera`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vjepa_ac.evaluation.provenance import run_provenance  # noqa: E402
from vjepa_ac.models import load_world_model, world_model_camera  # noqa: E402
from vjepa_ac.planning.energy_landscape import energy_grid, plot_energy_grid  # noqa: E402
from vjepa_ac.simulation import make_sim  # noqa: E402
from vjepa_ac.simulation.goals import sample_reach_goal  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[100001, 100003, 100004, 100006, 100008])
    p.add_argument("--camera-size", type=int, default=128)
    p.add_argument("--engine", choices=("mujoco", "pybullet"), default="mujoco")
    p.add_argument("--out", type=Path, default=Path("docs/images"))
    p.add_argument("--json", type=Path, default=None,
                   help="default: bench/results/embedded_energy_landscapes[_pybullet].json")
    args = p.parse_args(argv)
    suffix = "" if args.engine == "mujoco" else f"_{args.engine}"
    args.out.mkdir(parents=True, exist_ok=True)
    args.json = args.json or Path(f"bench/results/embedded_energy_landscapes{suffix}.json")
    torch.manual_seed(0)
    world_model = load_world_model(args.checkpoint)
    camera = world_model_camera(args.checkpoint)
    options = {} if camera == "default" else {"camera": camera}
    sim = make_sim(args.engine, image_size=args.camera_size)
    rows = []
    try:
        for seed in args.seeds:
            obs = sim.reset(seed, options)
            goal = sample_reach_goal(sim, np.random.default_rng([seed, 7]), 0.04, 0.07)
            true = np.zeros(7)
            true[:3] = goal[:3] - obs.ee_state[:3]
            tokens = world_model.encode(obs.image)[0]
            goal_tokens = world_model.encode(sim.render_goal(ee_pose=goal))[0]
            grid = energy_grid(world_model, tokens, torch.tensor(obs.ee_state), goal_tokens, dims=(0, 1),
                               extent=0.1, steps=41, base_action=torch.tensor(true))
            energies = np.asarray(grid.energies)
            argmin = np.asarray(grid.argmin_action)
            border = np.concatenate([energies[0], energies[-1], energies[:, 0], energies[:, -1]])
            row = {"seed": seed, "true_action_xyz": true[:3].round(4).tolist(),
                   "argmin_xy": argmin[:2].round(4).tolist(),
                   "argmin_error_m": float(np.linalg.norm(argmin[:2] - true[:2])),
                   "min_energy": float(energies.min()), "border_mean_energy": float(border.mean()),
                   "png": str(args.out / f"landscape{suffix}_seed{seed}.png")}
            rows.append(row)
            plot_energy_grid(grid, row["png"], true_action=true,
                             title=f"{args.engine} seed {seed}: argmin off by {100 * row['argmin_error_m']:.1f} cm")
            print(json.dumps(row))
    finally:
        sim.close()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"engine": args.engine, "camera": camera, "rows": rows,
                                     "max_argmin_error_m": max(r["argmin_error_m"] for r in rows),
                                     "provenance": run_provenance(args.checkpoint)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

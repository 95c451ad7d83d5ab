"""Why a reach stops short: per action, the real frame's energy against the energies CEM compares.

For one reach episode this prints, before each action: the distance to the goal, the energy of the
*observed* frame, the predicted energy of holding still (zero action), the energy of the plan CEM chose,
and the action. With the paper's energy (`--no-anchor`) the predicted hold-still energy near the goal is
several times the observed one: the predictor's error is common to all actions and hides how close the
hand already is, so CEM keeps choosing small moves that its error favours. `--anchor` plans with
`anchor_to_observation`, the planner's setting in the nodes and in `vjepa-ac-eval`.

    .venv/bin/python bench/reach_energy_trace.py --seed 100005 --no-anchor --json bench/results/reach_energy_trace_100005_paper.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=100005)
    p.add_argument("--model", default=None, help="world model (default: the embedded model)")
    p.add_argument("--anchor", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from vjepa_ac.evaluation.tasks import make_task
    from vjepa_ac.models import load_world_model
    from vjepa_ac.planning import CEMConfig, CEMPlanner, l1_energy
    from vjepa_ac.simulation import make_sim

    model = load_world_model(args.model)
    planner = CEMPlanner(model, CEMConfig(anchor_to_observation=args.anchor))
    sim = make_sim("mujoco", image_size=128)
    task = make_task("reach")
    rows = []
    try:
        obs, setup = task.setup(sim, args.seed)
        goal = model.encode(setup.goal_images[0])[0]
        planner.reset(args.seed)
        for step in range(setup.budgets[0]):
            tokens = model.encode(obs.image)[0]
            state = torch.as_tensor(obs.ee_state, dtype=torch.float32)[None]
            with torch.no_grad():
                hold = model.rollout(tokens[None], state, torch.zeros(1, 1, 7))[0]
            row = {"step": step, "distance_m": task.distance(sim, obs, setup),
                   "observed_energy": float(l1_energy(tokens, goal)),
                   "predicted_hold_energy": float(l1_energy(hold, goal))}
            result = planner.plan(tokens, obs.ee_state, goal)
            row.update(plan_energy=float(result.energy), action=[round(float(a), 4) for a in result.action[:3]])
            rows.append(row)
            print(f"{step:2d} distance {row['distance_m']:.3f} m | observed {row['observed_energy']:.4f} "
                  f"predicted hold {row['predicted_hold_energy']:.4f} plan {row['plan_energy']:.4f} | "
                  f"action {np.round(result.action[:3], 3)}", flush=True)
            obs = sim.step(result.action)
        final = task.distance(sim, obs, setup)
    finally:
        sim.close()
    print(f"seed {args.seed}, anchor_to_observation={args.anchor}: final distance {final:.3f} m")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"seed": args.seed, "anchor_to_observation": args.anchor,
                                         "final_distance_m": final, "steps": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

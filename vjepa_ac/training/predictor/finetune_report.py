"""What fine-tuning changed on a recorded scene: the energy landscape before and after.

`vjepa-ac-train-predictor` sweeps one-step actions over (dx, dy) from a frame of a held-out episode toward a
later frame of it, with the model before and after training, and reports where each landscape has its
minimum against the true displacement (vjepa_ac/planning/energy_landscape.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["pick_scene", "landscape_summary"]


def pick_scene(states: np.ndarray, extent: float) -> tuple[int, int]:
    """(start, goal) step indices: step 0 and the step farthest from it in (x, y) whose displacement lies
    within 80 % of the swept extent, so the true action is inside the grid (step 1 if none is)."""
    states = np.asarray(states, dtype=np.float64)
    if len(states) < 2:
        raise ValueError("a landscape needs an episode of at least 2 steps")
    shift = np.abs(states[:, :2] - states[0, :2])
    inside = np.all(shift <= 0.8 * extent, axis=1)
    inside[0] = False
    if not inside.any():
        return 0, 1
    return 0, int(np.argmax(np.where(inside, np.linalg.norm(shift, axis=1), -1.0)))


def landscape_summary(world_model, frames: np.ndarray, states: np.ndarray, start: int, goal: int,
                      extent: float = 0.1, steps: int = 21, png: str | Path | None = None, title: str = "") -> dict:
    """Energy grid over (dx, dy) from `frames[start]` toward `frames[goal]` (other action dimensions at their
    true values); its argmin against the true action."""
    from vjepa_ac.planning.energy_landscape import energy_grid, plot_energy_grid
    from vjepa_ac.poses import poses_to_actions

    was_training = world_model.training
    world_model.eval()
    try:
        start_state = np.asarray(states[start], dtype=np.float64)
        goal_state = np.asarray(states[goal], dtype=np.float64)
        true_action = poses_to_actions(torch.from_numpy(start_state), torch.from_numpy(goal_state)).numpy()
        with torch.inference_mode():
            tokens = world_model.encode(np.stack([frames[start], frames[goal]]))
        # The other dimensions (dz, rotation, gripper) at their true values: only (dx, dy) is in question.
        grid = energy_grid(world_model, tokens[0], start_state, tokens[1], dims=(0, 1), extent=extent, steps=steps,
                           base_action=true_action)
    finally:
        world_model.train(was_training)
    true_xy = true_action[:2]
    summary = {
        "start": int(start),
        "goal": int(goal),
        "true_dxdy": [round(float(v), 4) for v in true_xy],
        "argmin_dxdy": [round(float(v), 4) for v in grid.argmin],
        "argmin_error_m": round(float(np.linalg.norm(grid.argmin - true_xy)), 4),
        "min_energy": float(grid.min_energy),
        "max_energy": float(grid.energies.max()),
    }
    if png is not None:
        Path(png).parent.mkdir(parents=True, exist_ok=True)
        plot_energy_grid(grid, png, true_action=true_action, title=title or
                         f"argmin {summary['argmin_dxdy']} vs true {summary['true_dxdy']}")
        summary["png"] = str(png)
    return summary

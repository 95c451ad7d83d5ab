"""Goal sampling for reach tasks (evaluation issue): reachable end-effector poses near the current one."""

from __future__ import annotations

import numpy as np

from vjepa_ac.simulation.interface import FrankaSim

# Keep reach goals clear of the table and objects (the TCP is between the fingertips).
MIN_GOAL_HEIGHT = 0.08


def sample_reach_goal(sim: FrankaSim, rng: np.random.Generator, min_dist: float = 0.10,
                      max_dist: float = 0.25, max_tries: int = 1000) -> np.ndarray:
    """A 7-D EE pose min_dist..max_dist (metres) from the current one, same orientation and gripper.

    Deterministic given the rng state and the sim state; the pose is inside the workspace box and IK
    reaches it to within 1 mm, so a perfect controller can actually get there.
    """
    if not 0 < min_dist <= max_dist:
        raise ValueError(f"need 0 < min_dist <= max_dist, got {min_dist}, {max_dist}")
    state = sim.ee_state()
    bounds = sim.workspace_bounds
    low = np.maximum(np.asarray(bounds.low), [-np.inf, -np.inf, MIN_GOAL_HEIGHT])
    high = np.asarray(bounds.high)
    q_seed = sim.joint_positions()[:7]
    for _ in range(max_tries):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        xyz = state[:3] + rng.uniform(min_dist, max_dist) * direction
        if np.any(xyz < low) or np.any(xyz > high):
            continue
        goal = np.concatenate([xyz, state[3:]])
        q = sim.controller.solve_ik(q_seed, goal[:6])
        if np.linalg.norm(sim.kinematics.tcp_transform(q)[:3, 3] - xyz) < 1e-3:
            return goal
    raise RuntimeError(f"no reachable goal {min_dist}-{max_dist} m from {state[:3]} in {max_tries} tries")

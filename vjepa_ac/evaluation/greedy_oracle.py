"""A one-step planner with a perfect energy: the ceiling a task's protocol leaves the paper's H=1 CEM.

Check a protocol with it before blaming a model: what this cannot solve within the budgets, CEM on a learned
energy cannot either. Its energy is the L1 distance from the reached pose (xyz and gripper) to the current
sub-goal's ground-truth pose. Projecting the pose error into the action space minimises that exactly: every
feasible step that moves each coordinate toward the goal by at most its error lowers the energy by the step's
L1 norm.
"""

from __future__ import annotations

import numpy as np
import torch

from vjepa_ac.planning.action_space import GRIPPER, TRANSLATION, ActionSpace

__all__ = ["greedy_action", "subgoal_ee_poses", "run_greedy_oracle"]


def greedy_action(ee_state: np.ndarray, goal_pose: np.ndarray, space: ActionSpace | None = None) -> np.ndarray:
    """The feasible action that brings position and gripper closest (L1) to `goal_pose` in one step."""
    space = space or ActionSpace()
    error = np.zeros(7)
    error[TRANSLATION] = np.asarray(goal_pose[:3]) - np.asarray(ee_state[:3])
    error[GRIPPER] = float(goal_pose[6]) - float(ee_state[6])
    return space.project(torch.tensor(error, dtype=torch.float64)).numpy()


def subgoal_ee_poses(setup) -> list[np.ndarray]:
    """The end-effector pose each goal image shows, from a task's setup info."""
    poses = setup.info.get("subgoal_ee_poses") or [setup.info["goal_ee_pose"]]
    if len(poses) != len(setup.budgets):
        raise ValueError(f"{len(poses)} sub-goal poses for {len(setup.budgets)} budgets")
    return [np.asarray(pose, dtype=np.float64) for pose in poses]


def run_greedy_oracle(task, sim, seed: int, space: ActionSpace | None = None) -> tuple[bool, float, dict]:
    """Run `task`'s protocol (same images, same budgets) with the greedy oracle; returns task.evaluate(...)."""
    obs, setup = task.setup(sim, seed)
    for goal, budget in zip(subgoal_ee_poses(setup), setup.budgets):
        for _ in range(budget):
            obs = sim.step(greedy_action(obs.ee_state, goal, space))
    return task.evaluate(sim, obs, setup)

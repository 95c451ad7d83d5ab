"""A one-step planner with a perfect energy: the ceiling a task's protocol leaves the paper's H=1 CEM.

Check a protocol with it before blaming a model: what this cannot solve within the budgets, CEM on a learned
energy cannot either. Its energy is the L1 distance from the reached pose (xyz and gripper) to the current
sub-goal's ground-truth pose. Projecting the pose error into the action space minimises that exactly: every
feasible step that moves each coordinate toward the goal by at most its error lowers the energy by the step's
L1 norm. With rotation enabled in the action space (reach-rotate) the rotation error R_goal·R_nowᵀ, as the
action's extrinsic "xyz" Euler delta, is projected into the rotation L1 ball the same way; with rotation
frozen (the default) it is dropped, as before.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from vjepa_ac.planning.action_space import GRIPPER, ROTATION, TRANSLATION, ActionSpace

__all__ = ["greedy_action", "oracle_space", "subgoal_ee_poses", "run_greedy_oracle"]


def greedy_action(ee_state: np.ndarray, goal_pose: np.ndarray, space: ActionSpace | None = None) -> np.ndarray:
    """The feasible action that brings position, gripper and (when not frozen) orientation closest (L1) to
    `goal_pose` in one step."""
    space = space or ActionSpace()
    error = np.zeros(7)
    error[TRANSLATION] = np.asarray(goal_pose[:3]) - np.asarray(ee_state[:3])
    if not all(space.frozen[ROTATION]):
        turn = Rotation.from_euler("xyz", np.asarray(goal_pose[3:6])) * Rotation.from_euler(
            "xyz", np.asarray(ee_state[3:6])).inv()
        error[ROTATION] = turn.as_euler("xyz")
    error[GRIPPER] = float(goal_pose[6]) - float(ee_state[6])
    return space.project(torch.tensor(error, dtype=torch.float64)).numpy()


# Planned rotation turns the hand about the vertical only: every task keeps the tool pointing down, and the
# embedded models' data turn it only so (CEM free in roll and pitch tilted the hand 30-66 deg on reach-rotate).
TILT_DIMENSIONS = ("droll", "dpitch")


def oracle_space(task, rotation: bool | None = None, tilt: bool = False) -> ActionSpace:
    """The planner's default action bounds, rotation enabled where `rotation` (None: the task's default) says,
    about the vertical only unless `tilt`."""
    rotation = getattr(task, "plans_rotation", False) if rotation is None else rotation
    if not rotation:
        return ActionSpace()
    return ActionSpace.from_flags(rotation_enabled=True, frozen_dims=() if tilt else TILT_DIMENSIONS)


def subgoal_ee_poses(setup) -> list[np.ndarray]:
    """The end-effector pose each goal image shows, from a task's setup info."""
    poses = setup.info.get("subgoal_ee_poses") or [setup.info["goal_ee_pose"]]
    if len(poses) != len(setup.budgets):
        raise ValueError(f"{len(poses)} sub-goal poses for {len(setup.budgets)} budgets")
    return [np.asarray(pose, dtype=np.float64) for pose in poses]


def run_greedy_oracle(task, sim, seed: int, space: ActionSpace | None = None) -> tuple[bool, float, dict]:
    """Run `task`'s protocol (same images, same budgets) with the greedy oracle; returns task.evaluate(...).

    Without `space`: the planner's default bounds, with rotation enabled on tasks that plan it (reach-rotate)."""
    space = space or oracle_space(task)
    obs, setup = task.setup(sim, seed)
    for goal, budget in zip(subgoal_ee_poses(setup), setup.budgets):
        for _ in range(budget):
            obs = sim.step(greedy_action(obs.ee_state, goal, space))
    return task.evaluate(sim, obs, setup)

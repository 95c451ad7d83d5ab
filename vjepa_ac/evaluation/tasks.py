"""Goal-image tasks with written-down success criteria (see docs/evaluation.md).

A task turns a seeded simulator reset into goal images with step budgets, and judges the end state
from simulator ground truth the planner never sees.
"""

from __future__ import annotations

import abc
import dataclasses

import numpy as np

from vjepa_ac.simulation.goals import sample_reach_goal

EVALUATION_SEED_START = 100_000  # training data uses seeds below this


@dataclasses.dataclass
class EpisodeSetup:
    goal_images: list[np.ndarray]
    budgets: list[int]
    info: dict


class Task(abc.ABC):
    name: str = "abstract"
    criterion: str = ""

    @abc.abstractmethod
    def setup(self, sim, seed: int):
        """Reset `sim` from `seed`; return (first observation, EpisodeSetup)."""

    @abc.abstractmethod
    def distance(self, sim, obs, setup: EpisodeSetup) -> float:
        """Ground-truth distance to the task's final goal, in metres."""

    @abc.abstractmethod
    def evaluate(self, sim, obs, setup: EpisodeSetup) -> tuple[bool, float, dict]:
        """(success, final distance in m, details) from the final simulator state."""


class ReachTask(Task):
    """Move the end effector to where a goal image shows it; objects stay where they are."""

    name = "reach"
    criterion = "final end-effector position within 4 cm of the goal pose after at most 15 actions"

    def __init__(self, budget: int = 15, tolerance_m: float = 0.04, min_distance: float = 0.10,
                 max_distance: float = 0.25):
        self.budget, self.tolerance_m = budget, tolerance_m
        self.min_distance, self.max_distance = min_distance, max_distance

    def setup(self, sim, seed: int):
        obs = sim.reset(seed)
        rng = np.random.default_rng([seed, 1])
        goal_pose = sample_reach_goal(sim, rng, self.min_distance, self.max_distance)
        goal_image = sim.render_goal(ee_pose=goal_pose)
        info = {"goal_ee_pose": goal_pose.tolist(), "start_ee_pose": obs.ee_state.tolist(),
                "start_distance_m": float(np.linalg.norm(goal_pose[:3] - obs.ee_state[:3]))}
        return obs, EpisodeSetup([goal_image], [self.budget], info)

    def distance(self, sim, obs, setup):
        return float(np.linalg.norm(obs.ee_state[:3] - np.asarray(setup.info["goal_ee_pose"][:3])))

    def evaluate(self, sim, obs, setup):
        distance = self.distance(sim, obs, setup)
        return distance <= self.tolerance_m, distance, {}


TASKS: dict[str, type[Task]] = {"reach": ReachTask}


def make_task(name: str, **kwargs) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {sorted(TASKS)}")
    return TASKS[name](**kwargs)

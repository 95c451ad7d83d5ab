"""Goals the planner node is asked to pursue: from the goal_image topic, a camera capture, or the files its
parameters name (a single goal_image_path, or subgoal_image_paths with subgoal_budgets)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vjepa_ac.framing import read_image_file
from vjepa_ac.ros.image_limits import ImageLimits, check_image_file

__all__ = ["GoalRequest", "UNLIMITED_STEPS", "single_goal_budget", "goal_request_from_files"]

UNLIMITED_STEPS = 2**62


@dataclass
class GoalRequest:
    images: list[np.ndarray]
    budgets: list[int]
    source: str


def single_goal_budget(settings) -> int:
    """Actions toward one goal image: goal_step_budget, or unlimited when it is 0."""
    return settings.goal_step_budget if settings.goal_step_budget > 0 else UNLIMITED_STEPS


def goal_request_from_files(settings, image_limits: ImageLimits) -> GoalRequest | None:
    """The goal(s) the parameters name: the sub-goal list if set, else goal_image_path, else None. Raises
    ValueError for mismatched budgets or an unreadable or oversized file (checked from its header first)."""
    if settings.subgoal_image_paths:
        paths, budgets = settings.subgoal_image_paths, settings.subgoal_budgets
        if len(budgets) != len(paths):
            raise ValueError(f"subgoal_budgets has {len(budgets)} entries for {len(paths)} subgoal_image_paths")
        if any(b < 1 for b in budgets):
            raise ValueError(f"subgoal_budgets must all be >= 1, got {budgets}")
        for path in paths:
            check_image_file(path, image_limits)  # header only: no decoding of an oversized file
        return GoalRequest([read_image_file(p) for p in paths], list(budgets), "subgoal_image_paths")
    if settings.goal_image_path:
        check_image_file(settings.goal_image_path, image_limits)
        image = read_image_file(settings.goal_image_path)
        return GoalRequest([image], [single_goal_budget(settings)], settings.goal_image_path)
    return None

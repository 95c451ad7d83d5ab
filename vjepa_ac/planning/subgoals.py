"""Sequence of goal images with step budgets (pick-and-place: reach, lift, place for 4/10/4 steps)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["SubgoalSchedule"]


class SubgoalSchedule:
    """Tracks which goal the planner pursues and when to move on.

    A sub-goal ends when its step budget is used up or, if `energy_threshold` is set, as soon as an
    observed energy reaches it; the schedule is done after the last sub-goal ends.
    """

    def __init__(
        self,
        goal_token_list: Sequence[torch.Tensor],
        budgets: Sequence[int],
        energy_threshold: float | None = None,
    ):
        goals = list(goal_token_list)
        budgets = [int(b) for b in budgets]
        if not goals:
            raise ValueError("SubgoalSchedule needs at least one goal")
        if len(goals) != len(budgets):
            raise ValueError(f"{len(goals)} goals but {len(budgets)} budgets")
        if any(b < 1 for b in budgets):
            raise ValueError(f"every budget must be >= 1 step, got {budgets}")
        shape = goals[0].shape
        for i, g in enumerate(goals):
            if not isinstance(g, torch.Tensor) or g.ndim != 2 or g.shape != shape:
                got = tuple(g.shape) if isinstance(g, torch.Tensor) else type(g).__name__
                raise ValueError(f"goal {i} must be a [HW, D] tensor like goal 0 {tuple(shape)}, got {got}")
        if energy_threshold is not None and not energy_threshold >= 0:
            raise ValueError(f"energy_threshold must be >= 0, got {energy_threshold!r}")
        self.goals = goals
        self.budgets = budgets
        self.energy_threshold = energy_threshold
        self.reset()

    def reset(self) -> None:
        self.index = 0
        self.steps_in_goal = 0
        self.total_steps = 0

    def __len__(self) -> int:
        return len(self.goals)

    @property
    def done(self) -> bool:
        return self.index >= len(self.goals)

    @property
    def remaining_steps(self) -> int:
        """Steps left in the current sub-goal's budget (0 when done)."""
        return 0 if self.done else self.budgets[self.index] - self.steps_in_goal

    def current_goal(self) -> torch.Tensor:
        if self.done:
            raise IndexError("SubgoalSchedule is done: no current goal")
        return self.goals[self.index]

    def advance(self, energy: float | None = None) -> bool:
        """Count one executed action (with the energy of its plan, if known).

        Returns True when this step switched to the next sub-goal (or finished the schedule).
        """
        if self.done:
            raise IndexError("SubgoalSchedule is done: nothing to advance")
        self.steps_in_goal += 1
        self.total_steps += 1
        reached = (
            self.energy_threshold is not None and energy is not None and float(energy) <= self.energy_threshold
        )
        if reached or self.steps_in_goal >= self.budgets[self.index]:
            self.index += 1
            self.steps_in_goal = 0
            return True
        return False

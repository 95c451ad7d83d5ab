"""Goal images in, one planned action per camera frame out: the control loop shared by the planner node, the
evaluation and the demo (which runs the node).

    controller.set_goal(images, budgets)   # encode the goal images, read each one's gripper
    result = controller.step(rgb, state)   # encode the frame, plan toward the current goal image
    controller.executed(result)            # the action was sent: count it against the goal's budget

No ROS and no threads here: the node decides when a plan may be sent, the controller what the plan is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from vjepa_ac.framing import fit_to_square
from vjepa_ac.planning.cem import CEMPlanner, PlanResult
from vjepa_ac.planning.goal_gripper import GoalGripper, gripper_target
from vjepa_ac.planning.subgoals import SubgoalSchedule

__all__ = ["GoalImageController"]


class GoalImageController:
    """One world model, one CEM planner and a schedule of goal images with step budgets.

    `goal_gripper` (a `GoalGripper`: `closedness(image) -> 1.0 | 0.0 | None`) reads the gripper each goal image
    shows; None leaves the gripper to the image energy alone, as in the paper. Frames and goals go
    through the same crop and resize (`image_crop`), so a goal taken with the camera compares like for like.
    """

    def __init__(self, world_model, planner: CEMPlanner, goal_gripper: GoalGripper | None = None,
                 image_crop: str = "center", energy_threshold: float | None = None):
        self.world_model, self.planner, self.goal_gripper = world_model, planner, goal_gripper
        self.image_crop, self.energy_threshold = image_crop, energy_threshold
        self.schedule: SubgoalSchedule | None = None
        self.goal_grippers: list[float | None] = []  # per goal image: 1 closed, 0 open, None undecided
        self.encode_seconds = float("nan")  # of the last step's frame

    def set_goal(self, images: Sequence[np.ndarray], budgets: Sequence[int]) -> None:
        """Plan toward `images` in turn, `budgets[i]` actions each; raises (keeping the old goal) on bad input."""
        fitted = [self._fit(image) for image in images]
        tokens = [self.world_model.encode(image)[0] for image in fitted]
        schedule = SubgoalSchedule(tokens, budgets, self.energy_threshold)
        grippers = [None if self.goal_gripper is None else self.goal_gripper.closedness(image) for image in fitted]
        self.schedule, self.goal_grippers = schedule, grippers
        self.planner.reset()

    def clear_goal(self) -> None:
        """No goal: `step` refuses until the next `set_goal`."""
        self.schedule, self.goal_grippers = None, []

    def reset(self, seed: int | None = None) -> None:
        """Back to the first goal image, with a fresh planner (no warm start, its random stream restarted)."""
        if self.schedule is not None:
            self.schedule.reset()
        self.planner.reset(seed)

    @property
    def has_goal(self) -> bool:
        return self.schedule is not None

    @property
    def done(self) -> bool:
        return self.schedule is not None and self.schedule.done

    @property
    def goal_index(self) -> int:
        return self.schedule.index if self.schedule is not None else 0

    def current_goal_gripper(self) -> float | None:
        """The readout's decision for the goal being pursued (None without a readout or when undecided)."""
        if self.schedule is None or self.schedule.done or not self.goal_grippers:
            return None
        return self.goal_grippers[self.schedule.index]

    def step(self, rgb: np.ndarray, state: np.ndarray) -> PlanResult:
        """Plan one action from camera frame `rgb` and proprioceptive `state` [7] toward the current goal."""
        if self.schedule is None or self.schedule.done:
            raise RuntimeError("no goal to plan toward" if self.schedule is None else "the goal sequence is done")
        started = time.perf_counter()
        tokens = self.world_model.encode(self._fit(rgb))[0]
        self.encode_seconds = time.perf_counter() - started
        target = None
        if self.goal_gripper is not None:  # the goal's gripper, or hold the current one when undecided
            target = gripper_target(self.goal_grippers[self.schedule.index], float(state[6]))
        return self.planner.plan(tokens, state, self.schedule.current_goal(), target)

    def executed(self, result: PlanResult) -> bool:
        """Count `result`'s action as sent; True when that ended the current goal image's turn."""
        return self.schedule.advance(result.energy)

    def _fit(self, rgb: np.ndarray) -> np.ndarray:
        return fit_to_square(rgb, int(getattr(self.world_model, "image_size", rgb.shape[0])), self.image_crop)

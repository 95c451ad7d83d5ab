"""Randomised exploration policy for data collection: smooth random end-effector motion plus gripper toggles.

The world model must learn what arbitrary actions do, not only the expert's few motions, so exploration
drives the tool with an AR(1) (low-pass filtered) random velocity that bounces off a margin inside the
workspace box, occasionally opens/closes the gripper, and jitters the yaw a little (`yaw_step`) or, with
`yaw_range` > 0, turns the hand about the vertical by up to that much per action (the planner's rotation bound),
keeping the yaw within `max_yaw` of pointing straight ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExplorationConfig:
    max_step: float = 0.05  # metres per action (the sim clips at 0.10)
    smoothing: float = 0.7  # AR(1) coefficient of the velocity: 0 = white noise, -> 1 = straight lines
    toggle_probability: float = 0.1  # per step
    yaw_step: float = 0.05  # std of the yaw delta (rad); 0 keeps the orientation
    margin: float = 0.03  # stay this far inside the workspace box
    yaw_range: float = 0.0  # > 0: yaw actions uniform in +-this (rad; 0.2 = CEM's rotation_radius), instead of yaw_step
    max_yaw: float = 0.8  # with yaw_range: a turn that would take |yaw| past this (rad) turns the other way

    def __post_init__(self):
        if self.max_step <= 0 or not 0 <= self.smoothing < 1 or not 0 <= self.toggle_probability <= 1:
            raise ValueError(f"invalid exploration config {self}")
        if self.yaw_step < 0 or self.margin < 0:
            raise ValueError("yaw_step and margin must be >= 0")
        if not 0 <= self.yaw_range <= 0.5 or not self.max_yaw > self.yaw_range:
            raise ValueError(f"need 0 <= yaw_range <= 0.5 (the sim's per-step limit) and max_yaw > yaw_range, got "
                             f"{self.yaw_range}, {self.max_yaw}")


class SmoothRandomExplorer:
    def __init__(self, low, high, rng: np.random.Generator, config: ExplorationConfig | None = None):
        self.config = config or ExplorationConfig()
        self.low = np.asarray(low, dtype=np.float64) + self.config.margin
        self.high = np.asarray(high, dtype=np.float64) - self.config.margin
        if np.any(self.low >= self.high):
            raise ValueError(f"workspace {low}..{high} is smaller than twice the margin {self.config.margin}")
        self.rng = rng
        self.velocity = np.zeros(3)

    def reset(self) -> None:
        self.velocity = np.zeros(3)

    def act(self, state: np.ndarray, allow_toggle: bool = True) -> np.ndarray:
        """A 7-D delta action from the current end-effector state `state` [7]."""
        cfg = self.config
        state = np.asarray(state, dtype=np.float64)
        noise = self.rng.normal(0.0, cfg.max_step, size=3)
        self.velocity = cfg.smoothing * self.velocity + (1.0 - cfg.smoothing) * noise * 2.0
        speed = np.linalg.norm(self.velocity)
        if speed > cfg.max_step:
            self.velocity *= cfg.max_step / speed
        target = state[:3] + self.velocity
        # Bounce: reverse the velocity along axes that would leave the box, then clamp.
        outside = (target < self.low) | (target > self.high)
        self.velocity[outside] *= -1.0
        target = np.clip(state[:3] + self.velocity, self.low, self.high)
        action = np.zeros(7)
        action[:3] = target - state[:3]
        if cfg.yaw_range > 0:  # drawn only here, so configurations without it keep their random streams
            turn = float(self.rng.uniform(-cfg.yaw_range, cfg.yaw_range))
            if abs(state[5] + turn) > cfg.max_yaw:
                turn = -turn
            action[5] = turn
        elif cfg.yaw_step > 0:
            action[5] = float(np.clip(self.rng.normal(0.0, cfg.yaw_step), -3 * cfg.yaw_step, 3 * cfg.yaw_step))
        if allow_toggle and self.rng.random() < cfg.toggle_probability:
            closed = state[6] >= 0.5
            action[6] = (0.0 if closed else 1.0) - state[6]
        return action

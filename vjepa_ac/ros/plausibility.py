"""Limits of what a robot can plausibly report and be commanded to, from configuration.

A pose 100 m away or a finger at -5 m is a broken driver or a wrong remap, not a state to plan from;
and a commanded target outside the workspace box must never reach the controller. The Franka's values
live in config/franka_real.yaml, the simulated cell's in config/planner.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vjepa_ac.ros.state_conversion import apply_delta

__all__ = ["PlausibilityLimits", "WORKSPACE_ACTIONS", "position_problem", "limit_target", "plan_problem"]

WORKSPACE_ACTIONS = ("clamp", "refuse")


@dataclass(frozen=True)
class PlausibilityLimits:
    workspace_min: tuple[float, float, float]
    workspace_max: tuple[float, float, float]
    finger_range: tuple[float, float]  # each finger's position (m)
    finger_count: int
    quaternion_tolerance: float  # allowed |norm - 1|
    max_future_stamp_s: float
    workspace_action: str = "clamp"

    def __post_init__(self):
        low, high = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if low.shape != (3,) or high.shape != (3,) or not np.all(np.isfinite(low)) or not np.all(np.isfinite(high)):
            raise ValueError(f"workspace_min/max must be 3 finite numbers each, got {self.workspace_min}, "
                             f"{self.workspace_max}")
        if np.any(low >= high):
            raise ValueError(f"workspace_min {list(low)} must be below workspace_max {list(high)} on every axis")
        if len(self.finger_range) != 2 or not self.finger_range[0] < self.finger_range[1]:
            raise ValueError(f"finger_position_range must be [min, max] with min < max, got {list(self.finger_range)}")
        if self.workspace_action not in WORKSPACE_ACTIONS:
            raise ValueError(f"workspace_action must be one of {WORKSPACE_ACTIONS}, got {self.workspace_action!r}")

    @classmethod
    def from_settings(cls, s) -> PlausibilityLimits:
        return cls(tuple(s.workspace_min), tuple(s.workspace_max), tuple(s.finger_position_range),
                   s.gripper_finger_count, s.quaternion_tolerance, s.max_future_stamp_s, s.workspace_action)

    def describe_box(self) -> str:
        low, high = self.workspace_min, self.workspace_max
        return "x {:g}..{:g}, y {:g}..{:g}, z {:g}..{:g} m".format(*(v for pair in zip(low, high) for v in pair))


def position_problem(xyz, limits: PlausibilityLimits, what: str = "EE position") -> str | None:
    """Why a position lies outside the workspace box, else None."""
    xyz = np.asarray(xyz, dtype=np.float64)
    if np.all(xyz >= limits.workspace_min) and np.all(xyz <= limits.workspace_max):
        return None
    return f"{what} ({xyz[0]:.3f}, {xyz[1]:.3f}, {xyz[2]:.3f}) m is outside the workspace ({limits.describe_box()})"


def limit_target(target, limits: PlausibilityLimits) -> tuple[np.ndarray | None, str | None]:
    """Apply the workspace box to a commanded 7-D target: (target, None) inside; (clamped, note) or
    (None, reason) outside, as `workspace_action` says."""
    target = np.asarray(target, dtype=np.float64)
    problem = position_problem(target[:3], limits, "commanded target")
    if problem is None:
        return target, None
    if limits.workspace_action == "refuse":
        return None, f"{problem}: refused"
    clamped = target.copy()
    clamped[:3] = np.clip(target[:3], limits.workspace_min, limits.workspace_max)
    return clamped, f"{problem}: clamped to ({clamped[0]:.3f}, {clamped[1]:.3f}, {clamped[2]:.3f})"


def plan_problem(result, l1_radius: float) -> str | None:
    """Why a planner result must not become a command (wrong shape, not finite, outside the L1 ball)."""
    action = np.asarray(result.action, dtype=np.float64)
    if action.shape != (7,):
        return f"action has shape {action.shape}, expected (7,)"
    if not np.all(np.isfinite(action)):
        return f"action is not finite: {action}"
    if not np.isfinite(result.energy):
        return f"energy is not finite: {result.energy}"
    l1 = float(np.abs(action[:3]).sum())
    if l1 > l1_radius * (1 + 1e-6) + 1e-9:
        return f"translation L1 {l1:.4f} m exceeds l1_radius {l1_radius:g} m"
    predicted = np.asarray(result.predicted_states, dtype=np.float64)
    if predicted.ndim != 2 or predicted.shape[1] != 7 or not np.all(np.isfinite(predicted)):
        return f"predicted states invalid (shape {predicted.shape})"
    return None


def command_for_plan(result, state: np.ndarray, limits: PlausibilityLimits, l1_radius: float):
    """(action, target, note, refused): the 7-D action and target a plan from `state` may command, with the
    workspace box applied (the delta then reaches the clamped target), or `refused` saying why it may not."""
    problem = plan_problem(result, l1_radius)
    if problem:
        return None, None, None, f"plan rejected: {problem}"
    action = np.asarray(result.action, dtype=np.float64)
    target, note = limit_target(apply_delta(state, action), limits)
    if target is None:
        return None, None, None, f"no command: {note}"
    if note:
        action = np.concatenate([target[:3] - state[:3], action[3:]])
    return action, target, note, None

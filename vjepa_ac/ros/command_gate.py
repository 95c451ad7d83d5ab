"""A stop is a stop (docs/safety.md): the planner node's shared state behind one lock, and the rule for sending.

Every event that must stop commands (enable(false), reset, a new goal, a rejected input, a sensor going stale)
bumps a generation under the lock. A plan records the generation it started from; right before its command is
sent, under the same lock, the gate checks that the generation is unchanged, that planning is enabled, that no
input is rejected and that every sensor is still fresh at the send time, so no stop can slip in between.
No rclpy here: the node owns the topics, this owns the decision.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from vjepa_ac.ros.sensor_inputs import SensorInputs
from vjepa_ac.sensing import SensorSample

__all__ = ["CommandGate", "Snapshot"]


@dataclass
class Snapshot:
    """What the planning thread reads at the start of a step."""

    ticket: int  # the generation this plan starts from
    errors: dict[str, str]
    enabled: bool
    stale: str | None
    camera: SensorSample | None
    state: np.ndarray | None  # [7] when the sensors are fresh
    last_command_ns: int


class CommandGate:
    def __init__(self, inputs: SensorInputs, enabled: bool, on_stop=lambda: None):
        """`on_stop()` runs (with the lock held) whenever a stop invalidates plans, e.g. to end a twist motion."""
        self.lock = threading.Lock()
        self.inputs, self.enabled, self._on_stop = inputs, enabled, on_stop
        self.generation, self.invalidated_by = 0, ""
        self.pending_goal = None  # handed from callbacks to the planning thread, which alone uses the model
        self.drop_goal = self.reset_requested = self._sensors_fresh = False
        self.last_command_ns = 0

    def _invalidate(self, reason: str) -> None:
        self.generation += 1
        self.invalidated_by = reason
        self._on_stop()

    def stop(self, reason: str) -> None:
        with self.lock:
            self._invalidate(reason)

    def reject(self, key: str, reason: str, drop_goal: bool = False) -> None:
        """An input failed its checks: remember why, drop its last value (and the goal) and any plan in flight."""
        with self.lock:
            self.inputs.reject(key, reason)
            if drop_goal:  # driving on toward the old goal after a failed goal change would surprise the user
                self.pending_goal, self.drop_goal = None, True
            self._invalidate(reason)

    def accept(self, key: str, sample: SensorSample) -> None:
        with self.lock:
            self.inputs.accept(key, sample)

    def put_goal(self, request) -> None:
        with self.lock:
            self.pending_goal = request
            self.inputs.errors.pop("goal", None)
            self._invalidate(f"new goal from {request.source}")

    def set_enabled(self, enabled: bool) -> None:
        with self.lock:
            self.enabled = enabled
            self._invalidate("planning enabled" if enabled else "planning disabled")
            self.reset_requested = self.reset_requested or enabled

    def request_reset(self) -> None:
        with self.lock:
            self.reset_requested = True
            self._invalidate("reset")

    def went_stale(self, now_ns: int) -> str | None:
        """The sensor problem, when the sensors were fresh until now (and the plan in flight is dropped)."""
        with self.lock:
            problem = self.inputs.problem(now_ns)
            went_stale = problem is not None and self._sensors_fresh
            self._sensors_fresh = problem is None
            if went_stale:
                self._invalidate(problem)
        return problem if went_stale else None

    def take_requests(self):
        """(reset, drop the goal, the pending goal request or None) for the planning thread."""
        with self.lock:
            reset, self.reset_requested = self.reset_requested, False
            if reset:
                self.last_command_ns = 0
            drop, self.drop_goal = self.drop_goal, False
            request, self.pending_goal = self.pending_goal, None
        return reset, drop, request

    @property
    def goal_changed(self) -> bool:
        """A goal arrived (or was refused) after `take_requests`."""
        with self.lock:
            return self.pending_goal is not None or self.drop_goal

    def snapshot(self, now_ns: int) -> Snapshot:
        with self.lock:
            stale = self.inputs.problem(now_ns)
            return Snapshot(self.generation, dict(self.inputs.errors), self.enabled, stale,
                            self.inputs.latest["camera"], self.inputs.state() if stale is None else None,
                            self.last_command_ns)

    def problem_now(self, now_ns: int) -> str | None:
        """Why no motion may be commanded at `now_ns` (caller holds the lock)."""
        if not self.enabled:
            return "planning disabled"
        if self.inputs.errors:
            return "; ".join(self.inputs.errors.values())
        return self.inputs.problem(now_ns)

    def send(self, ticket: int, clock_ns, publish) -> str | None:
        """Call `publish()` if nothing stopped commands since `ticket` and the sensors are fresh at `clock_ns()`;
        else return why not. `publish` runs under the lock, so no stop can come between the check and the send."""
        with self.lock:
            now_ns = clock_ns()
            problem = self.invalidated_by if ticket != self.generation else self.problem_now(now_ns)
            if problem is None:
                publish()
                self.last_command_ns = now_ns
            return problem

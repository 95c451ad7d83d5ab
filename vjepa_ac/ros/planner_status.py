"""What the planner node reports on /diagnostics: counters, latencies, sensor ages and goal progress."""

from __future__ import annotations

__all__ = ["PlannerStatus"]


class PlannerStatus:
    """Counters and the last step's timings; `values` adds the live state (caller holds the node's lock)."""

    def __init__(self):
        self.counts = dict.fromkeys(("commands_published", "commands_dropped", "targets_clamped"), 0)
        self.timing = dict.fromkeys(("plan_latency_s", "encode_latency_s", "step_latency_s", "energy"), float("nan"))
        self.goal_set_ns: int | None = None
        self.goal_source = ""

    def values(self, now_ns: int, enabled: bool, inputs, controller) -> dict:
        def age(key):
            sample = inputs.latest[key] if inputs is not None else None
            return sample.age_s(now_ns / 1e9) if sample else float("nan")

        values = {"enabled": enabled, **self.timing,
                  "goal_age_s": (now_ns - self.goal_set_ns) / 1e9 if self.goal_set_ns else float("nan"),
                  "goal_source": self.goal_source, "camera_age_s": age("camera"),
                  "camera_latency_s": inputs.camera_latency_s if inputs is not None else float("nan"),
                  "camera_frames": inputs.camera_frames if inputs is not None else 0,
                  "state_age_s": age("ee_pose"), "gripper_age_s": age("gripper"), **self.counts}
        if controller is not None and controller.has_goal:
            schedule = controller.schedule
            values.update(subgoal_index=schedule.index, subgoal_count=len(schedule), steps_in_goal=schedule.steps_in_goal)
            if controller.goal_gripper is not None and not controller.done:
                from vjepa_ac.planning.goal_gripper import describe_decision

                values["goal_gripper"] = describe_decision(controller.current_goal_gripper())
        return values

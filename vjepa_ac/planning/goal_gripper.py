"""Which gripper state each goal image asks for, read by a gripper readout (`vjepa_ac.models.gripper_readout`).

A small world model's image energy barely depends on the gripper (docs/embedded_model.md), so the readout's
answer is added to the energy (`CEMConfig.gripper_goal_weight`). Where the readout is less sure than
`min_confidence`, the planner holds the gripper as it is: a gripper change needs a reason.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_READOUT_MIN_CONFIDENCE", "GoalGripper", "describe_decision",
           "gripper_target"]

DEFAULT_READOUT_MIN_CONFIDENCE = 0.8


def describe_decision(decision: float | None) -> str:
    """How diagnostics and the demo name a readout decision."""
    return "undecided (hold)" if decision is None else ("closed" if decision else "open")


def gripper_target(decision: float | None, current_closedness: float) -> float:
    """The closedness the planner aims for: the goal's, or the current one when the readout is undecided."""
    return float(current_closedness) if decision is None else float(decision)


class GoalGripper:
    """Goal image -> closedness (0 open, 1 closed) or None (undecided), from a `GripperReadout`."""

    def __init__(self, readout, min_confidence: float = DEFAULT_READOUT_MIN_CONFIDENCE, source=None):
        if not 0.5 <= min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in [0.5, 1), got {min_confidence!r}")
        self.readout, self.min_confidence, self.source = readout, float(min_confidence), source

    @classmethod
    def for_model(cls, checkpoint=None, readout_path=None,
                  min_confidence: float = DEFAULT_READOUT_MIN_CONFIDENCE) -> GoalGripper:
        """The readout at `readout_path`, else the one stored next to `checkpoint` (None: the embedded model).

        Raises ValueError when there is none: a positive gripper goal weight without a readout is a
        configuration error, not something to skip silently.
        """
        from vjepa_ac.models import EMBEDDED_MODEL_DIR
        from vjepa_ac.models.gripper_readout import GRIPPER_READOUT_FILE, load_gripper_readout

        if readout_path:
            path = Path(readout_path).expanduser()
            readout = load_gripper_readout(path, required=True)
        else:
            directory = EMBEDDED_MODEL_DIR if not checkpoint else Path(checkpoint).expanduser()
            readout = load_gripper_readout(directory) if directory.is_dir() else None
            if readout is None:
                raise ValueError(f"{directory} has no {GRIPPER_READOUT_FILE}: train one (vjepa-ac-train-gripper-readout), "
                                 "name one, or set the gripper goal weight to 0")
            path = directory / GRIPPER_READOUT_FILE
        return cls(readout, min_confidence, source=path)

    def closedness(self, goal_image) -> float | None:
        """1.0, 0.0, or None (undecided) for a uint8 RGB goal image."""
        return self.readout.goal_closedness(goal_image, self.min_confidence)

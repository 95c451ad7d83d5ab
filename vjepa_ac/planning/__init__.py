"""Goal-image planning in a world model's latent space (CEM, L1-ball actions, sub-goals, the control loop).

Attributes load on first use, so `vjepa_ac.planning.config` (the settings) imports without torch.
"""

import importlib

_EXPORTS = {
    "ActionSpace": "action_space",
    "CEMConfig": "config",
    "CEMPlanner": "cem",
    "GoalImageController": "controller",
    "PlanResult": "cem",
    "SubgoalSchedule": "subgoals",
    "l1_energy": "energy",
    "project_l1_ball": "l1_ball",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)

"""Goal-image planning in a world model's latent space (CEM, L1-ball actions, sub-goals)."""

from vjepa_ac.planning.action_space import ActionSpace
from vjepa_ac.planning.cem import CEMConfig, CEMPlanner, PlanResult
from vjepa_ac.planning.energy import l1_energy
from vjepa_ac.planning.l1_ball import project_l1_ball
from vjepa_ac.planning.subgoals import SubgoalSchedule

__all__ = [
    "ActionSpace",
    "CEMConfig",
    "CEMPlanner",
    "PlanResult",
    "SubgoalSchedule",
    "l1_energy",
    "project_l1_ball",
]

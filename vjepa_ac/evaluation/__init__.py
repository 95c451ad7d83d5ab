"""Simulated task evaluation: goal-image tasks, the episode loop, reports (`vjepa-ac-eval`)."""

from vjepa_ac.evaluation.episode_runner import EpisodeRecord, run_episode
from vjepa_ac.evaluation.tasks import TASKS, EpisodeSetup, Task, make_task

__all__ = ["TASKS", "EpisodeRecord", "EpisodeSetup", "Task", "make_task", "run_episode"]

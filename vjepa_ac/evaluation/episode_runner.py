"""One closed-loop episode: observe, act (plan with CEM, or a baseline policy), execute, repeat."""

from __future__ import annotations

import dataclasses

import numpy as np

from vjepa_ac.evaluation.policies import PlannerPolicy, Policy
from vjepa_ac.planning.controller import GoalImageController


@dataclasses.dataclass
class EpisodeRecord:
    """Everything a report needs about one episode; `frames` are dropped before JSON export."""

    task: str
    engine: str
    seed: int
    success: bool
    final_distance_m: float
    actions_executed: int
    seconds_per_action: float
    energies: list[float | None]  # the planner's; None for policies without an energy
    plan_seconds: list[float]
    distances_m: list[float]
    subgoal_index: list[int]
    actions: list[list[float]]
    details: dict
    frames: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)
    goal_images: list[np.ndarray] = dataclasses.field(default_factory=list, repr=False)

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data.pop("frames")
        data.pop("goal_images")
        return data


def run_episode(sim, controller: GoalImageController, task, seed: int, record_frames: bool = False) -> EpisodeRecord:
    """Run `task` on `sim` from `seed` with the package's control loop toward the task's goal images."""
    return run_policy_episode(sim, PlannerPolicy(controller), task, seed, record_frames)


def run_policy_episode(sim, policy: Policy, task, seed: int, record_frames: bool = False) -> EpisodeRecord:
    """Run `task` from `seed` with any policy for exactly sum(budgets) actions; judged by `task.evaluate`."""
    obs, setup = task.setup(sim, seed)
    policy.reset(sim, obs, setup, task, seed)
    energies, plan_seconds, distances, stages, actions = [], [], [], [], []
    frames = [obs.image] if record_frames else []
    for stage, budget in enumerate(setup.budgets):
        for _ in range(budget):
            step = policy.act(obs, stage)
            plan_seconds.append(float(step.seconds))
            obs = sim.step(step.action)
            energies.append(None if step.energy is None else float(step.energy))
            stages.append(int(stage))
            actions.append([float(a) for a in step.action])
            distances.append(float(task.distance(sim, obs, setup)))
            if record_frames:
                frames.append(obs.image)
    success, final_distance, details = task.evaluate(sim, obs, setup)
    return EpisodeRecord(
        task=task.name,
        engine=sim.engine,
        seed=int(seed),
        success=bool(success),
        final_distance_m=float(final_distance),
        actions_executed=len(actions),
        seconds_per_action=float(np.mean(plan_seconds)) if plan_seconds else 0.0,
        energies=energies,
        plan_seconds=plan_seconds,
        distances_m=distances,
        subgoal_index=stages,
        actions=actions,
        details={**details, **policy.episode_details()},
        frames=frames,
        goal_images=list(setup.goal_images) if record_frames else [],
    )

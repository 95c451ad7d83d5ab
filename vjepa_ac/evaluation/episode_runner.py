"""One closed-loop episode: observe, encode, plan with CEM, execute the first action, repeat."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from vjepa_ac.planning import CEMPlanner, SubgoalSchedule
from vjepa_ac.planning.goal_gripper import gripper_target


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
    energies: list[float]
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


def run_episode(sim, world_model, planner: CEMPlanner, task, seed: int, record_frames: bool = False,
                goal_gripper=None) -> EpisodeRecord:
    """Run `task` on `sim` from `seed`, planning toward its goal images with `planner`.

    `goal_gripper(goal_image, setup, index) -> closedness | None` tells the planner each goal's gripper (a
    readout of the goal image, or ground truth for a diagnostic bound); where it answers None the planner
    aims to hold the gripper as it is. Without `goal_gripper` the image energy alone decides the gripper.
    """
    obs, setup = task.setup(sim, seed)
    goal_tokens = [world_model.encode(image)[0] for image in setup.goal_images]
    goal_grippers = [None if goal_gripper is None else goal_gripper(image, setup, i)
                     for i, image in enumerate(setup.goal_images)]
    schedule = SubgoalSchedule(goal_tokens, setup.budgets)
    planner.reset(seed)
    energies, plan_seconds, distances, stages, actions = [], [], [], [], []
    frames = [obs.image] if record_frames else []
    while not schedule.done:
        stage = schedule.index
        tokens = world_model.encode(obs.image)[0]
        started = time.perf_counter()
        target = None if goal_gripper is None else gripper_target(goal_grippers[stage], obs.ee_state[6])
        result = planner.plan(tokens, obs.ee_state, schedule.current_goal(), target)
        plan_seconds.append(time.perf_counter() - started)
        obs = sim.step(result.action)
        schedule.advance(result.energy)
        energies.append(float(result.energy))
        stages.append(int(stage))
        actions.append([float(a) for a in result.action])
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
        details=details if goal_gripper is None else {**details, "goal_grippers": goal_grippers},
        frames=frames,
        goal_images=list(setup.goal_images) if record_frames else [],
    )

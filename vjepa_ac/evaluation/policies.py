"""The policies `vjepa-ac-eval` compares on the same tasks, seeds and success tests.

- `planner`: CEM in the world model's latent space toward the goal images (the method under test);
- `oracle`: the greedy oracle, one step ahead on the ground-truth sub-goal poses (the protocol's ceiling);
- `blind`: no camera and no goal images, only proprioception and what the task's protocol says about where
  things are in general (the control: what a policy gets without seeing anything);
- `random`: uniform actions within the planner's action bounds.

A policy sees `reset(sim, obs, setup, task, seed)` once and then `act(obs, stage)` for each action; the
episode runner calls them exactly sum(budgets) times.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from vjepa_ac.evaluation.greedy_oracle import greedy_action, subgoal_ee_poses
from vjepa_ac.planning.action_space import ActionSpace
from vjepa_ac.simulation.expert import GRASP_Z, LIFT_Z, PLACE_Z, PREGRASP_Z, RETREAT_Z, SUCCESS_XY_TOL
from vjepa_ac.simulation.scene_layout import (
    AWAY_START_RADIUS,
    AWAY_START_XY_BOX,
    NEAR_CUBE_START_RADIUS,
    sample_layout,
)

POLICIES = ("planner", "oracle", "blind", "random")


@dataclasses.dataclass
class PolicyStep:
    action: np.ndarray
    energy: float | None = None  # the planner's energy of its chosen action; None for the other policies
    seconds: float = 0.0


class Policy:
    name = "abstract"

    def reset(self, sim, obs, setup, task, seed: int) -> None:
        """Start an episode: `setup` holds the goal images and budgets; `obs` is the first observation."""

    def act(self, obs, stage: int) -> PolicyStep:
        raise NotImplementedError

    def episode_details(self) -> dict:
        """Per-episode extras for the record (e.g. the planner's goal-gripper decisions)."""
        return {}


class PlannerPolicy(Policy):
    """The package's control loop (`GoalImageController`) toward the task's goal images and budgets."""

    name = "planner"

    def __init__(self, controller):
        self.controller = controller

    def reset(self, sim, obs, setup, task, seed):
        self.controller.set_goal(setup.goal_images, setup.budgets)
        self.controller.reset(seed)

    def act(self, obs, stage):
        if self.controller.goal_index != stage:
            raise RuntimeError(f"the controller pursues goal {self.controller.goal_index}, the task's stage is {stage}")
        result = self.controller.step(obs.image, obs.ee_state)
        self.controller.executed(result)  # the runner always executes it
        return PolicyStep(np.asarray(result.action, dtype=np.float64), float(result.energy), float(result.seconds))

    def episode_details(self):
        c = self.controller
        return {} if c.goal_gripper is None else {"goal_grippers": list(c.goal_grippers)}


class OraclePolicy(Policy):
    """The greedy oracle (`greedy_oracle.py`) on the task's ground-truth sub-goal poses and budgets.

    Single-goal pick-and-place shows one image; its oracle follows the pick-and-place sub-goal poses it was
    not shown (`setup.info["oracle_plan"]`), so it bounds what any one-step planner could do within the budget.
    """

    name = "oracle"

    def __init__(self, space: ActionSpace | None = None):
        self.space = space or ActionSpace()
        self.schedule: list[np.ndarray] = []
        self.step = 0

    def reset(self, sim, obs, setup, task, seed):
        plan = setup.info.get("oracle_plan")
        if plan is not None:
            poses, budgets = [np.asarray(p, dtype=np.float64) for p in plan["ee_poses"]], plan["budgets"]
        else:
            poses, budgets = subgoal_ee_poses(setup), setup.budgets
        self.schedule = [pose for pose, budget in zip(poses, budgets) for _ in range(int(budget))]
        self.step = 0

    def act(self, obs, stage):
        goal = self.schedule[min(self.step, len(self.schedule) - 1)]
        self.step += 1
        return PolicyStep(greedy_action(obs.ee_state, goal, self.space))


class RandomPolicy(Policy):
    """Uniform actions in the planner's bounds: translation uniform in its L1 ball, gripper uniform in
    [-gripper_max, gripper_max], rotation frozen as the planner's (or, with rotation enabled, uniform in its L1
    ball); seeded by the episode seed."""

    name = "random"

    def __init__(self, space: ActionSpace | None = None):
        self.space = space or ActionSpace()
        self.rng = np.random.default_rng(0)

    def reset(self, sim, obs, setup, task, seed):
        self.rng = np.random.default_rng([seed, 7])

    def act(self, obs, stage):
        return PolicyStep(random_action(self.rng, self.space))


def random_action(rng: np.random.Generator, space: ActionSpace) -> np.ndarray:
    """One action uniform in the feasible set (frozen dimensions zero)."""
    # Uniform in the 3-D L1 ball: a uniform point of the simplex (sorted uniforms' gaps), random signs, and a
    # radius with density ~ r^2 (volume grows with r^3).
    gaps = np.diff(np.concatenate([[0.0], np.sort(rng.uniform(size=2)), [1.0]]))
    translation = gaps * rng.choice([-1.0, 1.0], size=3) * space.translation_radius * rng.uniform() ** (1 / 3)
    action = np.zeros(7)
    action[:3] = translation
    action[6] = rng.uniform(-space.gripper_max, space.gripper_max)
    if not all(space.frozen[3:6]):  # drawn only then, so frozen-rotation episodes keep their actions
        gaps = np.diff(np.concatenate([[0.0], np.sort(rng.uniform(size=2)), [1.0]]))
        action[3:6] = gaps * rng.choice([-1.0, 1.0], size=3) * space.rotation_radius * rng.uniform() ** (1 / 3)
    return action * np.array([0.0 if f else 1.0 for f in space.frozen])


# ---- the blind baseline -----------------------------------------------------------------------------------
BLIND_PRIOR_SAMPLES = 20000
# Within this xy distance of the cube's centre an open hand lowered straight down closes on the cube (5.5 cm
# cube, 8 cm finger opening): the radius the blind policy maximises the probability of.
BLIND_CAPTURE_RADIUS = 0.015
BLIND_WAYPOINT_TOLERANCE = 0.003
# One action moves the gripper setpoint by at most 0.75: closing to 0.75 already squeezes the cube, so a try
# need not spend a second action on the last quarter.
BLIND_GRIPPER_TOLERANCE = 0.3


@functools.lru_cache(maxsize=2)
def _layout_prior(n: int = BLIND_PRIOR_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """(cube xy, target xy) of n scenes drawn by the simulator's own layout sampler, from a stream no episode
    seed uses; the blind policy's knowledge of where things are in general."""
    from vjepa_ac.simulation.interface import TaskOptions

    options = TaskOptions()
    cubes, targets = np.empty((n, 2)), np.empty((n, 2))
    for k in range(n):
        layout = sample_layout(np.random.default_rng([0xB1, k]), options)
        cubes[k], targets[k] = layout.cube_pose[:2], layout.target_xy
    return cubes, targets


def _start_likelihood(start_xy: np.ndarray, cubes: np.ndarray, protocol: str) -> np.ndarray:
    """p(start xy | cube xy) up to a constant, for the protocol's start distribution (scene_layout.py):
    radius uniform in its range, direction uniform among those that keep the start in AWAY_START_XY_BOX."""
    offset = start_xy[None, :] - cubes
    r = np.linalg.norm(offset, axis=1)
    low, high = AWAY_START_RADIUS if protocol == "v2" else NEAR_CUBE_START_RADIUS
    inside = (r >= low) & (r <= high)
    weights = np.where(inside, 1.0 / np.maximum(r, 1e-3), 0.0)
    if protocol == "v2":  # the fraction of directions the sampler could have chosen at that radius
        angles = np.linspace(-np.pi, np.pi, 90, endpoint=False)
        x = cubes[:, :1] + r[:, None] * np.cos(angles)[None, :]
        y = cubes[:, 1:] + r[:, None] * np.sin(angles)[None, :]
        (x_low, x_high), (y_low, y_high) = AWAY_START_XY_BOX
        valid = ((x >= x_low) & (x <= x_high) & (y >= y_low) & (y <= y_high)).mean(axis=1)
        weights = np.where(valid > 0, weights / np.maximum(valid, 1e-9), 0.0)
    return weights


def _best_point(points: np.ndarray, weights: np.ndarray, radius: float) -> np.ndarray:
    """The point whose `radius` ball holds the most weight of `points` (the posterior's best guess for a success
    that needs being within `radius`), on a grid of radius/4 cells."""
    from scipy.ndimage import convolve

    keep = weights > 0
    points, weights = points[keep], weights[keep]
    cell = radius / 4
    low = points.min(axis=0) - radius
    index = np.floor((points - low) / cell).astype(int)
    histogram = np.zeros(index.max(axis=0) + 5)
    np.add.at(histogram, tuple(index.T), weights)
    offsets = np.arange(-4, 5)
    grids = np.meshgrid(*([offsets] * points.shape[1]), indexing="ij")
    ball = (sum(g.astype(float) ** 2 for g in grids) <= 16).astype(float)
    score = convolve(histogram, ball, mode="constant")
    best = np.unravel_index(int(np.argmax(score)), score.shape)
    return low + (np.asarray(best) + 0.5) * cell


def blind_grasp_candidates(start_xy: np.ndarray, protocol: str, count: int = 6) -> list[np.ndarray]:
    """Where the blind policy tries to grasp, best first: the most probable cube xy within BLIND_CAPTURE_RADIUS
    given only where the hand starts, then the most probable given that every earlier try found nothing."""
    cubes, _ = _layout_prior()
    weights = _start_likelihood(np.asarray(start_xy[:2], dtype=np.float64), cubes, protocol)
    if not weights.any():
        raise RuntimeError(f"no scene of the prior has a cube that could start the hand at {start_xy[:2]}")
    candidates = []
    for _ in range(count):
        if not weights.any():
            break
        candidates.append(_best_point(cubes, weights, BLIND_CAPTURE_RADIUS))
        weights = weights * (np.linalg.norm(cubes - candidates[-1], axis=1) > BLIND_CAPTURE_RADIUS)
    return candidates


def blind_target(start_xy: np.ndarray, grasp_xy: np.ndarray, protocol: str) -> np.ndarray:
    """Where the blind policy sets the cube down: the most probable target within SUCCESS_XY_TOL, given where the
    hand started and that the cube was at `grasp_xy`."""
    cubes, targets = _layout_prior()
    weights = _start_likelihood(np.asarray(start_xy[:2], dtype=np.float64), cubes, protocol)
    grasped = weights * (np.linalg.norm(cubes - grasp_xy, axis=1) <= BLIND_CAPTURE_RADIUS)
    return _best_point(targets, grasped if grasped.any() else weights, SUCCESS_XY_TOL)


def _reach_goal_prior(start: np.ndarray, low: np.ndarray, high: np.ndarray, min_dist: float, max_dist: float,
                      min_z: float, n: int = 4000) -> np.ndarray:
    """Goal positions drawn as `sample_reach_goal` draws them (random direction and distance, kept inside the
    workspace), without its IK check; from a fixed stream."""
    rng = np.random.default_rng([0xB1, 1])
    direction = rng.normal(size=(4 * n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    xyz = start[None, :] + rng.uniform(min_dist, max_dist, size=(4 * n, 1)) * direction
    ok = np.all(xyz >= np.maximum(low, [-np.inf, -np.inf, min_z]), axis=1) & np.all(xyz <= high, axis=1)
    return xyz[ok][:n]


class BlindPolicy(Policy):
    """The best we know to do without the camera or the goal images.

    It knows the task, its protocol and budgets, and reads only proprioception (`obs.ee_state` and the finger
    joints); it never looks at `obs.image`, `obs.object_poses`, the goal images or the task's ground truth.
    Where the protocol leaves the cube (or goal) uncertain, it goes where that is most probably within reach of
    success, using the simulator's own layout distribution. Grasping tasks lower the open hand over the most
    probable cube position given where the hand starts (straight down when it starts above the cube) and close;
    if the fingers close on nothing it opens, rises clear of the cube and tries the next most probable position,
    while the budget lasts. Holding the cube it lifts it, and for pick-and-place carries it to the most probable
    target, lowers, opens and retreats. Reach tasks go to the most probable goal position.
    """

    name = "blind"
    HOVER_Z = GRASP_Z + 0.07  # fingertips clear of the 5.5 cm cube between tries

    def __init__(self, space: ActionSpace | None = None):
        self.space = space or ActionSpace()
        self.waypoints: list[np.ndarray] = []
        self.candidates: list[np.ndarray] = []
        self.plan_info: dict = {}
        self.mode = "reach"
        self.task = None
        self.start = np.zeros(7)
        self.next_try = np.zeros(2)

    def _pose(self, xy, z, gripper) -> np.ndarray:
        return np.concatenate([[xy[0], xy[1], z], self.start[3:6], [gripper]])

    def reset(self, sim, obs, setup, task, seed):
        self.start = np.asarray(obs.ee_state, dtype=np.float64)
        self.task = task
        if task.name in ("reach", "reach-with-object", "reach-rotate"):  # reach-rotate: the turn is left undone
            bounds = sim.workspace_bounds
            min_z = getattr(task, "MIN_GOAL_TCP_Z", 0.08)
            goals = _reach_goal_prior(self.start[:3], np.asarray(bounds.low), np.asarray(bounds.high),
                                      task.min_distance, task.max_distance, min_z)
            goal = _best_point(goals, np.ones(len(goals)), task.tolerance_m)
            self.mode = "reach"
            self.waypoints = [np.concatenate([goal, self.start[3:6], [self.start[6]]])]
            self.plan_info = {"blind_goal_xyz": goal.round(4).tolist()}
            return
        self.candidates = blind_grasp_candidates(self.start[:2], task.protocol)
        self.plan_info = {"blind_tries_xy": []}
        first = self.candidates[0]
        approach_z = max(self.start[2], PREGRASP_Z) if task.protocol == "v2" else self.start[2]
        self._try(first, approach_z)

    def _try(self, xy: np.ndarray, approach_z: float) -> None:
        self.mode = "try"
        self.plan_info["blind_tries_xy"].append(xy.round(4).tolist())
        self.waypoints = [self._pose(xy, approach_z, 0.0), self._pose(xy, GRASP_Z, 0.0), self._pose(xy, GRASP_Z, 1.0)]

    def _holding(self, obs) -> bool:
        from vjepa_ac.simulation.scene_layout import CUBE_HALF

        # Proprioception: closed fingers stopped apart by something about the cube's width.
        return bool(np.asarray(obs.joint_positions[7:9]).sum() > 2 * CUBE_HALF - 0.008)

    def act(self, obs, stage):
        from vjepa_ac.evaluation.tasks import GRASP_TASK_LIFT_Z

        state = np.asarray(obs.ee_state, dtype=np.float64)
        while True:
            goal = self.waypoints[0]
            if (np.linalg.norm(goal[:3] - state[:3]) > BLIND_WAYPOINT_TOLERANCE
                    or abs(goal[6] - state[6]) > BLIND_GRIPPER_TOLERANCE):
                break
            if len(self.waypoints) > 1:
                self.waypoints.pop(0)
                continue
            if self.mode == "try":  # closed at the grasp height: holding the cube, or nothing
                xy = goal[:2]
                tries = len(self.plan_info["blind_tries_xy"])
                if self._holding(obs):
                    self.mode = "carry"
                    if self.task.name == "grasp":
                        self.waypoints = [self._pose(xy, GRASP_TASK_LIFT_Z, 1.0)]
                    else:
                        target = blind_target(self.start[:2], xy, self.task.protocol)
                        self.plan_info["blind_target_xy"] = target.round(4).tolist()
                        self.waypoints = [self._pose(xy, LIFT_Z, 1.0), self._pose(target, LIFT_Z, 1.0),
                                          self._pose(target, PLACE_Z, 1.0), self._pose(target, PLACE_Z, 0.0),
                                          self._pose(target, RETREAT_Z, 0.0)]
                elif tries < len(self.candidates):  # open, rise clear of the cube, try the next position
                    self.mode, self.next_try = "retreat", self.candidates[tries]
                    self.waypoints = [self._pose(xy, GRASP_Z, 0.0), self._pose(xy, self.HOVER_Z, 0.0)]
                else:
                    self.mode = "done"
                    break
                continue
            if self.mode == "retreat":
                self._try(self.next_try, self.HOVER_Z)
                continue
            break  # reach, carry or done: hold the last waypoint
        return PolicyStep(greedy_action(state, self.waypoints[0], self.space))

    def episode_details(self):
        return dict(self.plan_info)


def make_policy(name: str, controller=None, space: ActionSpace | None = None) -> Policy:
    """`space`: the baselines' action bounds (default ActionSpace(), rotation frozen; vjepa-ac-eval passes one with
    rotation enabled for --rotation and reach-rotate)."""
    if name == "planner":
        if controller is None:
            raise ValueError("the planner policy needs a GoalImageController")
        return PlannerPolicy(controller)
    if name == "oracle":
        return OraclePolicy(space)
    if name == "blind":
        return BlindPolicy(space)
    if name == "random":
        return RandomPolicy(space)
    raise ValueError(f"unknown policy {name!r}; choose one of {POLICIES}")

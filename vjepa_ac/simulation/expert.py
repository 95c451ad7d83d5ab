"""Scripted pick-and-place expert: grasp the cube, lift, carry, place on the marker, release, retreat.

It only sends 7-D delta actions through FrankaSim.step (the same path a planner uses), so its episodes
are valid training data, and it names the paper's three sub-goals for the goal images.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from vjepa_ac.simulation.interface import FrankaSim, Observation, TaskOptions
from vjepa_ac.simulation.panda_kinematics import FINGER_MAX_OPENING
from vjepa_ac.simulation.scene_layout import CUBE_HALF, TABLE_TOP_Z

GRASP_Z = TABLE_TOP_Z + 0.020  # TCP height when closing on the cube (pads centred on its lower half)
APPROACH_HEIGHT = 0.10  # above the cube before descending
PREGRASP_Z = GRASP_Z + 0.10  # the pre-grasp sub-goal: the open hand 10 cm above the grasp pose
LIFT_Z = TABLE_TOP_Z + 0.16  # carry height: the cube's bottom clears the 8 cm cup
PLACE_Z = GRASP_Z + 0.004  # release a few millimetres above resting
RETREAT_Z = TABLE_TOP_Z + 0.12
MAX_REGRASPS = 2
# The one pick-and-place success test (expert, evaluation tasks, oracle, baselines and planner alike): the
# cube's centre within 3 cm (xy) of the marker's centre, lying flat on the table, and released.
SUCCESS_XY_TOL = 0.03
# Flat on a face; a cube tipped onto an edge sits ~11 mm higher, one on the cup or in the hand far higher.
SUCCESS_Z_TOL = 0.006
CUBE_REST_Z = TABLE_TOP_Z + CUBE_HALF
# A closedness setpoint above this commands the fingers narrower than the cube, i.e. they squeeze it.
GRIPPER_CLOSED_SETPOINT = 1.0 - CUBE_HALF / FINGER_MAX_OPENING


def cube_yaw(quat_wxyz: np.ndarray) -> float:
    """Cube yaw folded into [-pi/4, pi/4): the gripper can take any face pair."""
    yaw = Rotation.from_quat(np.roll(quat_wxyz, -1)).as_euler("xyz")[2]
    return float((yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)


def grasp_euler(yaw: float) -> np.ndarray:
    """Tool pointing down, fingers closing across the cube faces: R = Rz(yaw) Rx(pi)."""
    return (Rotation.from_euler("z", yaw) * Rotation.from_euler("x", np.pi)).as_euler("xyz")


def cube_placed(cube_pose: np.ndarray, target_xyz: np.ndarray) -> bool:
    """Cube lying flat on the table (any face down) with its centre within SUCCESS_XY_TOL of the marker's."""
    return bool(np.linalg.norm(np.asarray(cube_pose[:2]) - np.asarray(target_xyz[:2])) <= SUCCESS_XY_TOL
                and abs(float(cube_pose[2]) - CUBE_REST_Z) <= SUCCESS_Z_TOL)


def pick_and_place_success(cube_pose: np.ndarray, target_xyz: np.ndarray,
                           gripper_closedness: float) -> tuple[bool, dict]:
    """The pick-and-place success test: the cube rests on the marker (`cube_placed`) and is released."""
    released = bool(gripper_closedness <= GRIPPER_CLOSED_SETPOINT)
    placed = cube_placed(cube_pose, target_xyz)
    xy_error = float(np.linalg.norm(np.asarray(cube_pose[:2]) - np.asarray(target_xyz[:2])))
    return placed and released, {"cube_placed": placed, "released": released, "cube_xy_error_m": xy_error,
                                 "cube_z_m": float(cube_pose[2])}


@dataclasses.dataclass
class Phase:
    name: str
    xyz: np.ndarray | None  # None: hold the current position (gripper-only phase)
    gripper: float


class ScriptedPickPlaceExpert:
    """Waypoint follower in Cartesian space; call reset(sim, obs) after sim.reset, then act(obs)."""

    def __init__(self, step_size: float = 0.05, tolerance: float = 0.003, close_while_lifting: bool = False):
        self.step_size = float(step_size)
        # True: one action closes the gripper and starts the lift (the simulator closes before it moves),
        # which is the grasp a one-step planner finds; False: a separate close-in-place action.
        self.close_while_lifting = bool(close_while_lifting)
        self.tolerance = float(tolerance)
        self.phases: list[Phase] = []
        self.index = 0
        self.euler = grasp_euler(0.0)
        self.start_euler = self.euler.copy()
        self.target = np.zeros(3)
        self.cube_start = np.zeros(7)
        self.regrasps = 0

    @property
    def done(self) -> bool:
        return self.index >= len(self.phases)

    @property
    def phase(self) -> str:
        return "done" if self.done else self.phases[self.index].name

    def reset(self, sim: FrankaSim, obs: Observation) -> None:
        cube = obs.object_poses["cube"]
        self.cube_start = cube.copy()
        self.target = sim.place_target()
        self.euler = grasp_euler(cube_yaw(cube[3:]))
        self.start_euler = self.euler.copy()  # sub-goals describe the episode's initial scene
        cx, cy = cube[:2]
        tx, ty = self.target[:2]
        self.phases = [
            Phase("approach", np.array([cx, cy, cube[2] + APPROACH_HEIGHT]), 0.0),
            Phase("descend", np.array([cx, cy, GRASP_Z]), 0.0),
            Phase("close", None, 1.0),
            Phase("lift", np.array([cx, cy, LIFT_Z]), 1.0),
            Phase("carry", np.array([tx, ty, LIFT_Z]), 1.0),
            Phase("lower", np.array([tx, ty, PLACE_Z]), 1.0),
            Phase("release", None, 0.0),
            Phase("retreat", np.array([tx, ty, RETREAT_Z]), 0.0),
        ]
        self.index = 0
        self.regrasps = 0

    def act(self, obs: Observation) -> np.ndarray:
        """Next delta action (zeros once done).

        Closed loop: the grasp waypoints follow the cube's current pose, the lift goes straight up from
        wherever the hand is, and a cube lost after closing sends the expert back to the approach (at most
        MAX_REGRASPS times), so it recovers from nudges and from interleaved exploration actions.
        """
        state = obs.ee_state
        cube = obs.object_poses["cube"]
        while not self.done:
            phase = self.phases[self.index]
            if phase.name == "close" and self.close_while_lifting:
                self.index += 1  # the lift's first action carries the close
                continue
            if phase.name in ("approach", "descend"):
                self.euler = grasp_euler(cube_yaw(cube[3:]))
                z = cube[2] + APPROACH_HEIGHT if phase.name == "approach" else GRASP_Z
                phase.xyz = np.array([cube[0], cube[1], z])
            elif phase.name == "lift":
                phase.xyz = np.array([state[0], state[1], LIFT_Z])
            if (phase.name in ("lift", "carry", "lower") and np.linalg.norm(cube[:3] - state[:3]) > 0.03
                    and self.regrasps < MAX_REGRASPS):
                self.regrasps += 1
                self.index = 0
                continue
            if phase.xyz is None:
                if abs(state[6] - phase.gripper) < 1e-6:
                    self.index += 1
                    continue
                return self._action(state, state[:3], phase.gripper)
            if np.linalg.norm(phase.xyz - state[:3]) <= self.tolerance:
                self.index += 1
                continue
            return self._action(state, phase.xyz, phase.gripper)
        return np.zeros(7)

    def _action(self, state: np.ndarray, xyz: np.ndarray, gripper: float) -> np.ndarray:
        delta = xyz - state[:3]
        norm = np.linalg.norm(delta)
        if norm > self.step_size:
            delta *= self.step_size / norm
        R_delta = Rotation.from_euler("xyz", self.euler) * Rotation.from_euler("xyz", state[3:6]).inv()
        return np.concatenate([delta, R_delta.as_euler("xyz"), [gripper - state[6]]])

    def subgoal_poses(self) -> list[dict]:
        """The paper's three sub-goals (gripper near the object, object lifted near the goal, object at the goal)
        as render_goal keyword arguments.

        1. the open hand around the cube on the table, at the grasp pose; 2. cube held and lifted above the
        target; 3. cube resting on the target, gripper open just above it.
        The first image shows the hand *open*: a one-step planner moves the gripper as greedily as the arm, so a
        closed hand in that image makes it close on its first action, far above the cube (a planner with a
        perfect energy then grasped 0/20). From the open grasp pose, the first action toward image 2 closes and
        then lifts, which `FrankaSim.step` executes as a grasp.
        """
        cube, (tx, ty), euler = self.cube_start, self.target[:2], self.start_euler
        held_cube = np.concatenate([[tx, ty, LIFT_Z + (CUBE_HALF - GRASP_Z)], cube[3:]])
        placed_cube = np.concatenate([[tx, ty, TABLE_TOP_Z + CUBE_HALF], cube[3:]])
        return [
            {"ee_pose": np.concatenate([[cube[0], cube[1], GRASP_Z], euler, [0.0]]), "object_poses": {}},
            {"ee_pose": np.concatenate([[tx, ty, LIFT_Z], euler, [1.0]]),
             "object_poses": {"cube": held_cube}},
            {"ee_pose": np.concatenate([[tx, ty, RETREAT_Z], euler, [0.0]]),
             "object_poses": {"cube": placed_cube}},
        ]

    def pregrasp_pose(self) -> dict:
        """The open hand PREGRASP_Z straight above the cube (render_goal keyword arguments)."""
        cube = self.cube_start
        return {"ee_pose": np.concatenate([[cube[0], cube[1], PREGRASP_Z], self.start_euler, [0.0]]),
                "object_poses": {}}

    def subgoal_images(self, sim: FrankaSim) -> list[np.ndarray]:
        return [sim.render_goal(**goal) for goal in self.subgoal_poses()]


@dataclasses.dataclass
class ExpertEpisode:
    seed: int
    engine: str
    frames: np.ndarray  # uint8 [T, S, S, 3]
    states: np.ndarray  # float32 [T, 7]
    actions: np.ndarray  # float32 [T-1, 7]
    success: bool
    cube_start: np.ndarray
    cube_end: np.ndarray
    target: np.ndarray
    seconds: float

    def record(self) -> dict:
        return {"seed": self.seed, "engine": self.engine, "success": self.success, "steps": len(self.actions),
                "cube_start": self.cube_start.round(4).tolist(), "cube_end": self.cube_end.round(4).tolist(),
                "target": self.target.round(4).tolist(), "seconds": round(self.seconds, 3)}


def run_expert_episode(sim: FrankaSim, seed: int, options: TaskOptions | dict | None = None,
                       max_actions: int = 40, expert: ScriptedPickPlaceExpert | None = None) -> ExpertEpisode:
    import time

    start = time.perf_counter()
    expert = expert or ScriptedPickPlaceExpert()
    obs = sim.reset(seed, options)
    expert.reset(sim, obs)
    frames, states, actions = [obs.image], [obs.ee_state], []
    while not expert.done and len(actions) < max_actions:
        action = expert.act(obs)
        if expert.done:
            break
        obs = sim.step(action)
        actions.append(action)
        frames.append(obs.image)
        states.append(obs.ee_state)
    cube_end = obs.object_poses["cube"]
    success = expert.done and pick_and_place_success(cube_end, expert.target, obs.ee_state[6])[0]
    return ExpertEpisode(seed=int(seed), engine=sim.engine, frames=np.stack(frames),
                         states=np.stack(states).astype(np.float32),
                         actions=np.array(actions, dtype=np.float32).reshape(-1, 7), success=bool(success),
                         cube_start=expert.cube_start, cube_end=cube_end, target=expert.target,
                         seconds=time.perf_counter() - start)

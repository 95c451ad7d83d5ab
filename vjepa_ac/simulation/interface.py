"""Simulator-independent contract of the Franka pick-and-place worlds (see docs/architecture.md)."""

from __future__ import annotations

import abc
import dataclasses
import time

import numpy as np

from vjepa_ac.simulation.appearance import apply_appearance, check_appearance, draw_appearance
from vjepa_ac.simulation.cartesian_controller import CartesianController, WorkspaceBounds
from vjepa_ac.simulation.panda_kinematics import PandaKinematics
from vjepa_ac.simulation.scene_layout import CUBE_HALF, TABLE_TOP_Z, SceneLayout, camera_spec, sample_layout


@dataclasses.dataclass
class Observation:
    """What one camera frame plus proprioception looks like at one instant."""

    image: np.ndarray  # uint8 [S, S, 3]
    ee_state: np.ndarray  # float64 [7]: xyz, extrinsic xyz Euler, gripper closedness 0..1
    joint_positions: np.ndarray  # float64 [9]: 7 arm joints + 2 finger joints (m)
    object_poses: dict[str, np.ndarray]  # name -> [7]: xyz + quaternion wxyz
    sim_time: float
    wall_time: float


@dataclasses.dataclass
class TaskOptions:
    """Episode randomisation switches; everything but object placement is off by default.

    `appearance` ("default", "train", "unseen"; vjepa_ac/simulation/appearance.py) randomises light, table, floor,
    cube and backdrop colours and the camera pose from the seed, identically in both engines. The older
    `randomize_colors` / `randomize_lighting` / `camera_jitter` switches are kept as they were (expert CLI) and
    combine with the default appearance only. `camera` picks the fixed camera pose (`scene_layout.CAMERAS`:
    "default", the shipped model's, or "droid", the next model's), the same in both engines; the appearance and
    camera jitter move it from there.
    """

    randomize_objects: bool = True
    randomize_colors: bool = False
    randomize_lighting: bool = False
    camera_jitter: float = 0.0  # metres of uniform camera position noise (0 = fixed camera)
    include_cup: bool = True
    start_near_cube: bool = False  # open hand 6-12 cm above the table, 0-2 cm from above the cube (else the home pose)
    start_away_from_cube: bool = False  # open hand 20-35 cm above the table, 12-25 cm (xy) from the cube
    appearance: str = "default"  # "default" (the fixed look), "train" or "unseen" (appearance.py)
    camera: str = "default"  # "default" (the shipped model's camera) or "droid" (scene_layout.CAMERAS)

    def __post_init__(self):
        if not np.isfinite(self.camera_jitter) or not 0.0 <= self.camera_jitter <= 0.1:
            raise ValueError(f"camera_jitter must be in [0, 0.1] m, got {self.camera_jitter}")
        check_appearance(self.appearance)
        camera_spec(self.camera)
        if self.appearance != "default" and (self.randomize_colors or self.randomize_lighting or self.camera_jitter):
            raise ValueError(f"appearance {self.appearance!r} draws colours, light and camera itself; leave "
                             "randomize_colors, randomize_lighting and camera_jitter off with it")

    @classmethod
    def from_any(cls, options: TaskOptions | dict | None) -> TaskOptions:
        if options is None:
            return cls()
        if isinstance(options, TaskOptions):
            return options
        if isinstance(options, dict):
            unknown = set(options) - {f.name for f in dataclasses.fields(cls)}
            if unknown:
                raise ValueError(f"unknown task options: {sorted(unknown)}")
            return cls(**options)
        raise TypeError(f"options must be TaskOptions, dict or None, got {type(options).__name__}")


OBJECT_NAMES = ("cube", "cup")


def validate_action(action) -> np.ndarray:
    """Reject anything that is not 7 finite numbers: a bad command must never reach the robot."""
    arr = np.asarray(action, dtype=np.float64)
    if arr.shape != (7,):
        raise ValueError(f"action must have shape (7,), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"action contains NaN or inf: {arr}")
    return arr


def validate_pose7(pose, what: str) -> np.ndarray:
    arr = np.asarray(pose, dtype=np.float64)
    if arr.shape != (7,):
        raise ValueError(f"{what} must have shape (7,), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or inf: {arr}")
    return arr


class FrankaSim(abc.ABC):
    """One Panda + table + cube/cup/target world; engines differ only in physics and rendering.

    Actions are applied relative to the *observed* end-effector pose (the convention the world model
    learns from), clipped per step and into the workspace box, solved by damped-least-squares IK and
    tracked by position-controlled joints until the arm settles.

    The gripper entry of the state is the gripper's closedness *setpoint* (0 open, 1 closed), integrated
    exactly as the reference does (g' = clip(g + dg, 0, 1)); the fingers are force-limited position
    servos, so a closed setpoint keeps squeezing a grasped cube while dg = 0. (A measured closedness
    would read ~0.44 on a 4.5 cm cube, and re-commanding that value would release the squeeze.) The
    measured finger openings are joint_positions[7:9].
    """

    engine: str = "abstract"

    def __init__(self, image_size: int = 256, *, max_translation: float = 0.10, max_rotation: float = 0.5,
                 bounds: WorkspaceBounds | None = None, max_settle_time: float = 1.0,
                 settle_speed: float = 2e-3):
        if not isinstance(image_size, int | np.integer) or not 16 <= int(image_size) <= 1024:
            raise ValueError(f"image_size must be an int in [16, 1024], got {image_size!r}")
        self.image_size = int(image_size)
        self.kinematics = PandaKinematics.from_pybullet_data()
        self.controller = CartesianController(self.kinematics, bounds=bounds or WorkspaceBounds(),
                                              max_translation=max_translation, max_rotation=max_rotation)
        self.max_settle_time = float(max_settle_time)
        self.settle_speed = float(settle_speed)
        self.layout: SceneLayout | None = None
        self.task_options = TaskOptions()
        self.seed: int | None = None
        self._gripper_command = 0.0

    # ---- public API -------------------------------------------------------------------------
    @property
    def workspace_bounds(self) -> WorkspaceBounds:
        return self.controller.bounds

    def reset(self, seed: int, options: TaskOptions | dict | None = None) -> Observation:
        if not isinstance(seed, int | np.integer):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        self.seed = int(seed)
        self.task_options = TaskOptions.from_any(options)
        layout = sample_layout(np.random.default_rng(self.seed), self.task_options)
        # Its own stream: the appearance never moves the objects or the start of a seed.
        self.layout = apply_appearance(layout, draw_appearance(self.task_options.appearance, self.seed))
        q_home = self.controller.home_joint_positions(self.layout.ee_start)
        self._gripper_command = 0.0
        self._reset_world(self.layout, q_home)
        return self.observe()

    def step(self, action) -> Observation:
        self._require_reset()
        action = validate_action(action)
        state = self.ee_state()
        target_pose, target_gripper = self.controller.target_from_action(state, action)
        q_now = self.joint_positions()[:7]
        q_target = self.controller.solve_ik(q_now, target_pose)
        # Within one action a closing gripper acts before the arm moves and an opening one after it, as a
        # blocking grasp before a motion and a release at its end would: "close and lift" grasps the cube
        # and "lower and open" sets it down, instead of the fingers racing the arm.
        if target_gripper > self._gripper_command:  # close, holding the arm, then move
            self._gripper_command = target_gripper
            self._track(q_now, q_now, target_gripper)
            q_now = self.joint_positions()[:7]
        self._track(q_now, q_target, self._gripper_command)
        if target_gripper < self._gripper_command:  # moved; now open, holding the arm
            self._gripper_command = target_gripper
            q_now = self.joint_positions()[:7]
            self._track(q_now, q_now, target_gripper)
        return self.observe()

    def observe(self) -> Observation:
        self._require_reset()
        return Observation(image=self.render(), ee_state=self.ee_state(),
                           joint_positions=self.joint_positions(), object_poses=self.object_poses(),
                           sim_time=self.sim_time(), wall_time=time.time())

    def ee_state(self) -> np.ndarray:
        """Forward kinematics of the measured joints, plus the gripper closedness setpoint."""
        pose = self.kinematics.ee_pose7(self.joint_positions()[:7])
        return np.concatenate([pose, [self._gripper_command]])

    def place_target(self) -> np.ndarray:
        """xyz of the place marker's centre on the table."""
        self._require_reset()
        return np.array([self.layout.target_xy[0], self.layout.target_xy[1], TABLE_TOP_Z])

    def render_goal(self, ee_pose=None, object_poses: dict | None = None) -> np.ndarray:
        """Image the camera would see with the arm at `ee_pose` and/or objects at `object_poses`.

        Rendered from a detached copy of the world state: the running episode is not touched.
        """
        self._require_reset()
        q = self.joint_positions().copy()
        if ee_pose is not None:
            ee_pose = validate_pose7(ee_pose, "ee_pose")
            target = self.controller.bounds.clip_pose(ee_pose[:6])
            q[:7] = self.controller.solve_ik(q[:7], target)
        poses = self.object_poses()
        for name, pose in (object_poses or {}).items():
            if name not in poses:
                raise KeyError(f"unknown object {name!r}; known: {sorted(poses)}")
            pose = validate_pose7(pose, f"object_poses[{name!r}]")
            quat = pose[3:]
            if np.linalg.norm(quat) < 1e-6:
                raise ValueError(f"object_poses[{name!r}] has a zero quaternion")
            poses[name] = np.concatenate([pose[:3], quat / np.linalg.norm(quat)])
        if ee_pose is not None:
            q[7:9] = self._rendered_fingers(q[:7], float(np.clip(ee_pose[6], 0.0, 1.0)), poses["cube"])
        return self._render_configuration(q, poses)

    def _rendered_fingers(self, q_arm: np.ndarray, closedness: float, cube_pose: np.ndarray) -> np.ndarray:
        """Finger openings for a goal image: a closed setpoint stops at the cube if it is held."""
        fingers = self.kinematics.fingers_from_closedness(closedness)
        T = self.kinematics.tcp_transform(q_arm)
        local = T[:3, :3].T @ (cube_pose[:3] - T[:3, 3])
        if abs(local[0]) < CUBE_HALF and abs(local[1]) < 0.04 and abs(local[2]) < CUBE_HALF:
            fingers = np.maximum(fingers, CUBE_HALF)
        return fingers

    def camera_intrinsics(self) -> tuple[float, float, float, float]:
        """(fx, fy, cx, cy) in pixels of the square pinhole camera."""
        fy = 0.5 * self.image_size / np.tan(np.deg2rad(self._camera_fovy()) / 2.0)
        return float(fy), float(fy), self.image_size / 2.0, self.image_size / 2.0

    def camera_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(xyz, quaternion wxyz) of the camera's optical frame (z forward, x right, y down) in the base frame."""
        self._require_reset()
        return self.layout.camera.optical_pose()

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing here
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- helpers shared by the engines -------------------------------------------------------
    def _require_reset(self):
        if self.layout is None:
            raise RuntimeError("call reset(seed) before using the simulation")

    def _camera_fovy(self) -> float:
        return self.layout.camera.fovy if self.layout is not None else SceneLayout.default_fovy()

    # ---- engine hooks -----------------------------------------------------------------------
    @abc.abstractmethod
    def _reset_world(self, layout: SceneLayout, q_home: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _track(self, q_start: np.ndarray, q_target: np.ndarray, gripper_target: float) -> None:
        """Drive the joints to q_target (and the fingers to the closedness) until settled."""

    @abc.abstractmethod
    def joint_positions(self) -> np.ndarray: ...

    @abc.abstractmethod
    def object_poses(self) -> dict[str, np.ndarray]: ...

    @abc.abstractmethod
    def sim_time(self) -> float: ...

    @abc.abstractmethod
    def render(self) -> np.ndarray: ...

    @abc.abstractmethod
    def _render_configuration(self, q: np.ndarray, object_poses: dict[str, np.ndarray]) -> np.ndarray:
        """Render the world with joints q[9] and the given object poses, leaving the episode untouched."""

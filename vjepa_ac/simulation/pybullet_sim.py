"""PyBullet engine of FrankaSim (secondary): DIRECT mode, TinyRenderer on the CPU.

Goal images are rendered in a second, physics-free PyBullet client that mirrors the scene, so the
running episode's client is never written to.
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np
import pybullet as pb

from vjepa_ac.simulation import scene_layout as sl
from vjepa_ac.simulation.interface import FrankaSim
from vjepa_ac.simulation.panda_kinematics import pybullet_franka_dir

TIMESTEP = 1.0 / 240.0
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
ARM_JOINT_IDS = tuple(range(7))
FINGER_JOINT_IDS = (9, 10)
FINGER_FORCE = 30.0


def _xyzw(wxyz) -> list[float]:
    return [float(wxyz[1]), float(wxyz[2]), float(wxyz[3]), float(wxyz[0])]


def _wxyz(xyzw) -> np.ndarray:
    return np.array([xyzw[3], xyzw[0], xyzw[1], xyzw[2]], dtype=np.float64)


def panda_urdf_file(low_poly: bool) -> str:
    """The pybullet Panda URDF with absolute mesh paths (and optionally low-poly visuals), in a temp file."""
    franka_dir = pybullet_franka_dir()
    with open(os.path.join(franka_dir, "panda.urdf")) as f:
        text = f.read()
    if low_poly:
        text = text.replace("package://meshes/visual/", "package://meshes/collision/")
    text = re.sub(r"package://", franka_dir + os.sep, text)
    cache = os.path.join(tempfile.gettempdir(), f"vjepa_ac_panda_{os.getuid()}")
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, f"panda_{'low' if low_poly else 'full'}.urdf")
    if not os.path.exists(path) or open(path).read() != text:
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return path


class _World:
    """Bodies of one PyBullet client: robot, table, floor, target marker, cube, cup."""

    def __init__(self, low_poly: bool, physics: bool):
        self.client = pb.connect(pb.DIRECT)
        c = self.client
        if physics:
            pb.setGravity(0, 0, -9.81, physicsClientId=c)
            pb.setPhysicsEngineParameter(fixedTimeStep=TIMESTEP, numSolverIterations=60, deterministicOverlappingPairs=1,
                                         physicsClientId=c)
        self.robot = pb.loadURDF(panda_urdf_file(low_poly), [0, 0, sl.TABLE_TOP_Z], useFixedBase=True,
                                 flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=c)
        tx, ty = sl.TABLE_CENTER
        hx, hy, hz = sl.TABLE_HALF
        self.table = self._box([hx, hy, hz], [tx, ty, sl.TABLE_TOP_Z - hz], 0.0, sl.DEFAULT_COLORS["table"])
        self.floor = self._box([3, 3, 0.01], [0, 0, sl.TABLE_TOP_Z - sl.TABLE_HEIGHT - 0.01], 0.0,
                               sl.DEFAULT_COLORS["floor"])
        marker = pb.createVisualShape(pb.GEOM_CYLINDER, radius=sl.TARGET_RADIUS, length=sl.TARGET_THICKNESS,
                                      rgbaColor=sl.DEFAULT_COLORS["target"], physicsClientId=c)
        self.target = pb.createMultiBody(0, -1, marker, [0.5, 0.1, sl.TABLE_TOP_Z + sl.TARGET_THICKNESS / 2],
                                         physicsClientId=c)
        self.cube = self._box([sl.CUBE_HALF] * 3, [0.5, 0, sl.CUBE_HALF], sl.CUBE_MASS, sl.DEFAULT_COLORS["cube"])
        self.cup = self._cup()
        self.backdrop: list[int] = []  # visual-only walls, present only under a non-default appearance
        for link in (-1, *range(pb.getNumJoints(self.robot, physicsClientId=c))):
            pb.changeVisualShape(self.robot, link, rgbaColor=[0.93, 0.93, 0.93, 1], physicsClientId=c)
        for link in FINGER_JOINT_IDS:
            pb.changeVisualShape(self.robot, link, rgbaColor=list(sl.DEFAULT_COLORS["fingers"]), physicsClientId=c)
            pb.changeDynamics(self.robot, link, lateralFriction=1.5, spinningFriction=0.01, physicsClientId=c)
        pb.changeDynamics(self.cube, -1, lateralFriction=1.0, spinningFriction=0.001, physicsClientId=c)
        pb.changeDynamics(self.table, -1, lateralFriction=0.8, physicsClientId=c)
        # The finger joints mimic each other through identical commands (PyBullet ignores URDF <mimic>).
        # In the render-only mirror the objects are static so nothing ever moves on its own.
        if not physics:
            for body in (self.cube, self.cup):
                pb.changeDynamics(body, -1, mass=0, physicsClientId=c)

    def _box(self, half, pos, mass, rgba) -> int:
        c = self.client
        col = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half, physicsClientId=c)
        vis = pb.createVisualShape(pb.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=c)
        return pb.createMultiBody(mass, col, vis, pos, physicsClientId=c)

    def _cup(self) -> int:
        c = self.client
        ring = sl.CUP_RADIUS - sl.CUP_WALL / 2
        half_width = ring * np.tan(np.pi / sl.CUP_SEGMENTS) + 1e-4
        types, halves, radii, lengths, positions, orientations = [pb.GEOM_CYLINDER], [[0, 0, 0]], [sl.CUP_RADIUS], \
            [sl.CUP_WALL], [[0, 0, sl.CUP_WALL / 2]], [[0, 0, 0, 1]]
        for k in range(sl.CUP_SEGMENTS):
            a = 2 * np.pi * k / sl.CUP_SEGMENTS
            types.append(pb.GEOM_BOX)
            halves.append([sl.CUP_WALL / 2, half_width, sl.CUP_HEIGHT / 2])
            radii.append(0)
            lengths.append(0)
            positions.append([ring * np.cos(a), ring * np.sin(a), sl.CUP_HEIGHT / 2])
            orientations.append([0, 0, np.sin(a / 2), np.cos(a / 2)])
        # Shift so the body origin is the cup's base centre while the inertial frame sits lower-middle.
        com = [0, 0, sl.CUP_HEIGHT * 0.4]
        positions = [[p[0], p[1], p[2] - com[2]] for p in positions]
        col = pb.createCollisionShapeArray(types, radii=radii, halfExtents=halves, lengths=lengths,
                                           collisionFramePositions=positions,
                                           collisionFrameOrientations=orientations, physicsClientId=c)
        vis = pb.createVisualShapeArray(types, radii=radii, halfExtents=halves, lengths=lengths,
                                        rgbaColors=[sl.DEFAULT_COLORS["cup"]] * len(types),
                                        visualFramePositions=positions, visualFrameOrientations=orientations,
                                        physicsClientId=c)
        self.cup_com_offset = com[2]
        return pb.createMultiBody(sl.CUP_MASS, col, vis, [0.4, 0.25, com[2]], physicsClientId=c)

    def set_colors(self, colors: dict) -> None:
        c = self.client
        for key, body in (("table", self.table), ("cube", self.cube), ("cup", self.cup), ("target", self.target)):
            pb.changeVisualShape(body, -1, rgbaColor=colors[key], physicsClientId=c)
        if "backdrop" in colors:  # an appearance: floor colour and backdrop walls too
            pb.changeVisualShape(self.floor, -1, rgbaColor=colors["floor"], physicsClientId=c)
            if not self.backdrop:
                for half, pos in sl.BACKDROP_BOXES:
                    vis = pb.createVisualShape(pb.GEOM_BOX, halfExtents=half, rgbaColor=colors["backdrop"],
                                               physicsClientId=c)
                    self.backdrop.append(pb.createMultiBody(0, -1, vis, pos, physicsClientId=c))
            for body in self.backdrop:
                pb.changeVisualShape(body, -1, rgbaColor=colors["backdrop"], physicsClientId=c)
        else:  # the default look: the floor's own colour, no backdrop
            pb.changeVisualShape(self.floor, -1, rgbaColor=sl.DEFAULT_COLORS["floor"], physicsClientId=c)
            for body in self.backdrop:
                pb.removeBody(body, physicsClientId=c)
            self.backdrop = []

    def set_joints(self, q: np.ndarray) -> None:
        for j, value in zip((*ARM_JOINT_IDS, *FINGER_JOINT_IDS), q, strict=True):
            pb.resetJointState(self.robot, j, float(value), 0.0, physicsClientId=self.client)

    def set_object(self, name: str, pose: np.ndarray) -> None:
        body = self.cube if name == "cube" else self.cup
        pos = np.array(pose[:3], dtype=np.float64)
        if name == "cup":  # report/accept the base centre; PyBullet places the inertial frame
            pos = pos + _rotate(pose[3:], [0, 0, self.cup_com_offset])
        pb.resetBasePositionAndOrientation(body, pos.tolist(), _xyzw(pose[3:]), physicsClientId=self.client)
        pb.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0], physicsClientId=self.client)

    def object_pose(self, name: str) -> np.ndarray:
        body = self.cube if name == "cube" else self.cup
        pos, orn = pb.getBasePositionAndOrientation(body, physicsClientId=self.client)
        quat = _wxyz(orn)
        pos = np.array(pos)
        if name == "cup":
            pos = pos - _rotate(quat, [0, 0, self.cup_com_offset])
        return np.concatenate([pos, quat])

    def close(self) -> None:
        if self.client is not None and pb.isConnected(self.client):
            pb.disconnect(self.client)
        self.client = None


def _rotate(quat_wxyz, v) -> np.ndarray:
    w, x, y, z = quat_wxyz
    u = np.array([x, y, z])
    v = np.asarray(v, dtype=np.float64)
    return v + 2.0 * np.cross(u, np.cross(u, v) + w * v)


PARKED_CUP = np.array([0.0, 2.5, sl.TABLE_TOP_Z - sl.TABLE_HEIGHT, 1.0, 0.0, 0.0, 0.0])


class PybulletFrankaSim(FrankaSim):
    engine = "pybullet"

    def __init__(self, image_size: int = 256, *, low_poly: bool | None = None, shadows: bool = True,
                 joint_speed: float = 1.5, **controller_options):
        super().__init__(image_size, **controller_options)
        low_poly = self.image_size <= 128 if low_poly is None else low_poly
        self.shadows = bool(shadows)
        self.joint_speed = float(joint_speed)
        self.low_poly = low_poly
        self.world = _World(low_poly, physics=True)
        self.mirror = _World(low_poly, physics=False)
        self._time = 0.0
        self._finger_target = np.full(2, 0.04)

    # ---- engine hooks -----------------------------------------------------------------------
    def _reset_world(self, layout: sl.SceneLayout, q_home: np.ndarray) -> None:
        # A fresh physics client per episode (~0.1 s): PyBullet keeps contact/solver caches that even
        # restoreState does not reset, and they made a seed's episode depend on earlier episodes.
        self.world.close()
        self.world = _World(self.low_poly, physics=True)
        w = self.world
        c = w.client
        for world in (self.world, self.mirror):
            world.set_colors(layout.colors)
            pb.resetBasePositionAndOrientation(world.target, [*layout.target_xy, sl.TABLE_TOP_Z + sl.TARGET_THICKNESS / 2],
                                               [0, 0, 0, 1], physicsClientId=world.client)
        q = np.concatenate([q_home, [0.04, 0.04]])
        w.set_joints(q)
        w.set_object("cube", layout.cube_pose)
        w.set_object("cup", layout.cup_pose if layout.cup_pose is not None else PARKED_CUP)
        self._finger_target = np.full(2, 0.04)
        self._command(q_home)
        for _ in range(24):
            pb.stepSimulation(physicsClientId=c)
        self._time = 0.0

    def _command(self, q_arm: np.ndarray) -> None:
        c, robot = self.world.client, self.world.robot
        pb.setJointMotorControlArray(robot, ARM_JOINT_IDS, pb.POSITION_CONTROL, targetPositions=q_arm.tolist(),
                                     forces=ARM_FORCES, positionGains=[0.3] * 7, physicsClientId=c)
        pb.setJointMotorControlArray(robot, FINGER_JOINT_IDS, pb.POSITION_CONTROL,
                                     targetPositions=self._finger_target.tolist(), forces=[FINGER_FORCE] * 2,
                                     positionGains=[0.2] * 2, physicsClientId=c)

    def _track(self, q_start: np.ndarray, q_target: np.ndarray, gripper_target: float) -> None:
        c = self.world.client
        fingers = self.kinematics.fingers_from_closedness(gripper_target)
        finger_start = self._finger_target.copy()
        n_interp = max(5, int(np.ceil(np.max(np.abs(q_target - q_start)) / self.joint_speed / TIMESTEP)))
        finger_steps = max(5, int(np.ceil(np.max(np.abs(fingers - finger_start)) / 0.2 / TIMESTEP)))
        for k in range(1, max(n_interp, finger_steps) + 1):
            a, b = min(1.0, k / n_interp), min(1.0, k / finger_steps)
            self._finger_target = finger_start + b * (fingers - finger_start)
            self._command(q_start + a * (q_target - q_start))
            pb.stepSimulation(physicsClientId=c)
            self._time += TIMESTEP
        for _ in range(0, int(self.max_settle_time / TIMESTEP), 5):
            for _ in range(5):
                pb.stepSimulation(physicsClientId=c)
            self._time += 5 * TIMESTEP
            if self._settled(q_target):
                break

    def _joint_states(self):
        ids = (*ARM_JOINT_IDS, *FINGER_JOINT_IDS)
        return pb.getJointStates(self.world.robot, ids, physicsClientId=self.world.client)

    def _settled(self, q_target: np.ndarray) -> bool:
        states = self._joint_states()
        q = np.array([s[0] for s in states])
        qd = np.array([s[1] for s in states])
        _, J = self.kinematics.tcp_and_jacobian(q[:7])
        twist = J @ qd[:7]
        return (np.linalg.norm(twist[:3]) < self.settle_speed and np.linalg.norm(twist[3:]) < 10 * self.settle_speed
                and np.max(np.abs(qd[7:])) < self.settle_speed and np.max(np.abs(q[:7] - q_target)) < 2e-3)

    def joint_positions(self) -> np.ndarray:
        return np.array([s[0] for s in self._joint_states()], dtype=np.float64)

    def object_poses(self) -> dict[str, np.ndarray]:
        poses = {"cube": self.world.object_pose("cube")}
        if self.layout is not None and self.layout.cup_pose is not None:
            poses["cup"] = self.world.object_pose("cup")
        return poses

    def sim_time(self) -> float:
        return float(self._time)

    def _camera_matrices(self):
        cam = self.layout.camera
        view = pb.computeViewMatrix(cam.position, cam.lookat, cam.up())
        proj = pb.computeProjectionMatrixFOV(cam.fovy, 1.0, 0.02, 20.0)
        return view, proj

    def _render_world(self, world: _World) -> np.ndarray:
        view, proj = self._camera_matrices()
        light = self.layout.lighting
        direction = -np.asarray(light.direction, dtype=np.float64)  # PyBullet wants the direction *to* the light
        _, _, rgba, _, _ = pb.getCameraImage(
            self.image_size, self.image_size, view, proj, lightDirection=direction.tolist(),
            lightColor=[1, 1, 1], lightDistance=2.0, shadow=int(self.shadows), lightAmbientCoeff=light.ambient + 0.15,
            lightDiffuseCoeff=light.diffuse, lightSpecularCoeff=0.05, renderer=pb.ER_TINY_RENDERER,
            flags=pb.ER_NO_SEGMENTATION_MASK, physicsClientId=world.client)
        return np.asarray(rgba, dtype=np.uint8).reshape(self.image_size, self.image_size, 4)[..., :3].copy()

    def render(self) -> np.ndarray:
        return self._render_world(self.world)

    def _render_configuration(self, q: np.ndarray, object_poses: dict[str, np.ndarray]) -> np.ndarray:
        m = self.mirror
        m.set_joints(q)
        m.set_object("cube", object_poses["cube"])
        m.set_object("cup", object_poses.get("cup", PARKED_CUP))
        return self._render_world(m)

    def close(self) -> None:
        for world in (getattr(self, "world", None), getattr(self, "mirror", None)):
            if world is not None:
                world.close()

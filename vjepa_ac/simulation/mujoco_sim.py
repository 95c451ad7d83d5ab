"""MuJoCo engine of FrankaSim (primary): OSMesa rendering on CPU by default, EGL where a GPU exists."""

from __future__ import annotations

import os
import weakref

os.environ.setdefault("MUJOCO_GL", "osmesa")
if os.environ["MUJOCO_GL"] in ("osmesa", "egl"):
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from vjepa_ac.simulation import scene_layout as sl  # noqa: E402
from vjepa_ac.simulation.interface import FrankaSim  # noqa: E402
from vjepa_ac.simulation.mujoco_scene import BACKDROP_GROUP, TIMESTEP, build_mjcf, camera_quat_wxyz  # noqa: E402
from vjepa_ac.simulation.panda_kinematics import ARM_JOINTS, FINGER_JOINTS  # noqa: E402

PARKED_CUP = np.array([0.0, 2.5, sl.TABLE_TOP_Z - sl.TABLE_HEIGHT, 1.0, 0.0, 0.0, 0.0])


class MujocoFrankaSim(FrankaSim):
    engine = "mujoco"

    def __init__(self, image_size: int = 256, *, shadows: bool = True, low_poly: bool | None = None,
                 antialias: bool | None = None, joint_speed: float = 1.5, **controller_options):
        super().__init__(image_size, **controller_options)
        xml, assets = build_mjcf(self.image_size, shadows=shadows, low_poly=low_poly, antialias=antialias)
        self.model = mujoco.MjModel.from_xml_string(xml, assets)
        # The (hidden by default) backdrop must not change the extent that scales clipping and shadow maps, or
        # the default frames would change: use the extent and centre of the world without it.
        plain = mujoco.MjModel.from_xml_string(*build_mjcf(self.image_size, shadows=shadows, low_poly=low_poly,
                                                          antialias=antialias, backdrop=False))
        self.model.stat.extent = plain.stat.extent
        self.model.stat.center[:] = plain.stat.center
        del plain
        self.data = mujoco.MjData(self.model)
        self._scratch = mujoco.MjData(self.model)  # detached copy for render_goal
        self.joint_speed = float(joint_speed)
        m = self.model
        self._arm_qpos = np.array([m.joint(n).qposadr[0] for n in ARM_JOINTS])
        self._arm_dof = np.array([m.joint(n).dofadr[0] for n in ARM_JOINTS])
        self._finger_qpos = np.array([m.joint(n).qposadr[0] for n in FINGER_JOINTS])
        self._finger_dof = np.array([m.joint(n).dofadr[0] for n in FINGER_JOINTS])
        self._object_qpos = {name: m.joint(f"{name}_free").qposadr[0] for name in ("cube", "cup")}
        self._camera_id = m.camera("external").id
        self._tcp_site = m.site("tcp").id
        self._target_geom = m.geom("target").id
        self._materials = {k: m.material(f"{k}_mat").id for k in ("table", "cube", "cup", "target")}
        self._floor_material = m.material("floor_mat").id
        self._backdrop_material = m.material("backdrop_mat").id
        self._scene_option = mujoco.MjvOption()  # geom groups 0-2 shown, as the renderer's default
        self._light_id = m.light("key").id
        self._renderer = mujoco.Renderer(m, self.image_size, self.image_size)
        # Free the GL context when this sim is collected or, at the latest, while the interpreter is still
        # intact (the renderer's own __del__ raises during interpreter shutdown).
        self._release_renderer = weakref.finalize(self, self._renderer.close)

    # ---- engine hooks -----------------------------------------------------------------------
    def _reset_world(self, layout: sl.SceneLayout, q_home: np.ndarray) -> None:
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        for key, mat in self._materials.items():
            m.mat_rgba[mat] = layout.colors[key]
        m.geom_pos[self._target_geom, :2] = layout.target_xy
        light = layout.lighting
        m.light_dir[self._light_id] = np.asarray(light.direction) / np.linalg.norm(light.direction)
        # Appearance (appearance.py): the floor's checker texture tinted to the drawn floor colour, the backdrop
        # shown in the drawn colour; the default look has neither.
        shown = layout.appearance is not None
        tint = np.ones(4)
        if shown:
            tint[:3] = np.clip(np.asarray(layout.colors["floor"][:3]) / np.asarray(sl.DEFAULT_COLORS["floor"][:3]),
                               0.0, 1.0)
            m.mat_rgba[self._backdrop_material] = layout.colors["backdrop"]
        m.mat_rgba[self._floor_material] = tint
        self._scene_option.geomgroup[BACKDROP_GROUP] = 1 if shown else 0
        m.light_diffuse[self._light_id] = light.diffuse
        m.vis.headlight.ambient[:] = light.ambient
        m.cam_pos[self._camera_id] = layout.camera.position
        m.cam_quat[self._camera_id] = camera_quat_wxyz(layout.camera)
        m.cam_fovy[self._camera_id] = layout.camera.fovy
        d.qpos[self._arm_qpos] = q_home
        d.qpos[self._finger_qpos] = 0.04
        d.ctrl[:7] = q_home
        d.ctrl[7:9] = 0.04
        self._set_object(d, "cube", layout.cube_pose)
        self._set_object(d, "cup", layout.cup_pose if layout.cup_pose is not None else PARKED_CUP)
        mujoco.mj_forward(m, d)
        # Let contacts come to rest so the first observation is already a steady state.
        mujoco.mj_step(m, d, nstep=50)
        d.time = 0.0

    def _set_object(self, d: mujoco.MjData, name: str, pose: np.ndarray) -> None:
        adr = self._object_qpos[name]
        d.qpos[adr:adr + 7] = pose

    def _track(self, q_start: np.ndarray, q_target: np.ndarray, gripper_target: float) -> None:
        m, d = self.model, self.data
        fingers = self.kinematics.fingers_from_closedness(gripper_target)
        finger_start = d.ctrl[7:9].copy()
        # Interpolate the joint targets at a bounded joint speed so large moves do not jerk objects.
        n_interp = max(10, int(np.ceil(np.max(np.abs(q_target - q_start)) / self.joint_speed / TIMESTEP)))
        finger_steps = max(10, int(np.ceil(np.max(np.abs(fingers - finger_start)) / 0.2 / TIMESTEP)))
        n_ramp = max(n_interp, finger_steps)
        for k in range(1, n_ramp + 1):
            a = min(1.0, k / n_interp)
            b = min(1.0, k / finger_steps)
            d.ctrl[:7] = q_start + a * (q_target - q_start)
            d.ctrl[7:9] = finger_start + b * (fingers - finger_start)
            mujoco.mj_step(m, d)
        max_steps = int(self.max_settle_time / TIMESTEP)
        for _ in range(0, max_steps, 10):
            mujoco.mj_step(m, d, nstep=10)
            if self._settled(q_target):
                break

    def _settled(self, q_target: np.ndarray) -> bool:
        d = self.data
        q = d.qpos[self._arm_qpos]
        twist = np.zeros(6)  # [angular, linear] in the world frame
        mujoco.mj_objectVelocity(self.model, d, mujoco.mjtObj.mjOBJ_SITE, self._tcp_site, twist, 0)
        twist = twist[[3, 4, 5, 0, 1, 2]]
        finger_speed = np.max(np.abs(d.qvel[self._finger_dof]))
        return (np.linalg.norm(twist[:3]) < self.settle_speed and np.linalg.norm(twist[3:]) < 10 * self.settle_speed
                and finger_speed < self.settle_speed and np.max(np.abs(q - q_target)) < 2e-3)

    def joint_positions(self) -> np.ndarray:
        return np.concatenate([self.data.qpos[self._arm_qpos], self.data.qpos[self._finger_qpos]])

    def object_poses(self) -> dict[str, np.ndarray]:
        poses = {"cube": self.data.qpos[self._object_qpos["cube"]:][:7].copy()}
        if self.layout is not None and self.layout.cup_pose is not None:
            poses["cup"] = self.data.qpos[self._object_qpos["cup"]:][:7].copy()
        return poses

    def sim_time(self) -> float:
        return float(self.data.time)

    def render(self) -> np.ndarray:
        return self._render_data(self.data)

    def _render_data(self, d: mujoco.MjData) -> np.ndarray:
        self._renderer.update_scene(d, camera=self._camera_id, scene_option=self._scene_option)
        return self._renderer.render().copy()

    def _render_configuration(self, q: np.ndarray, object_poses: dict[str, np.ndarray]) -> np.ndarray:
        s = self._scratch
        s.qpos[:] = self.data.qpos
        s.qvel[:] = 0.0
        s.qpos[self._arm_qpos] = q[:7]
        s.qpos[self._finger_qpos] = q[7:9]
        for name, pose in object_poses.items():
            self._set_object(s, name, pose)
        mujoco.mj_forward(self.model, s)
        return self._render_data(s)

    def close(self) -> None:
        release = getattr(self, "_release_renderer", None)
        if release is not None:
            release()
            self._renderer = None

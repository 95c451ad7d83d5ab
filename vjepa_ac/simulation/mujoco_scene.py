"""MJCF for the MuJoCo world, generated from the pybullet Panda URDF (Apache-2.0) plus our table scene.

The URDF's kinematic chain, joint limits, inertials and meshes are kept; what URDF lacks (actuators,
gravity compensation, finger pads that grasp reliably, camera, lights, objects) is added here.
"""

from __future__ import annotations

import functools
import os
import xml.etree.ElementTree as ET

import numpy as np
from scipy.spatial.transform import Rotation

from vjepa_ac.simulation import scene_layout as sl
from vjepa_ac.simulation.panda_kinematics import pybullet_franka_dir

ARM_KP = 4000.0
ARM_KV = 150.0
ARM_FORCE = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
FINGER_KP = 1500.0
FINGER_KV = 40.0
FINGER_FORCE = 30.0
TIMESTEP = 0.002
# Finger pad boxes in the finger frame (the finger mesh's inner face is its y = 0 plane).
PAD_POS = (0.0, 0.006, 0.043)
PAD_HALF = (0.0095, 0.006, 0.011)
LINK_RGBA = {"finger": " ".join(f"{c:g}" for c in sl.DEFAULT_COLORS["fingers"])}
DEFAULT_LINK_RGBA = "0.93 0.93 0.93 1"
BACKDROP_GROUP = 5  # geom group of the backdrop walls (hidden unless an appearance shows them)


def _fmt(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    return np.roll(Rotation.from_matrix(R).as_quat(), 1)


def camera_quat_wxyz(camera: sl.CameraSpec) -> np.ndarray:
    """MuJoCo cameras look along their -z with +y up."""
    right, down, forward = camera.axes()
    return _quat_wxyz(np.stack([right, -down, -forward], axis=1))


def _mesh_path(filename: str, franka_dir: str) -> str:
    return os.path.join(franka_dir, filename.replace("package://", ""))


@functools.cache
def clean_obj(path: str) -> bytes:
    """The mesh as one plain OBJ object (positions + faces only).

    MuJoCo's OBJ reader keeps only the first `o` object of the multi-part visual meshes (the forearm and
    wrist would vanish), so the parts are merged and texture/normal references dropped.
    """
    vertices, faces = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("v "):
                vertices.append(line)
            elif line.startswith("f "):
                idx = [tok.split("/")[0] for tok in line.split()[1:]]
                for k in range(1, len(idx) - 1):  # fan-triangulate polygons
                    faces.append(f"f {idx[0]} {idx[k]} {idx[k + 1]}\n")
    return ("".join(vertices) + "".join(faces)).encode()


def mesh_assets(assets: dict[str, str]) -> dict[str, bytes]:
    """In-memory asset files for MjModel.from_xml_string (keyed like the <mesh file=...> names)."""
    return {f"{name}.obj": clean_obj(path) for name, path in assets.items()}


def _robot_bodies(urdf_root: ET.Element, franka_dir: str, assets: dict[str, str], low_poly: bool) -> str:
    """Nested <body> XML for the links below panda_link0, following the URDF joints.

    low_poly renders the ~200-triangle collision meshes instead of the ~100k-triangle visual ones: at
    64-128 px they look the same and software rendering gets several times faster.
    """
    links = {link.get("name"): link for link in urdf_root.iter("link")}
    children: dict[str, list[ET.Element]] = {}
    for joint in urdf_root.iter("joint"):
        children.setdefault(joint.find("parent").get("link"), []).append(joint)

    def mesh_name(filename: str, visual: bool = False) -> str:
        if visual and low_poly:
            filename = filename.replace("/visual/", "/collision/")
        path = _mesh_path(filename, franka_dir)
        name = os.path.relpath(path, franka_dir).replace(os.sep, "_").replace(".obj", "")
        assets[name] = path
        return name

    def link_geoms(name: str) -> str:
        link = links[name]
        rgba = LINK_RGBA.get("finger" if "finger" in name else name, DEFAULT_LINK_RGBA)
        out = []
        for visual in link.findall("visual"):
            mesh = visual.find("geometry/mesh")
            origin = visual.find("origin")
            quat = ""
            if origin is not None and origin.get("rpy"):
                rpy = [float(v) for v in origin.get("rpy").split()]
                quat = f' quat="{_fmt(_quat_wxyz(Rotation.from_euler("xyz", rpy).as_matrix()))}"'
            out.append(f'<geom class="visual" mesh="{mesh_name(mesh.get("filename"), True)}" rgba="{rgba}"{quat}/>')
        if name == "panda_hand":
            collision = link.find("collision/geometry/mesh")
            out.append(f'<geom class="gripper" mesh="{mesh_name(collision.get("filename"))}"/>')
        if "finger" in name:
            sign = 1.0 if "left" in name else -1.0
            pos = (PAD_POS[0], sign * PAD_POS[1], PAD_POS[2])
            out.append(f'<geom class="pad" name="{name}_pad" type="box" pos="{_fmt(pos)}" size="{_fmt(PAD_HALF)}"/>')
        inertial = link.find("inertial")
        if inertial is not None and float(inertial.find("mass").get("value")) > 0:
            pos = inertial.find("origin").get("xyz")
            mass = float(inertial.find("mass").get("value"))
            inertia = inertial.find("inertia")
            diag = [float(inertia.get(k)) for k in ("ixx", "iyy", "izz")]
            out.append(f'<inertial pos="{pos}" mass="{mass}" diaginertia="{_fmt(diag)}"/>')
        return "\n".join(out)

    def body(joint: ET.Element) -> str:
        child = joint.find("child").get("link")
        origin = joint.find("origin")
        xyz = [float(v) for v in origin.get("xyz", "0 0 0").split()]
        rpy = [float(v) for v in origin.get("rpy", "0 0 0").split()]
        quat = _quat_wxyz(Rotation.from_euler("xyz", rpy).as_matrix())
        kind = joint.get("type")
        joint_xml = ""
        if kind in ("revolute", "prismatic"):
            limit = joint.find("limit")
            jtype = "hinge" if kind == "revolute" else "slide"
            cls = "arm" if kind == "revolute" else "finger"
            joint_xml = (f'<joint name="{joint.get("name")}" class="{cls}" type="{jtype}" '
                         f'axis="{joint.find("axis").get("xyz")}" range="{limit.get("lower")} {limit.get("upper")}"/>')
        site = ""
        if child == "panda_hand":
            site = f'<site name="tcp" pos="0 0 {0.1034}" size="0.005" rgba="1 0 0 0" group="4"/>'
        inner = "\n".join(body(j) for j in children.get(child, []))
        return (f'<body name="{child}" pos="{_fmt(xyz)}" quat="{_fmt(quat)}" gravcomp="1">\n{joint_xml}\n'
                f'{link_geoms(child)}\n{site}\n{inner}\n</body>')

    base = links["panda_link0"]
    base_mesh = base.find("visual/geometry/mesh").get("filename")
    base_xml = (f'<body name="panda_link0" pos="0 0 {sl.TABLE_TOP_Z}">\n'
                f'<geom class="visual" mesh="{mesh_name(base_mesh, True)}" rgba="{DEFAULT_LINK_RGBA}"/>\n')
    inner = "\n".join(body(j) for j in children["panda_link0"] if j.find("child").get("link") != "panda_grasptarget")
    return base_xml + inner + "\n</body>"


def _cup_geoms() -> str:
    parts = [f'<geom name="cup_base" class="object" type="cylinder" size="{sl.CUP_RADIUS} {sl.CUP_WALL / 2}" '
             f'pos="0 0 {sl.CUP_WALL / 2}" material="cup_mat"/>']
    ring = sl.CUP_RADIUS - sl.CUP_WALL / 2
    half_width = ring * np.tan(np.pi / sl.CUP_SEGMENTS) + 1e-4
    for k in range(sl.CUP_SEGMENTS):
        a = 2 * np.pi * k / sl.CUP_SEGMENTS
        wall_half = (sl.CUP_HEIGHT - sl.CUP_WALL - 1e-3) / 2
        pos = (ring * np.cos(a), ring * np.sin(a), sl.CUP_WALL + 1e-3 + wall_half)
        quat = (np.cos(a / 2), 0.0, 0.0, np.sin(a / 2))
        # Walls stand on the base (not on the table) so only the base touches the table: 4 contacts, not 52.
        parts.append(f'<geom name="cup_wall{k}" class="object" type="box" pos="{_fmt(pos)}" quat="{_fmt(quat)}" '
                     f'size="{sl.CUP_WALL / 2} {half_width:.5f} {wall_half:.5f}" material="cup_mat"/>')
    return "\n".join(parts)


def _backdrop_geoms() -> str:
    """The backdrop walls as planes (planes leave the model's extent, hence its rendering, as it was), in geom
    group 5, which the renderer shows only under a non-default appearance."""
    parts = []
    for k, (half, pos) in enumerate(sl.BACKDROP_BOXES):
        thin = int(np.argmin(half))
        normal = np.zeros(3)
        normal[thin] = 1.0 if pos[thin] < 0 else -1.0  # facing the robot
        size = [h for i, h in enumerate(half) if i != thin]
        if thin == 0:  # zaxis along x turns the plane's local x onto world z
            size = size[::-1]
        parts.append(f'<geom name="backdrop{k}" type="plane" size="{_fmt(size)} 0.1" pos="{_fmt(pos)}" '
                     f'zaxis="{_fmt(normal)}" group="{BACKDROP_GROUP}" contype="0" conaffinity="0" '
                     f'material="backdrop_mat"/>')
    return "\n".join(parts)


def build_mjcf(image_size: int = 256, shadows: bool = True, low_poly: bool | None = None,
               antialias: bool | None = None, backdrop: bool = True) -> tuple[str, dict[str, bytes]]:
    """(MJCF text, in-memory mesh files) of the whole world.

    The backdrop walls change the compiled model's extent (which scales clipping and shadows): MujocoFrankaSim
    sets the extent and centre back to those of the model without them (`backdrop=False`).

    Defaults favour speed at the small sizes the world model uses: low-poly meshes and no multisampling
    up to 128 px, full meshes and 4x multisampling above.
    """
    small = image_size <= 128
    low_poly = small if low_poly is None else low_poly
    antialias = not small if antialias is None else antialias
    shadow_size = (512 if small else 1024) if shadows else 0
    franka_dir = pybullet_franka_dir()
    urdf_root = ET.parse(os.path.join(franka_dir, "panda.urdf")).getroot()
    assets: dict[str, str] = {}
    robot = _robot_bodies(urdf_root, franka_dir, assets, low_poly)
    mesh_xml = "\n".join(f'<mesh name="{n}" file="{n}.obj"/>' for n in sorted(assets))
    cam = sl.CameraSpec()
    light = sl.Lighting()
    arm_actuators = "\n".join(
        f'<general name="act{i}" joint="panda_joint{i}" class="arm_act" forcerange="{-f} {f}" '
        f'ctrlrange="-3.2 3.9"/>' for i, f in enumerate(ARM_FORCE, start=1))
    tx, ty = sl.TABLE_CENTER
    hx, hy, hz = sl.TABLE_HALF
    offsize = max(int(image_size), 64)
    xml = f"""
<mujoco model="vjepa_ac_panda_table">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <size memory="20M"/>
  <visual>
    <global offwidth="{offsize}" offheight="{offsize}" fovy="{cam.fovy}"/>
    <quality shadowsize="{shadow_size}" offsamples="{4 if antialias else 0}"/>
    <headlight ambient="{light.ambient} {light.ambient} {light.ambient}" diffuse="0.2 0.2 0.2" specular="0 0 0"/>
    <map znear="0.02" zfar="20"/>
  </visual>
  <default>
    <default class="visual"><geom type="mesh" contype="0" conaffinity="0" group="2" density="0"/></default>
    <default class="gripper"><geom type="mesh" contype="1" conaffinity="1" group="3" density="0" rgba="1 1 1 0"/></default>
    <default class="pad"><geom contype="1" conaffinity="1" group="3" density="0" condim="4" friction="1.5 0.02 0.002"
      solref="0.004 1" solimp="0.95 0.99 0.001" priority="1" rgba="0.2 0.2 0.2 0"/></default>
    <default class="object"><geom contype="1" conaffinity="1" condim="4" friction="1.0 0.01 0.001"
      solref="0.004 1" solimp="0.95 0.99 0.001"/></default>
    <default class="arm"><joint armature="0.1" damping="1.0"/></default>
    <default class="finger"><joint armature="0.01" damping="5.0"/></default>
    <default class="arm_act"><general gainprm="{ARM_KP}" biasprm="0 -{ARM_KP} -{ARM_KV}" biastype="affine"/></default>
  </default>
  <asset>
    {mesh_xml}
    <texture name="floor_tex" type="2d" builtin="checker" rgb1="0.32 0.32 0.34" rgb2="0.38 0.38 0.40" width="64" height="64"/>
    <material name="floor_mat" texture="floor_tex" texrepeat="8 8"/>
    <material name="table_mat" rgba="{_fmt(sl.DEFAULT_COLORS['table'])}" specular="0.1"/>
    <material name="cube_mat" rgba="{_fmt(sl.DEFAULT_COLORS['cube'])}" specular="0.2"/>
    <material name="cup_mat" rgba="{_fmt(sl.DEFAULT_COLORS['cup'])}" specular="0.3"/>
    <material name="target_mat" rgba="{_fmt(sl.DEFAULT_COLORS['target'])}"/>
    <material name="backdrop_mat" rgba="0.7 0.7 0.7 1" specular="0"/>
  </asset>
  <worldbody>
    <light name="key" directional="true" castshadow="{'true' if shadows else 'false'}" pos="0.4 -0.3 2.0"
      dir="{_fmt(light.direction)}" diffuse="{light.diffuse} {light.diffuse} {light.diffuse}" specular="0.1 0.1 0.1"/>
    <camera name="external" pos="{_fmt(cam.position)}" quat="{_fmt(camera_quat_wxyz(cam))}" fovy="{cam.fovy}"/>
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 {sl.TABLE_TOP_Z - sl.TABLE_HEIGHT}" material="floor_mat"
      contype="1" conaffinity="1"/>
    <geom name="table" type="box" size="{hx} {hy} {hz}" pos="{tx} {ty} {sl.TABLE_TOP_Z - hz}" material="table_mat"
      contype="1" conaffinity="1" friction="0.8 0.01 0.001"/>
    <geom name="target" type="cylinder" size="{sl.TARGET_RADIUS} {sl.TARGET_THICKNESS / 2}"
      pos="0.5 0.1 {sl.TABLE_TOP_Z + sl.TARGET_THICKNESS / 2}" material="target_mat" contype="0" conaffinity="0"/>
    {robot}
    <body name="cube" pos="0.5 0 {sl.CUBE_HALF}">
      <freejoint name="cube_free"/>
      <geom name="cube" class="object" type="box" size="{sl.CUBE_HALF} {sl.CUBE_HALF} {sl.CUBE_HALF}"
        mass="{sl.CUBE_MASS}" material="cube_mat"/>
    </body>
    <body name="cup" pos="0.4 0.25 0">
      <freejoint name="cup_free"/>
      <inertial pos="0 0 {sl.CUP_HEIGHT * 0.4}" mass="{sl.CUP_MASS}" diaginertia="1e-4 1e-4 1e-4"/>
      {_cup_geoms()}
    </body>
    {_backdrop_geoms() if backdrop else ""}
  </worldbody>
  <contact>
    <exclude body1="panda_leftfinger" body2="panda_rightfinger"/>
  </contact>
  <actuator>
    {arm_actuators}
    <general name="finger_left" joint="panda_finger_joint1" gainprm="{FINGER_KP}" biasprm="0 -{FINGER_KP} -{FINGER_KV}"
      biastype="affine" ctrlrange="0 0.04" forcerange="-{FINGER_FORCE} {FINGER_FORCE}"/>
    <general name="finger_right" joint="panda_finger_joint2" gainprm="{FINGER_KP}" biasprm="0 -{FINGER_KP} -{FINGER_KV}"
      biastype="affine" ctrlrange="0 0.04" forcerange="-{FINGER_FORCE} {FINGER_FORCE}"/>
  </actuator>
</mujoco>
"""
    return xml, mesh_assets(assets)

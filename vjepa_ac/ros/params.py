"""ROS parameters of the nodes: one table per node, declared dynamically typed and coerced here.

Dynamic typing matters because YAML (and `-p x:=2`) turn `2` into an integer and `[]` into an unset
value; the nodes accept both and fail with one clear message on anything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from vjepa_ac.planning.config import CEMConfig
from vjepa_ac.planning.goal_gripper import DEFAULT_READOUT_MIN_CONFIDENCE

__all__ = [
    "ParamSpec",
    "ParameterValueError",
    "PLANNER_PARAMETERS",
    "SIM_PARAMETERS",
    "check_planner_settings",
    "coerce",
    "declare_parameters",
    "read_parameter",
    "read_parameters",
]


class ParameterValueError(ValueError):
    """A parameter has a value of the wrong type or outside its range."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    kind: str  # bool | int | float | str | str_list | int_list | float_list
    description: str
    minimum: float | None = None


def _p(name, default, kind, description, minimum=None) -> ParamSpec:
    return ParamSpec(name, default, kind, description, minimum)


_CEM = CEMConfig.defaults()


PLANNER_PARAMETERS = (
    # model
    _p("checkpoint", "", "str", "world-model checkpoint path; empty = the embedded default model"),
    _p("preset", "", "str", "encoder preset (vit_large, vit_huge, vit_giant, vit_giant_384) giving head count and "
       "resolution of official .pt checkpoints; empty = published defaults"),
    _p("device", "cpu", "str", "torch device for encoder, predictor and CEM (cpu, cuda, cuda:1, ...)"),
    _p("dtype", "float32", "str", "model dtype: float32, bfloat16 or float16"),
    _p("torch_threads", 0, "int", "torch CPU threads for encoding and CEM; 0 = all cores but one, which stays "
       "free for the sensor callbacks and DDS", 0),
    # CEM: defaults are CEMConfig's (vjepa_ac/planning/config.py), the one place the planner's settings live
    _p("samples", _CEM["samples"], "int", "CEM samples per iteration", 1),
    _p("iterations", _CEM["iterations"], "int", "CEM iterations per plan", 1),
    _p("top_k", _CEM["top_k"], "int", "CEM elites", 1),
    _p("horizon", _CEM["horizon"], "int", "planning horizon in actions", 1),
    _p("l1_radius", _CEM["l1_radius"], "float", "L1 bound of the translation per action (m)", 0.0),
    _p("rotation_enabled", _CEM["rotation_enabled"], "bool", "plan rotations (frozen in the reference)"),
    _p("rotation_radius", _CEM["rotation_radius"], "float", "L1 bound of the rotation per action (rad)", 0.0),
    _p("gripper_enabled", _CEM["gripper_enabled"], "bool", "plan the gripper"),
    _p("gripper_max", _CEM["gripper_max"], "float", "bound of the gripper delta per action", 0.0),
    _p("frozen_dimensions", list(_CEM["frozen_dimensions"]), "int_list",
       "extra action dimensions pinned to 0 (0..6 = dx dy dz droll dpitch dyaw dgripper)"),
    _p("momentum_mean", _CEM["momentum_mean"], "float", "CEM mean momentum (weight kept by the old mean)", 0.0),
    _p("momentum_std", _CEM["momentum_std"], "float", "CEM std momentum", 0.0),
    _p("anchor_to_observation", _CEM["anchor_to_observation"], "bool", "score predicted changes added to the "
       "observed frame (cancels an error common to all predictions; false = the paper's energy)"),
    _p("gripper_goal_weight", _CEM["gripper_goal_weight"], "float", "energy per unit of gripper closedness between "
       "the plan and the gripper the goal image shows, read by the model's gripper readout; 0 = the image energy "
       "alone decides the gripper", 0.0),
    _p("gripper_readout", "", "str", "gripper readout file; empty = gripper_readout.safetensors next to the checkpoint "
       "(the embedded model ships one)"),
    _p("readout_min_confidence", DEFAULT_READOUT_MIN_CONFIDENCE, "float",
       "use a goal's gripper only when the readout is this sure of it", 0.5),
    _p("seed", _CEM["seed"], "int", "CEM random seed"),
    # loop
    _p("rate_hz", 1.0, "float", "planning rate (one plan, one command per tick)", 0.01),
    _p("max_sensor_age_s", 1.0, "float", "camera/pose/gripper older than this are stale: no planning", 0.0),
    _p("wait_for_new_frame", True, "bool", "plan only on camera frames stamped after the last command"),
    _p("command_settle_s", 0.0, "float", "extra time after a command before a frame counts as new", 0.0),
    _p("trust_header_stamps", True, "bool", "judge freshness by header stamps too (false: cameras on another clock)"),
    _p("start_enabled", True, "bool", "plan as soon as a goal and fresh data exist (else call ~/enable)"),
    # input / output conventions
    _p("image_crop", "center", "str", "center (square crop) or none (squash) before resizing"),
    _p("base_frame", "", "str", "frame of published poses; empty = the frame of the EE pose input"),
    _p("gripper_open_width", 0.08, "float", "finger opening (m, sum of both fingers) that means fully open", 1e-6),
    _p("gripper_joint_names", [], "str_list", "finger joints in the gripper JointState; empty = names containing 'finger_joint'"),
    _p("require_gripper_state", True, "bool", "no planning without a fresh gripper JointState (else closedness 0)"),
    _p("command_mode", "pose", "str", "pose: command/target_pose + command/delta per plan; twist: command/twist "
       "(TwistStamped, MoveIt Servo) at twist_rate_hz toward each planned target"),
    _p("twist_rate_hz", 30.0, "float", "rate of command/twist in twist mode (zero twists included)", 1.0),
    _p("max_linear_speed", 0.05, "float", "twist mode: largest linear speed sent (m/s)", 0.0),
    _p("max_angular_speed", 0.3, "float", "twist mode: largest angular speed sent (rad/s)", 0.0),
    _p("twist_gain", 2.0, "float", "twist mode: speed per unit of remaining error (1/s), below the limits", 0.0),
    _p("target_tolerance", 0.003, "float", "twist mode: a target within this distance (m) is reached", 0.0),
    _p("gripper_command_type", "float64", "str", "float64: command/gripper (closedness 0..1); joint_state: "
       "command/gripper_joints (finger positions)"),
    _p("gripper_command_joints", ["panda_finger_joint1", "panda_finger_joint2"], "str_list",
       "finger joints of the joint_state gripper command"),
    # limits: inputs outside them are refused and diagnosed (docs/safety.md)
    _p("max_image_width", 3840, "int", "widest camera or goal image accepted (px): a larger one is refused as too "
       "large before anything is allocated", 16),
    _p("max_image_height", 2160, "int", "tallest camera or goal image accepted (px)", 16),
    _p("workspace_min", [-0.86, -0.86, -0.36], "float_list", "lower corner (x, y, z in the base frame, m) of the box "
       "the reported EE position must lie in and every commanded target is kept in"),
    _p("workspace_max", [0.86, 0.86, 1.19], "float_list", "upper corner (x, y, z, m) of that box"),
    _p("workspace_action", "clamp", "str", "a commanded target outside the box: clamp (onto the box) or refuse "
       "(no command); the diagnostic says which"),
    _p("finger_position_range", [-0.001, 0.041], "float_list", "plausible position of each finger (m, min and max)"),
    _p("gripper_finger_count", 2, "int", "finger joints the gripper JointState must report", 1),
    _p("quaternion_tolerance", 0.01, "float", "largest |norm - 1| of a reported orientation quaternion", 0.0),
    _p("max_future_stamp_s", 0.1, "float", "header stamps further ahead of this clock are refused", 0.0),
    # goals
    _p("goal_image_path", "", "str", "goal image file loaded at start and by ~/load_goal_from_file"),
    _p("subgoal_image_paths", [], "str_list", "sub-goal image files (used instead of goal_image_path when set)"),
    _p("subgoal_budgets", [], "int_list", "steps per sub-goal (same length as subgoal_image_paths)"),
    _p("subgoal_energy_threshold", -1.0, "float", "advance a sub-goal early when the plan's energy (anchored if anchor_to_observation) is this low; < 0 = budgets only"),
    _p("goal_step_budget", 0, "int", "max commands toward a single goal; 0 = unlimited", 0),
)

SIM_PARAMETERS = (
    _p("engine", "mujoco", "str", "simulator: mujoco or pybullet"),
    _p("image_size", 256, "int", "rendered camera resolution (square)", 16),
    _p("seed", 0, "int", "episode seed used by reset"),
    _p("start_near_cube", False, "bool", "reset with the open hand just above the cube (the grasp and pick-and-place "
       "evaluation start) instead of the home pose"),
    _p("camera", "default", "str", "scene camera: default, or droid (front left of the robot; model v2's); "
       "render with the one the planner's model was trained on"),
    _p("publish_rate_hz", 15.0, "float", "rate of camera/state publication", 0.1),
    _p("command_mode", "delta", "str", "delta (command/delta), target_pose (command/target_pose + command/gripper) or both"),
    _p("max_translation_step", 0.1, "float", "L1 clip of one commanded translation (m)", 0.0),
    _p("max_rotation_step", 0.5, "float", "per-axis clip of one commanded rotation (rad)", 0.0),
    _p("base_frame", "panda_link0", "str", "frame of the published EE pose"),
    _p("camera_frame", "sim_camera_optical_frame", "str", "frame of the camera image and CameraInfo"),
    _p("render_goal_mode", "planar", "str", "planar (x, y from the message; keep z, orientation, gripper) or full"),
)

_SCALAR_TYPES = {"bool": bool, "int": int, "float": float, "str": str}


DTYPES = ("float32", "bfloat16", "float16")


def check_planner_settings(s) -> None:
    """Raise ParameterValueError for planner settings that are valid one by one but not together."""
    from vjepa_ac.framing import CROP_MODES
    from vjepa_ac.ros.command_outputs import COMMAND_MODES, GRIPPER_COMMAND_TYPES

    for name, allowed in (("dtype", DTYPES), ("image_crop", CROP_MODES), ("command_mode", COMMAND_MODES),
                          ("gripper_command_type", GRIPPER_COMMAND_TYPES)):
        if getattr(s, name) not in allowed:
            raise ParameterValueError(f"parameter '{name}' must be one of {allowed}, got {getattr(s, name)!r}")
    if s.top_k > s.samples:
        raise ParameterValueError(f"parameter 'top_k' ({s.top_k}) exceeds 'samples' ({s.samples})")
    bad = [d for d in s.frozen_dimensions if not 0 <= d <= 6]
    if bad:
        raise ParameterValueError(f"parameter 'frozen_dimensions' entries must be 0..6, got {bad}")
    if s.gripper_command_type == "joint_state" and not s.gripper_command_joints:
        raise ParameterValueError("parameter 'gripper_command_joints' must name the fingers of a joint_state command")


def declare_parameters(node, specs) -> None:
    """Declare every spec on `node` with dynamic typing (values from --params-file / overrides win)."""
    from rcl_interfaces.msg import ParameterDescriptor

    for spec in specs:
        descriptor = ParameterDescriptor(description=spec.description, dynamic_typing=True)
        node.declare_parameter(spec.name, spec.default, descriptor)


def _coerce_scalar(spec: ParamSpec, kind: str, value):
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif kind == "str":
        if isinstance(value, str):
            return value
    raise ParameterValueError(f"parameter '{spec.name}' must be {kind}, got {value!r}")


def coerce(spec: ParamSpec, value):
    """The parameter value in the spec's Python type (None/unset = default)."""
    if value is None:
        value = spec.default
    if spec.kind.endswith("_list"):
        item_kind = spec.kind[: -len("_list")]
        if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
            raise ParameterValueError(f"parameter '{spec.name}' must be a list of {item_kind}, got {value!r}")
        result = [_coerce_scalar(spec, item_kind, item) for item in value]
        if item_kind == "str":
            result = [item for item in result if item.strip()]  # [''] is how YAML spells an empty list
    else:
        result = _coerce_scalar(spec, spec.kind, value)
    if spec.minimum is not None:
        items = result if isinstance(result, list) else [result]
        for item in items:
            if item < spec.minimum:
                raise ParameterValueError(f"parameter '{spec.name}' must be >= {spec.minimum}, got {item!r}")
    return result


def read_parameter(node, specs, name: str):
    """The current value of one spec, coerced (for callbacks that re-read a parameter the user may have set)."""
    spec = next((s for s in specs if s.name == name), None)
    if spec is None:
        raise KeyError(f"no parameter spec named {name!r}")
    return coerce(spec, node.get_parameter(name).value)


def read_parameters(node, specs) -> SimpleNamespace:
    """Current values of all specs, coerced; raises ParameterValueError naming the bad parameter."""
    values = {}
    for spec in specs:
        values[spec.name] = coerce(spec, node.get_parameter(spec.name).value)
    return SimpleNamespace(**values)

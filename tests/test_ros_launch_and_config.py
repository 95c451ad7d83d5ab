"""Launch files and parameter files: they cannot run here (no launch_ros on PyPI), so check what we can.

Launch files must compile, name only executables that setup.py installs and only files that exist;
every YAML key must be a declared parameter with a valid value, and rcl must parse the files as
the nodes receive them (`--params-file`, exactly what launch passes).
"""

from __future__ import annotations

import ast
import importlib
import py_compile
import re

import pytest
import rclpy
import yaml
from ros_test_support import REPO_ROOT, TinyWorldModel

from vjepa_ac.planning.config import CEMConfig
from vjepa_ac.ros.episode_recorder import RECORDER_PARAMETERS
from vjepa_ac.ros.params import PLANNER_PARAMETERS, SIM_PARAMETERS, coerce

LAUNCH_FILES = sorted((REPO_ROOT / "launch").glob("*.launch.py"))
CONFIG_DIR = REPO_ROOT / "config"
PARAMETER_FILES = {"planner.yaml": PLANNER_PARAMETERS, "franka_real.yaml": PLANNER_PARAMETERS,
                   "sim.yaml": SIM_PARAMETERS, "recorder.yaml": RECORDER_PARAMETERS}


def console_scripts() -> dict[str, str]:
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    scripts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = re.fullmatch(r"\s*([\w.-]+)\s*=\s*([\w.]+:\w+)\s*", node.value)
            if match:
                scripts[match.group(1)] = match.group(2)
    return scripts


def launched_nodes(path):
    """(package, executable) of every launch_ros Node(...) call with literal arguments."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Node":
            kwargs = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
            found.append((kwargs.get("package"), kwargs.get("executable")))
    return found


def test_expected_launch_files_exist():
    names = {p.name for p in LAUNCH_FILES}
    assert {"planning_sim.launch.py", "planner.launch.py", "sim.launch.py"} <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_compiles_and_references_exist(path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "compiled.pyc"), doraise=True)
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    scripts = console_scripts()
    nodes = launched_nodes(path)
    ours = [exe for package, exe in nodes if package == "vjepa_ac"]
    assert ours, f"{path.name} starts no vjepa_ac node"
    for executable in ours:
        assert executable in scripts, f"{path.name}: executable {executable!r} not in setup.py console_scripts"
    referenced = set()
    for constant in (n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)):
        referenced.update(re.findall(r"[\w.-]+\.(?:yaml|rviz)\b", constant))
    assert referenced, f"{path.name} references no parameter file"
    for name in referenced:
        assert (CONFIG_DIR / name).is_file(), f"{path.name} references missing config/{name}"


def test_ros_console_scripts_resolve_to_callables():
    scripts = console_scripts()
    for name in ("planner_node", "sim_node", "send_goal_image", "vjepa-ac-run"):
        module, function = scripts[name].split(":")
        assert callable(getattr(importlib.import_module(module), function)), name


@pytest.mark.parametrize("name", sorted(PARAMETER_FILES))
def test_parameter_file_keys_are_declared_parameters(name):
    document = yaml.safe_load((CONFIG_DIR / name).read_text())
    assert list(document) == ["/**"], "one wildcard section, so launch/runner node names may change"
    values = document["/**"]["ros__parameters"]
    specs = {spec.name: spec for spec in PARAMETER_FILES[name]}
    unknown = sorted(set(values) - set(specs))
    assert not unknown, f"{name}: unknown parameters {unknown}"
    for key, value in values.items():
        coerce(specs[key], value)  # raises on a wrong type / range


def test_rviz_config_parses_and_uses_our_topics():
    layout = yaml.safe_load((CONFIG_DIR / "vjepa_ac.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in layout["Visualization Manager"]["Displays"] if "Topic" in d}
    assert {"/camera/image", "/goal_image", "/planned_path", "/planned_path_markers", "/ee_pose"} <= topics
    tools = {t.get("Topic", {}).get("Value") for t in layout["Visualization Manager"]["Tools"]}
    assert {"/vjepa_ac_sim/render_goal_pose", "/vjepa_ac_sim/render_goal_point"} <= tools


@pytest.fixture
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def test_planner_yaml_reaches_the_node_through_rcl(ros):
    from vjepa_ac.ros.planner_node import PlannerNode

    node = PlannerNode(world_model=TinyWorldModel(),
                       cli_args=["--ros-args", "--params-file", str(CONFIG_DIR / "planner.yaml")])
    try:
        expected = yaml.safe_load((CONFIG_DIR / "planner.yaml").read_text())["/**"]["ros__parameters"]
        shipped = CEMConfig()  # planner.yaml leaves the planner's settings to CEMConfig, their one source
        assert "samples" not in expected and "anchor_to_observation" not in expected
        assert CEMConfig.from_mapping(node.settings) == shipped
        assert node.settings.frozen_dimensions == [] and node.settings.subgoal_image_paths == []
        assert node.planner is not None and node.fatal_error is None
        # The simulated setup decides the gripper with the embedded model's readout.
        assert node.settings.gripper_goal_weight == shipped.gripper_goal_weight > 0
        readout = node.controller.goal_gripper
        assert readout is not None and readout.source.name == "gripper_readout.safetensors"
    finally:
        node.destroy_node()


def test_franka_real_yaml_without_checkpoint_reports_error(ros):
    from vjepa_ac.ros.planner_node import PlannerNode

    node = PlannerNode(cli_args=["--ros-args", "--params-file", str(CONFIG_DIR / "franka_real.yaml")])
    try:
        assert node.settings.device == "cuda" and node.settings.start_enabled is False
        assert node.planner is None and "checkpoint not found" in node.fatal_error
    finally:
        node.destroy_node()


def test_sim_yaml_reaches_the_node_through_rcl(ros):
    from vjepa_ac.ros.sim_node import SimNode

    class NoSim:
        def __init__(self, settings):
            self.settings = settings

        def reset(self, seed, options=None):
            return None

        def close(self):
            pass

    node = SimNode(sim_factory=NoSim, cli_args=["--ros-args", "--params-file", str(CONFIG_DIR / "sim.yaml")])
    try:
        expected = yaml.safe_load((CONFIG_DIR / "sim.yaml").read_text())["/**"]["ros__parameters"]
        assert node.sim.settings.engine == expected["engine"]
        assert node.settings.publish_rate_hz == expected["publish_rate_hz"]
    finally:
        node.destroy_node()


def test_sim_node_renders_through_the_configured_camera(ros):
    from vjepa_ac.ros.params import ParameterValueError
    from vjepa_ac.ros.sim_node import SimNode

    resets = []

    class NoSim:
        def __init__(self, settings):
            pass

        def reset(self, seed, options=None):
            resets.append(options)

        def close(self):
            pass

    node = SimNode(sim_factory=NoSim, cli_args=["--ros-args", "-p", "camera:=droid"])
    node.destroy_node()
    assert resets == [{"start_near_cube": False, "camera": "droid"}]
    with pytest.raises(ParameterValueError, match="camera"):
        SimNode(sim_factory=NoSim, cli_args=["--ros-args", "-p", "camera:=ceiling"])
    assert len(resets) == 1  # no simulator was reset with it

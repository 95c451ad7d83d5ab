"""colcon builds the package in a scratch workspace; ament_index finds its launch and config files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ros_test_support import REPO_ROOT, RUN_ENV

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def install_dir(tmp_path_factory) -> Path:
    colcon = VENV_BIN / "colcon"
    if not colcon.exists():
        pytest.fail(f"colcon not installed next to {sys.executable} (colcon-common-extensions is in requirements.txt)")
    workspace = tmp_path_factory.mktemp("colcon_ws")
    (workspace / "src").mkdir()
    (workspace / "src" / "vjepa_ac").symlink_to(REPO_ROOT, target_is_directory=True)
    env = {**RUN_ENV, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(colcon), "--log-base", str(workspace / "log"), "build", "--base-paths", str(workspace / "src"),
         "--build-base", str(workspace / "build"), "--install-base", str(workspace / "install")],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"colcon build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert "1 package finished" in result.stdout, result.stdout
    return workspace / "install" / "vjepa_ac"


def test_share_directory_found_through_ament_index(install_dir):
    env = {**RUN_ENV, "AMENT_PREFIX_PATH": str(install_dir)}
    code = "from ament_index_python.packages import get_package_share_directory as g; print(g('vjepa_ac'))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    share = Path(result.stdout.strip())
    assert share == install_dir / "share" / "vjepa_ac"
    assert (share / "package.xml").is_file()
    for name in ("planning_sim.launch.py", "planner.launch.py", "sim.launch.py"):
        assert (share / "launch" / name).is_file(), name
    for name in ("planner.yaml", "sim.yaml", "franka_real.yaml", "vjepa_ac.rviz"):
        assert (share / "config" / name).is_file(), name


def test_ros2_run_executables_installed(install_dir):
    lib = install_dir / "lib" / "vjepa_ac"  # where `ros2 run vjepa_ac <name>` looks
    for name in ("planner_node", "sim_node", "send_goal_image", "vjepa-ac-run"):
        assert os.access(lib / name, os.X_OK), name
    # As a user would: source the workspace, then run the installed entry point.
    setup = install_dir.parent / "setup.bash"
    command = f'. "{setup}" && echo "$AMENT_PREFIX_PATH" && "{lib / "send_goal_image"}" --help'
    result = subprocess.run(["bash", "-c", command], env=RUN_ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert str(install_dir) in result.stdout.splitlines()[0]
    assert "goal image file" in result.stdout


def test_runner_finds_config_through_ament_index(install_dir):
    env = {**RUN_ENV, "AMENT_PREFIX_PATH": str(install_dir)}
    code = "from vjepa_ac.ros.runner import default_config_dir; print(default_config_dir())"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == install_dir / "share" / "vjepa_ac" / "config"

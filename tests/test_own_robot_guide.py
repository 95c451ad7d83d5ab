"""docs/own_robot.md: every CPU command runs as written; every real-robot command names things that exist."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from ros_test_support import REPO_ROOT, RUN_ENV

GUIDE = REPO_ROOT / "docs" / "own_robot.md"
FENCE = re.compile(r"^```(bash(?: cpu)?)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(kind: str) -> list[str]:
    """Command lines of the guide's fenced blocks of `kind` ("bash cpu" or "bash")."""
    return [line.strip() for info, body in FENCE.findall(GUIDE.read_text()) if info == kind
            for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def console_scripts() -> set[str]:
    text = (REPO_ROOT / "setup.py").read_text()
    return set(re.findall(r'"([\w-]+) = vjepa_ac\.', text))


def test_guide_is_complete():
    text = GUIDE.read_text()
    assert "MEASURED_" not in text, "a measured figure is still a placeholder"
    assert len(blocks("bash cpu")) >= 5 and len(blocks("bash")) >= 5


def test_real_robot_commands_name_existing_launch_files_services_and_scripts():
    scripts = console_scripts()
    for line in blocks("bash"):
        words = shlex.split(line)
        if words[:2] == ["ros2", "launch"]:
            assert words[2] == "vjepa_ac", line
            launch = (REPO_ROOT / "launch" / words[3]).read_text()
            for argument in words[4:]:
                name = argument.split(":=")[0]
                assert f'DeclareLaunchArgument("{name}"' in launch, f"{words[3]} declares no {name}"
        elif words[:2] == ["ros2", "run"]:
            assert words[2] == "vjepa_ac" and words[3] in scripts, line
        elif words[:3] == ["ros2", "service", "call"]:
            # /<namespace>/<node name>/<service>, served by that node with that type
            namespace, node, service = words[3].strip("/").split("/")
            assert namespace == "vjepa_ac", line
            module = {"vjepa_ac_episode_recorder": "episode_recorder", "vjepa_ac_planner": "planner_node"}[node]
            source = (REPO_ROOT / "vjepa_ac" / "ros" / f"{module}.py").read_text()
            kind = words[4].rsplit("/", 1)[1]
            assert f'"~/{service}"' in source and re.search(rf"\b{kind}\b", source), line
            assert f'"{node}"' in source, f"{module} is not named {node}"
        else:
            pytest.fail(f"unchecked real-robot command: {line}")


@pytest.fixture
def workdir(tmp_path):
    """A directory that looks like the repository root (config/ and the package), runs/ inside it."""
    for name in ("config", "vjepa_ac"):
        (tmp_path / name).symlink_to(REPO_ROOT / name)
    return tmp_path


def test_cpu_commands_run_as_written(workdir):
    env = {**RUN_ENV, "PATH": os.pathsep.join([str(Path(sys.executable).parent), RUN_ENV.get("PATH", "")])}
    scripts = console_scripts()
    for line in blocks("bash cpu"):
        program = shlex.split(line)[0]
        assert program in scripts, f"{program} is not a console script of this package"
        result = subprocess.run(line, shell=True, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{line}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        if program == "vjepa-ac-run":  # the fine-tuned model planned and the simulated arm moved
            commands = int(re.search(r"planner commands: (\d+)", result.stdout).group(1))
            moved = float(re.search(r"EE moved ([\d.]+) m", result.stdout).group(1))
            assert commands >= 1 and moved > 0.01, result.stdout
    finetune = workdir / "runs" / "own_robot" / "finetune"
    assert (finetune / "landscape_before.png").is_file() and (finetune / "landscape_after.png").is_file()
    assert (finetune / "checkpoints" / "step_00000060" / "model.safetensors").is_file()

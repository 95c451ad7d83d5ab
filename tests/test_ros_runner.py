"""vjepa-ac-run: both nodes from config/*.yaml in one process, with a real checkpoint directory."""

from __future__ import annotations

import re
import subprocess
import sys

from ros_test_support import REPO_ROOT, RUN_ENV, small_vjepa_world_model


def _run(args, timeout=180):
    return subprocess.run([sys.executable, "-m", "vjepa_ac.ros.runner", *args], cwd=REPO_ROOT, env=RUN_ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_runner_plans_and_moves_the_simulated_arm(tmp_path):
    from vjepa_ac.models import save_world_model

    checkpoint = save_world_model(small_vjepa_world_model(image_size=64), tmp_path / "model")
    result = _run([
        "--duration", "15", "--goal-offset", "0.08", "0.0", "-0.04",
        "--planner-param", f"checkpoint:={checkpoint}", "--planner-param", "samples:=32",
        "--planner-param", "iterations:=2", "--planner-param", "top_k:=4", "--planner-param", "rate_hz:=2.0",
        # A random-weight model predicts no useful change, so the anchored energy (the default) holds the arm
        # still; the paper's energy lets it move, which is what this plumbing test needs to see.
        "--planner-param", "anchor_to_observation:=false",
        # This checkpoint comes without a gripper readout; planner.yaml's positive weight would refuse it.
        "--planner-param", "gripper_goal_weight:=0.0",
        "--sim-param", "image_size:=64", "--sim-param", "publish_rate_hz:=5.0",
    ])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    summary = re.search(r"planner commands: (\d+); sim commands executed: (\d+), EE moved ([\d.]+) m", output)
    assert summary, output[-4000:]
    commands, executed, moved = int(summary[1]), int(summary[2]), float(summary[3])
    assert commands >= 3 and executed >= 2 and moved > 0.0, summary[0]
    assert "world model ready" in output and "published goal image rendered" in output


def test_runner_reports_missing_files_clearly(tmp_path):
    result = _run(["--goal", str(tmp_path / "nope.png"), "--duration", "1"], timeout=60)
    assert result.returncode == 2 and "goal image not found" in result.stderr
    result = _run(["--config-dir", str(tmp_path), "--duration", "1"], timeout=60)
    assert result.returncode == 2 and "parameter file not found" in result.stderr

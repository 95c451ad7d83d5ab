"""Soak: 30 Hz camera frames, with hostile messages mixed in, while the planner plans continuously; memory
and latency must not grow, the node stays up and no command leaves its bounds.

The camera, EE pose and finger joints come from a separate process (`soak_sensor_process.py`), as a real
camera driver would; the planner node runs in this process with its default torch thread setting, the
real V-JEPA 2-AC WorldModel architecture at toy size, and the real CEM planner, so encoding and rollouts
compete with the image callbacks for the GIL and the CPUs as they would on a robot.

The default test run soaks for 60 s; `make soak` runs 600 s; VJEPA_AC_SOAK_SECONDS sets any length.
Every HOSTILE_EVERY_S seconds the camera process replaces one message by the next of issue 21's hostile
cases (a 3-byte image declaring 4 GiB, a 4000x4000 frame, a stamp 1000 s ahead, a pose 100 m away, a
non-unit quaternion, fingers at -5 m and +5 m, one finger only, a bad goal followed by a valid one).
With rclpy's MultiThreadedExecutor this test was bimodal on the 2-core machine (99.6 % of frames and
1.98 Hz of plans in one run, 35 % and 0.45 Hz in the next); its spin thread was busy-looping (see
`vjepa_ac/ros/spinning.py`). With one single-threaded executor per node and planning in its own thread,
three idle runs and one with both cores otherwise busy received 96.5-99.9 % of the frames at 1.98 Hz of plans.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from ros_test_support import (
    RUN_ENV,
    Recorder,
    Spinner,
    parameter_overrides,
    rss_bytes,
    small_vjepa_world_model,
    synthetic_frame,
    thread_cpu_seconds,
    wait_for,
)
from sensor_msgs.msg import Image
from soak_sensor_process import MIXED_CASES
from std_msgs.msg import Float64MultiArray

from vjepa_ac.ros.diagnostics import OK
from vjepa_ac.ros.image_conversion import rgb_to_image_msg
from vjepa_ac.ros.planner_node import PlannerNode
from vjepa_ac.ros.qos import COMMAND_QOS, GOAL_QOS, VISUALIZATION_QOS

SOAK_SECONDS = float(os.environ.get("VJEPA_AC_SOAK_SECONDS", "60"))
CAMERA_HZ = 30.0
PLAN_HZ = 2.0
WARM_UP_SECONDS = 3.0
HOSTILE_EVERY_S = 5.0
L1_RADIUS = 0.075


@pytest.fixture(scope="module", autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.shutdown()


def _thirds(values):
    n = len(values) // 3
    return values[:n], values[-n:]


def _chunks(values, parts):
    size = max(1, len(values) // parts)
    return [values[i * size:(i + 1) * size] for i in range(parts) if values[i * size:(i + 1) * size]]


def _value(status, key) -> float:
    return float(next(kv.value for kv in status.values if kv.key == key))


@pytest.mark.soak
def test_soak_camera_at_30hz_while_planning():
    planner = PlannerNode(world_model=small_vjepa_world_model(), parameter_overrides=parameter_overrides({
        "samples": 64, "iterations": 3, "top_k": 8, "rate_hz": PLAN_HZ, "max_sensor_age_s": 0.5,
        "wait_for_new_frame": False,
    }))
    # Bounded recording: only counts and the figures the assertions need, so the test's own
    # bookkeeping does not show up as growth in the process RSS.
    recorder = Recorder("soak_recorder")
    out_of_bounds = []  # every command outside the L1 ball or the workspace box (bounded: a violation fails)
    box = (np.array(planner.settings.workspace_min), np.array(planner.settings.workspace_max))

    def on_delta(msg):
        if not float(np.abs(np.array(msg.data[:3])).sum()) <= L1_RADIUS + 1e-9:
            out_of_bounds.append(("delta", list(msg.data)))

    def on_target(msg):
        xyz = np.array([msg.pose.position.x, msg.pose.position.y, msg.pose.position.z])
        if not (np.all(xyz >= box[0]) and np.all(xyz <= box[1])):
            out_of_bounds.append(("target", list(xyz)))

    recorder.create_subscription(Float64MultiArray, "command/delta", on_delta, COMMAND_QOS)
    recorder.create_subscription(PoseStamped, "command/target_pose", on_target, COMMAND_QOS)
    figures = []  # (camera_latency_s, plan_latency_s, arrival) of every "planning toward" status

    def on_diagnostics(array):
        for status in array.status:
            if status.name.startswith("vjepa_ac_planner") and status.level == OK \
                    and status.message.startswith("planning toward"):
                figures.append((_value(status, "camera_latency_s"), _value(status, "plan_latency_s"),
                                time.monotonic()))

    recorder.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, VISUALIZATION_QOS)
    goal_pub = recorder.create_publisher(Image, "goal_image", GOAL_QOS)

    rss_samples = []
    received_samples = []  # (monotonic time, frames the planner has received so far)
    camera = None
    spinner = Spinner(planner, recorder)
    with spinner:
        goal_pub.publish(rgb_to_image_msg(synthetic_frame(size=256, shift=40), "camera"))
        camera = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("soak_sensor_process.py")), "--rate", str(CAMERA_HZ),
             "--seconds", str(WARM_UP_SECONDS + SOAK_SECONDS), "--size", "256", "--goal-size", "256",
             "--hostile-every", str(HOSTILE_EVERY_S)],
            env=RUN_ENV, stdout=subprocess.PIPE, text=True)
        try:
            assert json.loads(camera.stdout.readline()).get("ready"), "camera process did not start"
            assert wait_for(lambda: planner.commands_published > 0, 30.0), "no plan within 30 s of the first frames"
            time.sleep(WARM_UP_SECONDS)  # first plans, allocator settling
            commands_before = planner.commands_published
            figures_before = len(figures)
            cpu_before = thread_cpu_seconds()
            soak_start = time.monotonic()
            while camera.poll() is None and time.monotonic() < soak_start + SOAK_SECONDS + 60:
                rss_samples.append(rss_bytes())
                received_samples.append((time.monotonic(), planner.camera_frames_received))
                time.sleep(0.5)
            soak_end = time.monotonic()
            cpu_after = thread_cpu_seconds()
            camera_report = json.loads(camera.communicate(timeout=30)[0].strip().splitlines()[-1])
            time.sleep(0.5)  # the last frames in flight
            received = planner.camera_frames_received
            commands = planner.commands_published - commands_before
            soak_figures = figures[figures_before:]
            alive = spinner.running and spinner.error is None and planner._planning.is_alive()
        finally:
            if camera.poll() is None:
                camera.kill()
    planner.destroy_node()
    recorder.destroy_node()

    sent, camera_seconds = camera_report["images_sent"], camera_report["seconds"]
    soak_seconds = soak_end - soak_start
    latencies = [latency for latency, _, _ in soak_figures]
    plan_seconds = [plan for _, plan, _ in soak_figures]
    longest_gap = max(np.diff([soak_start] + [t for _, _, t in soak_figures] + [soak_end]))
    rss_first, rss_last = _thirds(rss_samples)
    counts_first, counts_last = _thirds(received_samples)
    rate_first = (counts_first[-1][1] - counts_first[0][1]) / (counts_first[-1][0] - counts_first[0][0])
    rate_last = (counts_last[-1][1] - counts_last[0][1]) / (counts_last[-1][0] - counts_last[0][0])
    lat_first, lat_last = _thirds(latencies)
    thread_shares = sorted(((cpu_after[t] - cpu_before.get(t, 0.0)) / soak_seconds for t in cpu_after), reverse=True)
    report = (
        f"{soak_seconds:.0f} s: camera process sent {sent} frames in {camera_seconds:.0f} s "
        f"({camera_report['rate_hz']:.1f} Hz), planner received {received} ({rate_first:.1f} Hz in the first third, "
        f"{rate_last:.1f} Hz in the last); commands {commands} "
        f"({commands / soak_seconds:.2f} Hz, torch threads {planner.torch_threads}); plan latency median "
        f"{statistics.median(plan_seconds) * 1e3:.0f} ms; camera latency median first/last third "
        f"{statistics.median(lat_first) * 1e3:.1f}/{statistics.median(lat_last) * 1e3:.1f} ms, max "
        f"{max(latencies) * 1e3:.1f} ms; longest gap between plans {longest_gap:.2f} s; RSS median first/last "
        f"third {statistics.median(rss_first) / 2**20:.1f}/{statistics.median(rss_last) / 2**20:.1f} MiB "
        f"(by sixths: {', '.join(f'{statistics.median(c) / 2**20:.1f}' for c in _chunks(rss_samples, 6))}); "
        f"CPU of this process {sum(thread_shares):.0%} of one core, busiest threads "
        f"{', '.join(f'{share:.0%}' for share in thread_shares[:5])}; hostile messages "
        f"{sum(camera_report.get('hostile_sent', {}).values())} ({camera_report.get('hostile_sent')}); commands "
        f"out of bounds {len(out_of_bounds)}; plans dropped {planner._status.counts['commands_dropped']}"
    )
    print(report)
    assert alive, f"planner stopped: {spinner.error!r}"
    assert not out_of_bounds, out_of_bounds[:5]
    if SOAK_SECONDS >= HOSTILE_EVERY_S * len(MIXED_CASES):
        assert set(camera_report["hostile_sent"]) == set(MIXED_CASES), report
    assert sent >= 0.8 * CAMERA_HZ * camera_seconds, report  # the camera process itself kept up
    # Best effort, keep last 1: a frame that arrives while the previous one is being stored is dropped
    # by design (the planner only ever uses the newest). Measured 96.5-99.9 %, idle and loaded.
    assert received >= 0.9 * sent, report
    assert rate_last >= 0.8 * rate_first, report  # no decline: nothing piles up in the image path
    # Planning never stalls and keeps at least half the rate its own plan time allows.
    assert longest_gap < 10.0, f"no plan for {longest_gap:.1f} s; {report}"
    achievable = soak_seconds / max(1.0 / PLAN_HZ, statistics.median(plan_seconds))
    assert commands >= 0.5 * achievable, report
    assert statistics.median(rss_last) - statistics.median(rss_first) < 20 * 2**20, report
    assert statistics.median(lat_last) < statistics.median(lat_first) + 0.010, report
    assert statistics.median(lat_last) < 0.050, report

"""Issue 21's hostile-input cases and stop latencies, measured against the planner node as users run it.

The planner runs as its console entry point (embedded model, config/planner.yaml plus the overrides
below) in one process, the robot (tests/soak_sensor_process.py) in another, and this script records
commands and diagnostics over DDS. Per case it reports the planner's RSS and peak RSS (VmHWM), the
longest stall of its executor (a get_parameters call answered late), whether it is still alive, what it
diagnosed, and how many commands went out. Stop latency: commands are flowing, the stop lands at a random
point of a plan (uniform over one plan time), and the latency is the arrival of the last command after
the stop, counted from the stop (the robot's last camera/pose message, or the answer to ~/enable false);
0 when no command came after it.

    .venv/bin/python bench/stop_latency.py --tries 20 --out docs/results/safety/stop_latency.json
    .venv/bin/python bench/stop_latency.py --code-root /tmp/issue21_before --out /tmp/stop_latency_before.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ros_test_support import HostileRig, wait_for  # noqa: E402

# ~1 s plans on one core: long enough that a stop usually lands while a plan is in flight.
PLANNER_PARAMS = {"samples": 400, "iterations": 8, "torch_threads": 1, "rate_hz": 2.0, "max_sensor_age_s": 0.5}
SEED = 100021  # development range: stop offsets


def big_png(path: Path, side: int = 12000) -> Path:
    """A 12000x12000 PNG that is small on disk (one colour compresses well)."""
    if not path.exists():
        from PIL import Image

        Image.new("RGB", (side, side), (90, 120, 60)).save(path, optimize=True)
    return path


def level(status) -> int:
    return status.level[0] if isinstance(status.level, bytes) else int(status.level)


def wait_command(rig, timeout: float = 60.0) -> bool:
    count = len(rig.command_times())
    return wait_for(lambda: len(rig.command_times()) > count, timeout)


def set_parameter(rig, name: str, value) -> bool:
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    response = rig.call(SetParameters, "set_parameters",
                        SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()]))
    return response is not None and all(r.successful for r in response.results)


def case_memory(rig, send, settle_s: float) -> dict:
    """Run `send()` under the stall probe; memory before and after, what the planner said."""
    before = rig.memory()
    diagnostics_before = len(rig.statuses())
    with rig.stall_probe() as probe:
        time.sleep(0.3)
        started = time.monotonic()
        detail = send()
        time.sleep(settle_s)
    after = rig.memory() if rig.alive() else {}
    said = sorted({s.message[:160] for s in rig.statuses()[diagnostics_before:] if level(s) > 0})
    return {"rss_before_mib": before["VmRSS"] / 2**20, "rss_after_mib": after.get("VmRSS", 0) / 2**20,
            "peak_rss_mib": after.get("VmHWM", 0) / 2**20, "peak_rss_before_mib": before["VmHWM"] / 2**20,
            "stall_s": probe.longest, "alive": rig.alive(), "seconds": time.monotonic() - started,
            "diagnostics": said[:6], **(detail or {})}


def case_huge_step(rig) -> dict:
    result = case_memory(rig, lambda: rig.send(cmd="hostile", case="huge_step", seconds=0) and None, 10.0)
    if rig.alive():
        result["goal"] = case_memory(rig, lambda: rig.send(cmd="hostile", case="huge_step_goal") and None, 10.0)
        rig.send(cmd="goal", case="valid")
    return result


def case_file(rig, png: Path) -> dict:
    from std_srvs.srv import Trigger

    assert set_parameter(rig, "goal_image_path", str(png))

    def load():
        started = time.monotonic()
        response = rig.call(Trigger, "load_goal_from_file", Trigger.Request(), timeout=120.0)
        return {"service_s": time.monotonic() - started,
                "response": None if response is None else [response.success, response.message[:160]]}

    result = case_memory(rig, load, 2.0)
    set_parameter(rig, "goal_image_path", "")
    rig.send(cmd="goal", case="valid")
    return result


def case_sustained(rig, case: str, seconds: float = 3.0) -> dict:
    """Every message of the case's stream rewritten for `seconds`: commands and diagnostics meanwhile."""
    event = rig.send(cmd="hostile", case=case, seconds=seconds)
    time.sleep(0.3)
    first, last = event["first_sent"], event["last_sent"]
    during = [t for t in rig.command_times() if first + 0.05 < t <= last + 0.3]
    with rig.recorder._lock:
        pairs = list(zip(rig.recorder.messages["command/target_pose"], rig.recorder.arrivals["command/target_pose"],
                         strict=False))
    targets = [m.pose.position.x for m, t in pairs if first + 0.05 < t <= last + 0.3]
    statuses = rig.statuses()
    said = sorted({s.message[:120] for s in statuses[-40:] if level(s) > 0})
    latencies = [float(kv.value) for s in statuses[-40:] for kv in s.values if kv.key == "camera_latency_s"]
    result = {"commands_during": len(during), "max_target_x": max(targets, default=None),
              "diagnostics": said[:6], "alive": rig.alive(),
              "min_camera_latency_s": min((v for v in latencies if v == v), default=None)}
    wait_command(rig, 30.0)
    return result


def stop_try(rig, kind: str, plan_s: float, max_age: float, rng: random.Random) -> dict:
    from std_srvs.srv import SetBool

    assert wait_command(rig, 60.0), rig.messages()
    time.sleep(rng.uniform(0.0, plan_s))
    if kind == "enable":
        response = rig.call(SetBool, "enable", SetBool.Request(data=False))
        stopped = time.monotonic()
        assert response is not None and response.success, response
    else:
        stopped = rig.send(cmd="stop", stream=kind)["last_sent"]
    time.sleep(max_age + plan_s + 1.5)
    after = [t - stopped for t in rig.command_times() if t > stopped]
    stale_at = [t - stopped for t in rig.status_times("stale") if t > stopped]
    if kind == "enable":
        rig.call(SetBool, "enable", SetBool.Request(data=True))
    else:
        rig.send(cmd="start", stream=kind)
    return {"commands_after": len(after), "last_after_s": max(after, default=0.0),
            "first_stale_diagnostic_s": min(stale_at, default=None)}


def summarize(tries: list[dict]) -> dict:
    values = [t["last_after_s"] for t in tries]
    return {"tries": len(tries), "median_s": statistics.median(values), "max_s": max(values),
            "tries_with_commands_after": sum(t["commands_after"] > 0 for t in tries),
            "commands_after_total": sum(t["commands_after"] for t in tries), "each": tries}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--cases", default="huge_step,file,implausible,small,stops")
    parser.add_argument("--code-root", type=Path, default=None, help="checkout whose planner to run")
    parser.add_argument("--out", type=Path, default=Path("bench/results/stop_latency.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import rclpy

    rclpy.init()
    cases = args.cases.split(",")
    from vjepa_ac.evaluation.provenance import run_provenance

    results: dict = {"provenance": run_provenance(None),
                     "planner_params": PLANNER_PARAMS, "code_root": str(args.code_root or "."),
                     "load_average_start": os.getloadavg()}
    rng = random.Random(SEED)
    rig = HostileRig(PLANNER_PARAMS, code_root=args.code_root)
    try:
        assert wait_for(lambda: len(rig.command_times()) >= 3, 180.0), rig.messages() + [rig.planner_log()]
        times = rig.command_times()
        plan_s = statistics.median(b - a for a, b in zip(times, times[1:], strict=False))
        results["command_period_s"] = plan_s
        max_age = PLANNER_PARAMS["max_sensor_age_s"]
        print(f"commands every {plan_s:.2f} s", flush=True)

        def record(name, value):
            results[name] = value
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
            if isinstance(value, dict):  # the per-try lists stay in the file
                value = {k: {x: y for x, y in v.items() if x != "each"} if isinstance(v, dict) else v
                         for k, v in value.items()}
            print(name, json.dumps(value), flush=True)

        if "implausible" in cases:
            record("implausible", {case: case_sustained(rig, case) for case in
                                   ("pose_far", "bad_quaternion", "fingers_negative", "fingers_large", "one_finger")})
        if "small" in cases:
            small = {case: case_sustained(rig, case, 2.0) for case in ("large_camera", "future_stamp")}
            small["services"] = service_burst(rig)
            record("small", small)
        if "stops" in cases:
            stops = {}
            for kind in ("camera", "pose", "enable"):
                stops[kind] = summarize([stop_try(rig, kind, plan_s, max_age, rng) for _ in range(args.tries)])
            stops["target_s"] = max_age + 0.1
            record("stops", stops)
        if "file" in cases:
            record("file", case_file(rig, big_png(Path(tempfile.mkdtemp(prefix="vjepa_ac_")) / "12000px.png")))
        if "huge_step" in cases:
            record("huge_step", case_huge_step(rig))
        results["alive_at_end"] = rig.alive()
        results["load_average_end"] = os.getloadavg()
        record("alive_at_end", rig.alive())
    finally:
        rig.close()
        rclpy.shutdown()
    return 0


def service_burst(rig) -> dict:
    """100 ~/enable and 200 ~/reset requests sent at once; how many are answered within 30 s."""
    from std_srvs.srv import SetBool, Trigger

    answered = {}
    for name, srv, request, count in (("enable", SetBool, SetBool.Request(data=True), 100),
                                      ("reset", Trigger, Trigger.Request(), 200)):
        client = rig.client(srv, name)
        assert client.wait_for_service(timeout_sec=10.0)
        futures = [client.call_async(request) for _ in range(count)]
        wait_for(lambda futures=futures: all(f.done() for f in futures), 30.0)
        answered[name] = f"{sum(f.done() for f in futures)}/{count}"
        rig.recorder.destroy_client(client)
    return answered


if __name__ == "__main__":
    sys.exit(main())

"""The soak test's robot: camera frames, EE pose and finger joints at a fixed rate, in a process of its own.

A real camera driver is a separate process; publishing from the planner's own process would measure the
GIL contention of the test's feeder instead of the planner's image path. Runs until SIGTERM/SIGINT or
`--seconds`, then prints one JSON line with what it sent.

    python tests/soak_sensor_process.py --rate 30 --seconds 60 --size 256
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)

    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from ros_test_support import SensorFeeder, synthetic_frame

    rclpy.init()
    feeder = SensorFeeder("soak_sensor_feeder", rate_hz=args.rate)
    feeder.image = synthetic_frame(size=args.size)
    executor = SingleThreadedExecutor()
    executor.add_node(feeder)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(json.dumps({"ready": True}), flush=True)
    started = time.monotonic()
    while not stop.is_set() and time.monotonic() - started < args.seconds:
        executor.spin_once(timeout_sec=0.05)
    seconds = time.monotonic() - started
    print(json.dumps({"images_sent": feeder.images_sent, "seconds": round(seconds, 3),
                      "rate_hz": round(feeder.images_sent / max(seconds, 1e-9), 2)}), flush=True)
    executor.shutdown()
    feeder.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

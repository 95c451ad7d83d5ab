"""The robot for the soak and hostile-input runs: camera frames, EE pose and finger joints at a fixed rate,
in a process of its own.

A real camera driver is a separate process; publishing from the planner's own process would measure the
GIL contention of the test's feeder instead of the planner's image path. Runs until SIGTERM/SIGINT,
`--seconds` or a `quit` command, then prints one JSON line with what it sent.

    python tests/soak_sensor_process.py --rate 30 --seconds 60 --size 256
    python tests/soak_sensor_process.py --control --goal-size 128      # commands on stdin, events on stdout
    python tests/soak_sensor_process.py --hostile-every 5              # hostile cases mixed into the stream

Commands (one JSON object per stdin line; each answered by one JSON event line, times are
time.monotonic(), the same clock in every process of the machine):
  {"cmd": "stop", "stream": "camera"|"pose"|"fingers"}  -> {"event": "stopped", "last_sent": t}
  {"cmd": "start", "stream": ...}                       -> {"event": "started", "first_sent": t}
  {"cmd": "hostile", "case": NAME, "seconds": s}        -> every message of the case's stream rewritten for s
                                                           seconds (0: the next one only); {"first_sent", "last_sent"}
  {"cmd": "goal", "case": "valid"|NAME}                 -> publishes a goal image; {"sent": t}
  {"cmd": "quit"}
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The cases mixed into a valid stream by --hostile-every (one message each; a bad goal is followed by a valid one).
# The 48 MB frame comes first: DDS keeps a buffer of the largest sample it has received, a one-time step in RSS
# that should fall before the soak's first third ends.
MIXED_CASES = ("large_camera", "huge_step", "future_stamp", "pose_far", "bad_quaternion", "fingers_negative",
               "fingers_large", "one_finger", "huge_step_goal", "oversize_camera")


class Robot:
    """A SensorFeeder plus the commands above; the feeder's timer thread does all publishing."""

    def __init__(self, args):
        from ros_test_support import HOSTILE_CASES, SensorFeeder, synthetic_frame
        from sensor_msgs.msg import Image

        from vjepa_ac.ros.qos import GOAL_QOS

        self.cases = HOSTILE_CASES
        self.feeder = SensorFeeder("soak_sensor_feeder", rate_hz=args.rate)
        self.feeder.image = synthetic_frame(size=args.size)
        self.saved = {"camera": self.feeder.image, "pose": self.feeder.pose_xyzq, "fingers": self.feeder.fingers}
        self.goal_size = args.goal_size
        self.goal_pub = self.feeder.create_publisher(Image, "goal_image", GOAL_QOS)
        self.out_lock = threading.Lock()
        self.hostile_sent = {name: 0 for name in HOSTILE_CASES}
        self.rate = args.rate

    def emit(self, **event) -> None:
        with self.out_lock:
            print(json.dumps(event), flush=True)

    def _set_stream(self, stream: str, on: bool) -> None:
        attribute = {"camera": "image", "pose": "pose_xyzq", "fingers": "fingers"}[stream]
        setattr(self.feeder, attribute, self.saved[stream] if on else None)

    def _hook_attribute(self, stream: str) -> str:
        return {"camera": "image_msg_hook", "pose": "pose_msg_hook", "fingers": "joints_msg_hook"}[stream]

    def publish_goal(self, case: str) -> float:
        from ros_test_support import synthetic_frame

        from vjepa_ac.ros.image_conversion import rgb_to_image_msg

        msg = rgb_to_image_msg(synthetic_frame(size=self.goal_size, shift=40), "camera")
        if case != "valid":
            msg = self.cases[case][1](msg)
            self.hostile_sent[case] += 1
        self.goal_pub.publish(msg)
        return time.monotonic()

    def hostile(self, case: str, seconds: float) -> tuple[float, float]:
        """Rewrite the case's stream for `seconds` (0: exactly one message); returns first/last send times."""
        stream, rewrite, _ = self.cases[case]
        if stream == "goal":
            sent = self.publish_goal(case)
            return sent, sent
        sent_times = []

        def hook(msg):
            sent_times.append(time.monotonic())
            self.hostile_sent[case] += 1
            return rewrite(msg)

        attribute = self._hook_attribute(stream)
        setattr(self.feeder, attribute, hook)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or not sent_times:
            time.sleep(0.002)
        setattr(self.feeder, attribute, None)
        return sent_times[0], sent_times[-1]

    def command(self, line: str) -> bool:
        """Handle one command line; False on quit."""
        request = json.loads(line)
        cmd = request.get("cmd")
        if cmd == "quit":
            return False
        if cmd == "stop":
            self._set_stream(request["stream"], False)
            time.sleep(2.5 / self.rate)  # a publication already under way has finished
            self.emit(event="stopped", stream=request["stream"], last_sent=self.feeder.last_sent.get(request["stream"]))
        elif cmd == "start":
            before = self.feeder.last_sent.get(request["stream"], 0.0)
            self._set_stream(request["stream"], True)
            while self.feeder.last_sent.get(request["stream"], 0.0) == before:
                time.sleep(0.002)
            self.emit(event="started", stream=request["stream"], first_sent=self.feeder.last_sent[request["stream"]])
        elif cmd == "hostile":
            first, last = self.hostile(request["case"], float(request.get("seconds", 0.0)))
            self.emit(event="hostile", case=request["case"], first_sent=first, last_sent=last)
        elif cmd == "goal":
            self.emit(event="goal", case=request.get("case", "valid"), sent=self.publish_goal(request.get("case", "valid")))
        else:
            self.emit(event="error", message=f"unknown command {line.strip()!r}")
        return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--control", action="store_true", help="read commands from stdin")
    parser.add_argument("--goal-size", type=int, default=0, help="publish a valid goal of this size at start")
    parser.add_argument("--hostile-every", type=float, default=0.0,
                        help="every this many seconds, replace one message by the next hostile case")
    args = parser.parse_args(argv)

    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    rclpy.init()
    robot = Robot(args)
    executor = SingleThreadedExecutor()
    executor.add_node(robot.feeder)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    def spin():
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)

    def read_commands():
        for line in sys.stdin:
            if line.strip() and not robot.command(line):
                break
        stop.set()

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    if args.goal_size:
        robot.publish_goal("valid")
    robot.emit(ready=True)
    started = time.monotonic()
    if args.control:
        threading.Thread(target=read_commands, daemon=True).start()
    mixed = itertools.cycle(MIXED_CASES)
    next_hostile = started + args.hostile_every
    while not stop.is_set() and time.monotonic() - started < args.seconds:
        if args.hostile_every and time.monotonic() >= next_hostile:
            case = next(mixed)
            robot.hostile(case, 0.0)
            if case.endswith("_goal"):
                time.sleep(0.5)
                robot.publish_goal("valid")  # the planner stops on a bad goal until a valid one comes
            next_hostile += args.hostile_every
        time.sleep(0.01)
    stop.set()
    spinner.join(timeout=5.0)
    seconds = time.monotonic() - started
    robot.emit(images_sent=robot.feeder.images_sent, seconds=round(seconds, 3),
               rate_hz=round(robot.feeder.images_sent / max(seconds, 1e-9), 2),
               hostile_sent={k: v for k, v in robot.hostile_sent.items() if v})
    executor.shutdown()
    robot.feeder.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

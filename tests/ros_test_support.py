"""Shared pieces of the ROS tests: DDS isolation, a small real world model, spinning and recording.

Everything goes through real rclpy over DDS; only the world model is small (it still runs the real
CEM planner), so a test takes seconds on two CPU cores.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path

# A private DDS domain per pytest process, discovery on this host only: parallel runs never mix. Child
# processes started from a test inherit the parent's domain through VJEPA_AC_TEST_DOMAIN_ID.
os.environ["ROS_DOMAIN_ID"] = os.environ.setdefault("VJEPA_AC_TEST_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from vjepa_ac.ros.spinning import NodeSpinners  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
# Child processes (nodes, CLIs) see this checkout even when vjepa_ac is not pip-installed.
RUN_ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "MUJOCO_GL": os.environ.get("MUJOCO_GL", "osmesa"),
    "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
}


class TinyWorldModel(torch.nn.Module):
    """Real (not mocked) world model with the `WorldModel` contract, small enough for CPU tests.

    Tokens are layer-normed projections of 4x4 average-pooled colour patches; the rollout shifts them by
    a fixed per-token linear function of the summed actions, so CEM has a real landscape to search.
    """

    image_size = 32
    tokens_per_frame = 16
    embed_dim = 8

    def __init__(self, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.patch_projection = torch.nn.Parameter(torch.randn(3, self.embed_dim, generator=generator))
        # A global colour term makes every token move when anything in the image moves (no flat L1 kinks).
        self.global_projection = torch.nn.Parameter(20.0 * torch.randn(3, self.embed_dim, generator=generator))
        # Per-token action effects (scaled so a few cm matter): the best action is a real least-squares fit.
        self.action_effect = torch.nn.Parameter(
            0.5 * torch.randn(7, self.tokens_per_frame, self.embed_dim, generator=generator)
        )
        self.encode_calls = 0

    @property
    def device(self):
        return torch.device("cpu")

    @property
    def dtype(self):
        return torch.float32

    @torch.no_grad()
    def encode(self, images) -> torch.Tensor:
        array = np.asarray(images)
        if array.ndim == 3:
            array = array[None]
        assert array.dtype == np.uint8 and array.shape[-1] == 3, (array.dtype, array.shape)
        self.encode_calls += 1
        x = torch.from_numpy(array.copy()).float().permute(0, 3, 1, 2) / 255.0
        pooled = torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(2).transpose(1, 2)  # [B, 16, 3]
        global_colour = x.mean(dim=(2, 3))[:, None, :]  # [B, 1, 3]
        features = pooled @ self.patch_projection + global_colour @ self.global_projection
        return torch.nn.functional.layer_norm(features, (self.embed_dim,))

    @torch.no_grad()
    def rollout(self, tokens, state, actions) -> torch.Tensor:
        shift = torch.einsum("ba,atd->btd", actions.to(torch.float32).sum(dim=1), self.action_effect)
        return torch.nn.functional.layer_norm(tokens + shift, (self.embed_dim,))


# Small CEM so a plan takes milliseconds; everything else as in config/planner.yaml.
FAST_PLANNER_PARAMETERS = {
    "samples": 32,
    "iterations": 2,
    "top_k": 4,
    "rate_hz": 10.0,
    "max_sensor_age_s": 1.0,
    "wait_for_new_frame": False,
    "gripper_goal_weight": 0.0,  # random tiny models: the image energy alone
}


def parameter_overrides(values: dict) -> list[Parameter]:
    return [Parameter(name, value=value) for name, value in values.items()]


class Recorder(Node):
    """Subscribes to topics and keeps every message with its arrival time (monotonic seconds)."""

    def __init__(self, name: str = "test_recorder"):
        super().__init__(name)
        self.messages: dict[str, list] = defaultdict(list)
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def record(self, msg_type, topic: str, qos, keep_all: bool = True):
        """keep_all=False keeps only the newest message (bounded memory for soak runs)."""

        def callback(msg):
            with self._lock:
                self.counts[topic] += 1
                if keep_all:
                    self.messages[topic].append(msg)
                    self.arrivals[topic].append(time.monotonic())
                else:
                    self.messages[topic] = [msg]

        self.create_subscription(msg_type, topic, callback, qos)
        return self

    def count(self, topic: str) -> int:
        with self._lock:
            return self.counts[topic]

    def latest(self, topic: str):
        with self._lock:
            return self.messages[topic][-1] if self.messages[topic] else None

    def all(self, topic: str) -> list:
        with self._lock:
            return list(self.messages[topic])

    def diagnostics_of(self, node_name: str) -> list:
        """DiagnosticStatus entries whose name starts with the node name."""
        return [s for array in self.all("/diagnostics") for s in array.status if s.name.startswith(node_name)]


class Spinner(NodeSpinners):
    """The nodes spinning in background threads for the duration of a test, as `spin_nodes` runs them."""


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def call_service(node: Node, srv_type, name: str, request, timeout: float = 10.0):
    """Call a service from a node that a Spinner already spins; returns the response or None."""
    client = node.create_client(srv_type, name)
    if not client.wait_for_service(timeout_sec=timeout):
        return None
    future = client.call_async(request)
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    node.destroy_client(client)
    return future.result() if future.done() else None


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def thread_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by thread id (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    result = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        result[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return result


def synthetic_frame(size: int = 64, shift: int = 0) -> np.ndarray:
    """A colourful uint8 RGB test image; `shift` moves a bright square."""
    yy, xx = np.mgrid[0:size, 0:size]
    frame = np.stack([xx * 255 // size, yy * 255 // size, np.full_like(xx, 80)], axis=-1).astype(np.uint8)
    s = size // 4
    x0 = (size // 8 + shift) % (size - s)
    frame[s : 2 * s, x0 : x0 + s] = (255, 255, 0)
    return frame


class SensorFeeder(Node):
    """Plays the robot: publishes a camera frame, an EE pose and finger joint states at a fixed rate.

    Set `image`, `pose_xyzq`, `fingers` to change what goes out (None = publish nothing on that topic);
    `image_msg_hook(msg)` may corrupt each outgoing image; `image_stamp_age_s` back-dates the image stamps.
    """

    def __init__(self, name: str = "test_sensor_feeder", rate_hz: float = 20.0):
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import Image, JointState

        from vjepa_ac.ros.qos import SENSOR_QOS

        super().__init__(name)
        self.image = synthetic_frame()
        self.pose_xyzq = (0.45, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0)  # gripper pointing down (x, y, z, qx, qy, qz, qw)
        self.fingers = (0.04, 0.04)
        self.finger_names = ["panda_finger_joint1", "panda_finger_joint2"]
        self.image_msg_hook = None
        self.pose_msg_hook = None
        self.joints_msg_hook = None
        self.image_stamp_age_s = 0.0
        self.images_sent = 0
        self.last_sent: dict[str, float] = {}  # topic -> time.monotonic() of its newest publication
        self._image_pub = self.create_publisher(Image, "camera/image", SENSOR_QOS)
        self._pose_pub = self.create_publisher(PoseStamped, "ee_pose", SENSOR_QOS)
        self._fingers_pub = self.create_publisher(JointState, "gripper/joint_states", SENSOR_QOS)
        self._types = (Image, PoseStamped, JointState)
        self.create_timer(1.0 / rate_hz, self.publish_once)

    def _stamp(self, age_s: float = 0.0):
        from rclpy.duration import Duration

        return (self.get_clock().now() - Duration(seconds=age_s)).to_msg()

    def publish_once(self):
        from vjepa_ac.ros.image_conversion import rgb_to_image_msg

        _, PoseStamped, JointState = self._types
        stamp = self._stamp()
        if self.image is not None:
            msg = rgb_to_image_msg(self.image, "camera", self._stamp(self.image_stamp_age_s))
            if self.image_msg_hook is not None:
                msg = self.image_msg_hook(msg)
            self._image_pub.publish(msg)
            self.images_sent += 1
            self.last_sent["camera"] = time.monotonic()
        if self.pose_xyzq is not None:
            pose = PoseStamped()
            pose.header.stamp, pose.header.frame_id = stamp, "panda_link0"
            p, q = pose.pose.position, pose.pose.orientation
            p.x, p.y, p.z, q.x, q.y, q.z, q.w = (float(v) for v in self.pose_xyzq)
            if self.pose_msg_hook is not None:
                pose = self.pose_msg_hook(pose)
            self._pose_pub.publish(pose)
            self.last_sent["pose"] = time.monotonic()
        if self.fingers is not None:
            joints = JointState()
            joints.header.stamp = stamp
            joints.name = list(self.finger_names)
            joints.position = [float(v) for v in self.fingers]
            if self.joints_msg_hook is not None:
                joints = self.joints_msg_hook(joints)
            self._fingers_pub.publish(joints)
            self.last_sent["fingers"] = time.monotonic()


def command_recorder(name: str = "test_recorder", keep_all: bool = True) -> Recorder:
    """A Recorder on every planner output (diagnostics always kept in full)."""
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Path
    from std_msgs.msg import Float64, Float64MultiArray
    from visualization_msgs.msg import MarkerArray

    from vjepa_ac.ros.qos import COMMAND_QOS, VISUALIZATION_QOS

    recorder = Recorder(name)
    recorder.record(Float64MultiArray, "command/delta", COMMAND_QOS, keep_all)
    recorder.record(PoseStamped, "command/target_pose", COMMAND_QOS, keep_all)
    recorder.record(Float64, "command/gripper", COMMAND_QOS, keep_all)
    recorder.record(Path, "planned_path", VISUALIZATION_QOS, keep_all)
    recorder.record(MarkerArray, "planned_path_markers", VISUALIZATION_QOS, keep_all)
    recorder.record(Float64, "energy", VISUALIZATION_QOS, keep_all)
    recorder.record(DiagnosticArray, "/diagnostics", VISUALIZATION_QOS)
    return recorder


def command_count(recorder: Recorder) -> int:
    return sum(recorder.count(t) for t in ("command/delta", "command/target_pose", "command/gripper"))


def image_key(image) -> bytes:
    import hashlib

    return hashlib.sha1(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).digest()


class RecordingSim:
    """Wraps a real `FrankaSim` and remembers which EE state every image it produced shows."""

    def __init__(self, sim):
        self.sim = sim
        self.poses_by_image: dict[bytes, np.ndarray] = {}
        self._lock = threading.Lock()

    def _remember(self, image, state):
        with self._lock:
            self.poses_by_image[image_key(image)] = np.array(state, dtype=np.float64)

    def _observed(self, obs):
        self._remember(obs.image, obs.ee_state)
        return obs

    def reset(self, seed, options=None):
        return self._observed(self.sim.reset(seed, options))

    def step(self, action):
        return self._observed(self.sim.step(action))

    def observe(self):
        return self._observed(self.sim.observe())

    def render_goal(self, ee_pose=None, object_poses=None):
        image = self.sim.render_goal(ee_pose=ee_pose, object_poses=object_poses)
        self._remember(image, ee_pose)
        return image

    def lookup(self, image) -> np.ndarray:
        with self._lock:
            return self.poses_by_image[image_key(image)]

    def __getattr__(self, name):
        return getattr(self.sim, name)


class OraclePoseWorldModel(torch.nn.Module):
    """World model with perfect perception: encode() looks the frame's EE pose up in a RecordingSim.

    The dynamics are the core's `PoseFeatureWorldModel` (tokens a smooth function of the pose), so the
    real CEM planner has a known optimum and the end-to-end test can check the arm approaches the goal.
    """

    def __init__(self, recording_sim: RecordingSim, image_size: int):
        from vjepa_ac.planning.pose_world_model import PoseFeatureWorldModel

        super().__init__()
        self.dynamics = PoseFeatureWorldModel(tokens_per_frame=16, embed_dim=32, position_scale=0.1, seed=0)
        self.recording_sim = recording_sim
        self.image_size = image_size
        self.tokens_per_frame = self.dynamics.tokens_per_frame
        self.embed_dim = self.dynamics.embed_dim

    @property
    def device(self):
        return self.dynamics.device

    @property
    def dtype(self):
        return self.dynamics.dtype

    def encode(self, images) -> torch.Tensor:
        array = np.asarray(images)
        if array.ndim == 3:
            array = array[None]
        states = torch.tensor(np.stack([self.recording_sim.lookup(image) for image in array]))
        return self.dynamics.tokens_for_state(states)

    def rollout(self, tokens, state, actions):
        return self.dynamics.rollout(tokens, state, actions)


def small_vjepa_world_model(image_size: int = 64, seed: int = 0):
    """The real `WorldModel` (RoPE ViT encoder + AC predictor) at toy width and depth, random weights."""
    from models_support import random_world_model

    torch.manual_seed(seed)
    return random_world_model(64, 2, 64, image_size=image_size).eval()


class PlannerRig:
    """Planner (tiny real model, real CEM) + fake robot + recorder, spinning for one test."""

    def __init__(self, planner_params=None, send_goal=True, **planner_kwargs):
        from sensor_msgs.msg import Image

        from vjepa_ac.ros.planner_node import PlannerNode
        from vjepa_ac.ros.qos import GOAL_QOS

        params = {**FAST_PLANNER_PARAMETERS, "max_sensor_age_s": 0.5, **(planner_params or {})}
        if "world_model_loader" not in planner_kwargs:
            planner_kwargs.setdefault("world_model", TinyWorldModel())
        self.planner = PlannerNode(parameter_overrides=parameter_overrides(params), **planner_kwargs)
        self.feeder = SensorFeeder()
        self.recorder = command_recorder()
        self.goal_pub = self.recorder.create_publisher(Image, "goal_image", GOAL_QOS)
        self.spinner = Spinner(self.planner, self.feeder, self.recorder)
        self.send_goal = send_goal

    def __enter__(self):
        from vjepa_ac.ros.image_conversion import rgb_to_image_msg

        self.spinner.__enter__()
        if self.send_goal:
            self.publish_goal(rgb_to_image_msg(synthetic_frame(shift=20), "camera"))
        return self

    def publish_goal(self, msg):
        self.goal_pub.publish(msg)

    def __exit__(self, *exc):
        self.spinner.__exit__(*exc)
        for node in (self.planner, self.feeder, self.recorder):
            node.destroy_node()

    def statuses(self):
        return self.recorder.diagnostics_of("vjepa_ac_planner")

    def has_status(self, level, text: str) -> bool:
        return any(s.level == level and text in s.message for s in self.statuses())

    def messages(self):
        return [s.message for s in self.statuses()[-5:]]


# ---- hostile inputs (issue 21): what a broken or malicious publisher can send -------------------------
# Each case rewrites one outgoing message of one stream; `soak_sensor_process.py` applies them from a
# process of its own, on command or mixed into its valid stream.

def _huge_step(msg):
    """3 bytes of data that declare a 4 GiB image (1 row of step 2**32-1)."""
    msg.height, msg.width, msg.encoding, msg.step = 1, 1, "rgb8", 2**32 - 1
    msg.data = b"\x01\x02\x03"
    return msg


_FRAMES: dict[tuple[int, int], bytes] = {}


def _frame_of_size(width: int, height: int):
    def rewrite(msg):
        if (width, height) not in _FRAMES:
            _FRAMES[width, height] = bytes(width * height * 3)
        msg.width, msg.height = width, height
        msg.encoding, msg.step = "rgb8", width * 3
        msg.data = _FRAMES[width, height]
        return msg

    return rewrite


# A real 4000x4000 rgb8 frame (48 MB): best-effort DDS loses it in transport (fragments dropped), so the
# planner sees only the loss. A 2000x1200 frame (7 MB) arrives and is above planner.yaml's 1920x1080 cap.
_large_camera = _frame_of_size(4000, 4000)
_oversize_camera = _frame_of_size(2000, 1200)


def _future_stamp(msg):
    msg.header.stamp.sec += 1000
    return msg


def _pose_far(msg):
    msg.pose.position.x = 100.0
    return msg


def _bad_quaternion(msg):
    q = msg.pose.orientation
    q.x, q.y, q.z, q.w = 1.05, 0.0, 0.0, 0.0  # 5 % off unit length
    return msg


def _fingers(value):
    def corrupt(msg):
        msg.position = [value] * len(msg.position)
        return msg

    return corrupt


def _one_finger(msg):
    msg.name, msg.position = list(msg.name)[:1], list(msg.position)[:1]
    return msg


# name -> (stream, message rewrite, words the planner's diagnostic must contain)
HOSTILE_CASES = {
    "huge_step": ("camera", _huge_step, "too large"),
    "large_camera": ("camera", _large_camera, "lost in transport: most likely too large"),
    "oversize_camera": ("camera", _oversize_camera, "too large"),
    "future_stamp": ("camera", _future_stamp, "in the future"),
    "pose_far": ("pose", _pose_far, "outside the workspace"),
    "bad_quaternion": ("pose", _bad_quaternion, "not unit length"),
    "fingers_negative": ("fingers", _fingers(-5.0), "outside"),
    "fingers_large": ("fingers", _fingers(5.0), "outside"),
    "one_finger": ("fingers", _one_finger, "finger"),
    "huge_step_goal": ("goal", _huge_step, "too large"),
}


def process_memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


DEEP_SERVICE_QOS_DEPTH = 1000


class HostileRig:
    """The planner as users run it (its console entry point, the embedded model, config/planner.yaml plus
    `planner_params`) in one process, the robot (`soak_sensor_process.py --control`) in another, and a
    recorder of commands and diagnostics in this one. `code_root` runs another checkout's planner."""

    NODE = "/vjepa_ac_planner"

    def __init__(self, planner_params: dict, rate_hz: float = 30.0, size: int = 128, goal_size: int = 128,
                 code_root: Path | None = None):
        import subprocess
        import sys

        from diagnostic_msgs.msg import DiagnosticArray

        from vjepa_ac.ros.qos import VISUALIZATION_QOS

        root = Path(code_root or REPO_ROOT)
        env = {**RUN_ENV, "PYTHONPATH": os.pathsep.join([str(root), RUN_ENV["PYTHONPATH"]])}
        overrides = [arg for name, value in planner_params.items() for arg in ("-p", f"{name}:={value}")]
        self.planner = subprocess.Popen(
            [sys.executable, "-m", "vjepa_ac.ros.planner_node", "--ros-args", "--params-file",
             str(REPO_ROOT / "config" / "planner.yaml"), *overrides],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.robot = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("soak_sensor_process.py")), "--control", "--rate",
             str(rate_hz), "--size", str(size), "--goal-size", str(goal_size)],
            env=RUN_ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.recorder = command_recorder("hostile_recorder")
        self.recorder.record(DiagnosticArray, "/diagnostics", VISUALIZATION_QOS)
        self.spinner = Spinner(self.recorder).start()
        self._stderr_lines: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        import json

        ready = json.loads(self.robot.stdout.readline())
        assert ready.get("ready"), ready

    def _drain_stderr(self) -> None:
        for line in self.planner.stderr:
            self._stderr_lines.append(line)
            del self._stderr_lines[:-200]

    def planner_log(self) -> str:
        return "".join(self._stderr_lines[-40:])

    def send(self, **command) -> dict:
        import json

        self.robot.stdin.write(json.dumps(command) + "\n")
        self.robot.stdin.flush()
        return json.loads(self.robot.stdout.readline())

    def alive(self) -> bool:
        return self.planner.poll() is None

    def memory(self) -> dict[str, int]:
        return process_memory(self.planner.pid)

    def command_times(self, topic: str = "command/delta") -> list[float]:
        with self.recorder._lock:
            return list(self.recorder.arrivals[topic])

    def statuses(self):
        return self.recorder.diagnostics_of("vjepa_ac_planner")

    def status_times(self, text: str) -> list[float]:
        """Arrival times of the planner's diagnostics whose message contains `text`."""
        with self.recorder._lock:
            pairs = list(zip(self.recorder.messages["/diagnostics"], self.recorder.arrivals["/diagnostics"],
                             strict=False))
        return [t for array, t in pairs for s in array.status
                if s.name.startswith("vjepa_ac_planner") and text in s.message]

    def messages(self, last: int = 5) -> list[str]:
        return [s.message for s in self.statuses()[-last:]]

    def client(self, srv_type, name: str):
        from rclpy.qos import QoSProfile

        return self.recorder.create_client(srv_type, f"{self.NODE}/{name}",
                                           qos_profile=QoSProfile(depth=DEEP_SERVICE_QOS_DEPTH))

    def call(self, srv_type, name: str, request, timeout: float = 10.0):
        return call_service(self.recorder, srv_type, f"{self.NODE}/{name}", request, timeout)

    def stall_probe(self):
        """Context manager: calls the planner's get_parameters service back to back (one executor serves it
        and the sensor callbacks) and keeps (sent, seconds to answer); `.longest` is the worst stall."""
        rig = self

        class Probe:
            def __enter__(self):
                from rcl_interfaces.srv import GetParameters

                self.samples: list[tuple[float, float]] = []
                self._stop = threading.Event()
                self._client = rig.recorder.create_client(GetParameters, f"{rig.NODE}/get_parameters")
                assert self._client.wait_for_service(timeout_sec=10.0)
                self._request = GetParameters.Request(names=["rate_hz"])
                self._thread = threading.Thread(target=self._run, daemon=True)
                self._thread.start()
                return self

            def _run(self):
                while not self._stop.is_set():
                    sent = time.monotonic()
                    future = self._client.call_async(self._request)
                    while not future.done() and time.monotonic() - sent < 60.0:
                        time.sleep(0.002)
                    self.samples.append((sent, time.monotonic() - sent))
                    time.sleep(0.01)

            def __exit__(self, *exc):
                self._stop.set()
                self._thread.join(timeout=70.0)
                rig.recorder.destroy_client(self._client)

            @property
            def longest(self) -> float:
                return max((seconds for _, seconds in self.samples), default=float("nan"))

        return Probe()

    def close(self) -> None:
        try:
            self.send(cmd="quit")
        except (OSError, ValueError):
            pass
        for process in (self.robot, self.planner):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=30)
            except Exception:
                process.kill()
        self.spinner.stop()
        self.recorder.destroy_node()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

"""vjepa-ac-record-sim: record training episodes in simulation, over ROS, as on a real robot.

Runs the simulation node, the expert driver and the episode recorder in one process (each spun by its
own executor, talking over DDS) and, per episode, calls the services a person or script would call on
a real robot: sim ~/reset (scene seed), recorder ~/start, driver ~/start, and when the driver is done,
recorder ~/stop_and_save.

    vjepa-ac-record-sim --episodes 10 --out runs/recorded --first-seed 90000

Scene seeds are training seeds (< 100000): evaluation scenes must not be trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

__all__ = ["record_episodes", "main"]

TRAINING_SEED_END = 100_000


def _call(client_node: Node, service: str, timeout_s: float = 20.0):
    client = client_node.create_client(Trigger, service)
    try:
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise RuntimeError(f"service {service} not available")
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + timeout_s
        while not future.done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"service {service} did not answer in {timeout_s} s")
            time.sleep(0.01)
        return future.result()
    finally:
        client_node.destroy_client(client)


def _record_one(caller, sim, driver, recorder, seed: int, rate_hz: float, settle_s: float) -> dict:
    sim.set_parameters([Parameter("seed", value=seed)])
    recorder.set_parameters([Parameter("seed", value=seed)])
    _call(caller, "/vjepa_ac_sim/reset")
    time.sleep(settle_s)  # frames of the new scene, not the last one's
    deadline = time.monotonic() + 20.0
    while not recorder.inputs_ready():
        if time.monotonic() > deadline:
            raise RuntimeError("the recorder receives no fresh camera, pose and gripper messages")
        time.sleep(0.05)
    started = _call(caller, "/vjepa_ac_episode_recorder/start")
    if not started.success:
        raise RuntimeError(f"recorder ~/start failed: {started.message}")
    time.sleep(1.0 / rate_hz)  # the first step shows the scene before any motion
    _call(caller, "/vjepa_ac_expert_driver/start")
    while driver.running:
        time.sleep(0.05)
    time.sleep(1.5 / rate_hz)  # one more step shows the last action's result
    saved = _call(caller, "/vjepa_ac_episode_recorder/stop_and_save")
    return {"seed": seed, "saved": saved.success, "message": saved.message}


def record_episodes(out: str, episodes: int, first_seed: int, steps: int = 8, rate_hz: float = 2.0,
                    policy: str = "explore", image_size: int = 128, engine: str = "mujoco",
                    settle_s: float = 0.6, attempts: int = 3, camera_size: int | None = None,
                    progress=None) -> list[dict]:
    """Record `episodes` episodes into `out`; returns one record per episode (path or refusal message).

    A refused episode (a frame dropped on a busy machine, say) is recorded again, up to `attempts` times:
    what an operator does with the recorder's refusal.

    rclpy must be initialised; the nodes are created and destroyed here.
    """
    from vjepa_ac.ros.episode_recorder import EpisodeRecorderNode
    from vjepa_ac.ros.expert_driver import ExpertDriverNode
    from vjepa_ac.ros.sim_node import SimNode
    from vjepa_ac.ros.spinning import NodeSpinners

    if first_seed < 0 or first_seed + episodes > TRAINING_SEED_END:
        raise ValueError(f"scene seeds must be in 0..{TRAINING_SEED_END - 1} (training data); "
                         f"got {first_seed}..{first_seed + episodes - 1}")
    camera_size = camera_size or image_size
    sim = SimNode(parameter_overrides=[Parameter("engine", value=engine), Parameter("image_size", value=camera_size),
                                       Parameter("seed", value=first_seed)])
    driver = ExpertDriverNode(parameter_overrides=[Parameter("policy", value=policy),
                                                   Parameter("rate_hz", value=float(rate_hz)),
                                                   Parameter("steps", value=steps),
                                                   Parameter("seed", value=first_seed)])
    recorder = EpisodeRecorderNode(parameter_overrides=[Parameter("output_dir", value=str(out)),
                                                        Parameter("rate_hz", value=float(rate_hz)),
                                                        Parameter("image_size", value=image_size),
                                                        Parameter("robot", value=f"franka_panda ({engine} sim)")])
    caller = Node("vjepa_ac_record_sim")
    records = []
    try:
        with NodeSpinners(sim, driver, recorder, caller):
            for index in range(episodes):
                seed = first_seed + index
                for attempt in range(1, attempts + 1):
                    record = _record_one(caller, sim, driver, recorder, seed, rate_hz, settle_s)
                    record["attempt"] = attempt
                    if progress is not None:
                        progress(record)
                    if record["saved"]:
                        break
                records.append(record)
    finally:
        for node in (caller, recorder, driver, sim):
            node.destroy_node()
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vjepa-ac-record-sim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="episode directory")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=90000, help="scene seed of the first episode (< 100000)")
    parser.add_argument("--steps", type=int, default=8, help="driver actions per episode")
    parser.add_argument("--rate-hz", type=float, default=2.0,
                        help="recorder and driver rate (2 Hz: a busy 2-core machine keeps up; a real robot records "
                             "at 4 Hz, config/recorder.yaml)")
    parser.add_argument("--policy", choices=("explore", "reach"), default="explore")
    parser.add_argument("--image-size", type=int, default=128, help="stored frame size (the model's input)")
    parser.add_argument("--camera-size", type=int, default=None,
                        help="rendered camera size (default: --image-size); the recorder resizes to --image-size")
    parser.add_argument("--engine", choices=("mujoco", "pybullet"), default="mujoco")
    parser.add_argument("--attempts", type=int, default=3, help="recordings of a scene before giving up on it")
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.steps < 1 or args.attempts < 1:
        parser.error("--episodes, --steps and --attempts must be >= 1")
    rclpy.init()
    started = time.monotonic()
    try:
        records = record_episodes(args.out, args.episodes, args.first_seed, args.steps, args.rate_hz, args.policy,
                                  args.image_size, args.engine, attempts=args.attempts,
                                  camera_size=args.camera_size, progress=lambda r: print(json.dumps(r), flush=True))
    except (RuntimeError, ValueError) as exc:
        print(f"vjepa-ac-record-sim: error: {exc}", file=sys.stderr)
        return 1
    finally:
        rclpy.try_shutdown()
    saved = sum(r["saved"] for r in records)
    print(json.dumps({"episodes_saved": saved, "refused": len(records) - saved, "out": args.out,
                      "seconds": round(time.monotonic() - started, 1)}))
    return 0 if saved == len(records) else 1


if __name__ == "__main__":
    sys.exit(main())

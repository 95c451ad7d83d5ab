"""`make demo`: one simulated pick-and-place episode driven through the ROS 2 nodes.

The simulation node and the planner node (embedded V-JEPA 2-AC model + CEM with the shipped settings,
`CEMConfig()`: 800 x 10) run in one process and talk over DDS, as `vjepa-ac-run` / `planning_sim.launch.py` do.
The episode is set up as `vjepa-ac-eval` sets it up (protocol v2 by default: the open hand starts
20-35 cm above the table, 12-25 cm from the cube; four sub-goal images from the scripted expert's
poses, rendered without disturbing the episode) and judged with the same success test; a GIF and a
JSON summary are written.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vjepa-ac-demo", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=100_000, help="episode seed (evaluation seeds start at 100000)")
    p.add_argument("--engine", choices=["mujoco", "pybullet"], default="mujoco")
    p.add_argument("--task", choices=["pick-and-place", "grasp", "reach"], default="pick-and-place")
    p.add_argument("--protocol", choices=["v2", "near-cube"], default="v2",
                   help="v2: start 12-25 cm from the cube, 20-35 cm high; near-cube: the earlier start above the cube")
    p.add_argument("--checkpoint", default="", help="model directory or official .pt (default: embedded model)")
    p.add_argument("--samples", type=int, default=None, help="CEM samples (default: CEMConfig's)")
    p.add_argument("--iterations", type=int, default=None, help="CEM iterations (default: CEMConfig's)")
    p.add_argument("--camera-size", type=int, default=None,
                   help="rendered camera resolution (px); default: the model's input size")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    return p


class _Recorder:
    """Frames after every executed command and the energies the planner publishes."""

    def __init__(self, sim):
        self.frames, self.energies, self.ee_states = [], [], []
        self._lock = threading.Lock()
        self._step = sim.step

        def recording_step(action):
            obs = self._step(action)
            with self._lock:
                self.frames.append(obs.image.copy())
                self.ee_states.append(obs.ee_state.copy())
            return obs

        sim.step = recording_step

    def on_energy(self, msg) -> None:
        with self._lock:
            self.energies.append(float(msg.data))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import rclpy
    from std_msgs.msg import Float64

    from vjepa_ac.evaluation.episode_runner import EpisodeRecord
    from vjepa_ac.evaluation.reports import write_episode_gif
    from vjepa_ac.evaluation.tasks import make_task
    from vjepa_ac.models import world_model_camera, world_model_image_size
    from vjepa_ac.ros.planner_node import PlannerNode
    from vjepa_ac.ros.qos import VISUALIZATION_QOS
    from vjepa_ac.ros.runner import default_config_dir
    from vjepa_ac.ros.sim_node import SimNode
    from vjepa_ac.ros.spinning import spin_nodes

    if args.camera_size is None:  # render what the model takes, so no frame is rescaled
        args.camera_size = world_model_image_size(args.checkpoint or None)
    camera = world_model_camera(args.checkpoint or None)  # the scene camera the model was trained on
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    config_dir = default_config_dir()
    rclpy.init(args=["vjepa-ac-demo"])
    sim_node = SimNode(cli_args=["--ros-args", "--params-file", str(config_dir / "sim.yaml"),
                                 "-p", f"engine:={args.engine}", "-p", f"seed:={args.seed}",
                                 "-p", f"image_size:={args.camera_size}", "-p", f"camera:={camera}"])
    task = make_task(args.task, protocol=args.protocol, camera=camera)
    obs, setup = task.setup(sim_node.sim, args.seed)
    sim_node.observation = obs
    goal_paths = []
    from PIL import Image

    for i, image in enumerate(setup.goal_images):
        goal_paths.append(out / f"subgoal_{i + 1}.png")
        Image.fromarray(image).save(goal_paths[-1])
    recorder = _Recorder(sim_node.sim)
    paths = "[" + ",".join(f'"{p.resolve()}"' for p in goal_paths) + "]"
    budgets = "[" + ",".join(str(b) for b in setup.budgets) + "]"
    planner_args = ["--ros-args", "--params-file", str(config_dir / "planner.yaml"), "-p", f"subgoal_image_paths:={paths}",
                    "-p", f"subgoal_budgets:={budgets}", "-p", "rate_hz:=20.0"]
    for name, value in (("samples", args.samples), ("iterations", args.iterations)):
        planner_args += [] if value is None else ["-p", f"{name}:={value}"]
    if args.checkpoint:
        planner_args += ["-p", f"checkpoint:={Path(args.checkpoint).resolve()}"]
    planner_node = PlannerNode(cli_args=planner_args)
    if planner_node.planner is None:
        print("vjepa-ac-demo: the planner could not start (see the log above)", file=sys.stderr)
        for node in (sim_node, planner_node):
            node.destroy_node()
        rclpy.try_shutdown()
        return 1
    energy_listener = rclpy.create_node("vjepa_ac_demo_recorder")
    energy_listener.create_subscription(Float64, "energy", recorder.on_energy, VISUALIZATION_QOS)
    total = sum(setup.budgets)
    print(f"vjepa-ac-demo: {args.task} ({args.protocol}) seed {args.seed} ({args.engine}), {len(goal_paths)} sub-goal image(s), "
          f"budgets {setup.budgets}; planning {planner_node.planner.config.samples} samples x "
          f"{planner_node.planner.config.iterations} iterations per action")
    started = time.monotonic()
    spin_nodes([sim_node, planner_node, energy_listener], duration_s=args.timeout,
               until=lambda: len(recorder.frames) >= total, destroy=False)
    elapsed = time.monotonic() - started

    goal_grippers = planner_node.goal_grippers
    final_obs = sim_node.sim.observe()
    success, distance, details = task.evaluate(sim_node.sim, final_obs, setup)
    stages = [int(np.searchsorted(np.cumsum(setup.budgets), k, side="right")) for k in range(len(recorder.frames))]
    record = EpisodeRecord(
        task=task.name, engine=args.engine, seed=args.seed, success=bool(success), final_distance_m=float(distance),
        actions_executed=len(recorder.frames), seconds_per_action=elapsed / max(len(recorder.frames), 1),
        energies=recorder.energies, plan_seconds=[], distances_m=[], subgoal_index=stages, actions=[],
        details=details, frames=[obs.image, *recorder.frames], goal_images=list(setup.goal_images),
    )
    for node in (sim_node, planner_node, energy_listener):
        node.destroy_node()
    rclpy.try_shutdown()
    gif = write_episode_gif(record, out / f"demo_{task.name}_seed{args.seed}.gif")
    summary = {**record.to_json(), "wall_seconds": elapsed, "gif": str(gif), "goal_grippers": goal_grippers,
               "subgoal_images": [str(p) for p in goal_paths], "protocol": args.protocol, "criterion": task.criterion}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if goal_grippers:
        from vjepa_ac.planning.goal_gripper import describe_decision

        words = ", ".join(describe_decision(g) for g in goal_grippers)
        print(f"vjepa-ac-demo: the gripper readout read the sub-goal images as: {words}")
    verdict = "SUCCESS" if success else "FAILURE"
    print(f"vjepa-ac-demo: {verdict}: {record.actions_executed} actions in {elapsed:.0f} s "
          f"({record.seconds_per_action:.1f} s/action); final distance to goal {distance:.3f} m")
    print(f"vjepa-ac-demo: GIF      {gif.resolve()}")
    print(f"vjepa-ac-demo: summary  {(out / 'summary.json').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

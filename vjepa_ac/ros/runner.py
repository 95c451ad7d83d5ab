"""vjepa-ac-run: the simulation node and the planner node in one process, without `ros2 launch`.

launch/launch_ros are not installable from PyPI, so this runner stands in for
launch/planning_sim.launch.py: it passes the same config/*.yaml files to the same node classes
(as `--params-file`, exactly as launch does) and spins them (`spinning.spin_nodes`: one executor thread per node). The
nodes still talk over DDS, so `send_goal_image`, RViz or `ros2 topic` in other processes see them.

    vjepa-ac-run --goal goal.png --duration 60
    vjepa-ac-run --goal-offset 0.1 0.05 -0.05          # sim renders a goal 10/5/-5 cm away
    vjepa-ac-run --planner-param samples:=100 --sim-param engine:=pybullet
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import rclpy

__all__ = ["default_config_dir", "main", "parse_args"]


def default_config_dir() -> Path:
    """config/ of the installed package (ament index), else of this source checkout."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            installed = Path(get_package_share_directory("vjepa_ac")) / "config"
            if installed.is_dir():
                return installed
        except (PackageNotFoundError, ValueError, OSError):  # OSError: AMENT_PREFIX_PATH unset
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parents[2] / "config"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="vjepa-ac-run", description=__doc__.splitlines()[0])
    parser.add_argument("--config-dir", type=Path, default=None, help="folder with planner.yaml and sim.yaml")
    parser.add_argument("--planner-config", type=Path, default=None, help="planner parameter file")
    parser.add_argument("--sim-config", type=Path, default=None, help="simulation parameter file")
    parser.add_argument("--planner-param", action="append", default=[], metavar="NAME:=VALUE",
                        help="override one planner parameter (repeatable)")
    parser.add_argument("--sim-param", action="append", default=[], metavar="NAME:=VALUE",
                        help="override one simulation parameter (repeatable)")
    parser.add_argument("--no-sim", action="store_true", help="planner only (robot or sim elsewhere)")
    parser.add_argument("--no-planner", action="store_true", help="simulation only")
    parser.add_argument("--goal", type=Path, default=None, help="goal image file for the planner")
    parser.add_argument("--goal-offset", type=float, nargs=3, default=None, metavar=("DX", "DY", "DZ"),
                        help="render the goal with the EE moved by this offset (m) and publish it")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    return parser.parse_args(argv)


def _node_arguments(params_file: Path, overrides: list[str]) -> list[str]:
    args = ["--ros-args", "--params-file", str(params_file)]
    for override in overrides:
        if ":=" not in override:
            raise SystemExit(f"vjepa-ac-run: parameter override {override!r} must look like NAME:=VALUE")
        args += ["-p", override]
    return args


def main(argv=None) -> int:
    argv = list(sys.argv if argv is None else ["vjepa-ac-run", *argv])
    # Split by hand: rcl would take our NAME:=VALUE overrides for (deprecated) remap rules.
    split = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    args = parse_args(argv[1:split])
    ros_argv = [argv[0], *argv[split:]]
    config_dir = args.config_dir or default_config_dir()
    planner_config = args.planner_config or config_dir / "planner.yaml"
    sim_config = args.sim_config or config_dir / "sim.yaml"
    for path, wanted in ((planner_config, not args.no_planner), (sim_config, not args.no_sim)):
        if wanted and not path.is_file():
            print(f"vjepa-ac-run: parameter file not found: {path}", file=sys.stderr)
            return 2
    if args.goal is not None and not args.goal.is_file():
        print(f"vjepa-ac-run: goal image not found: {args.goal}", file=sys.stderr)
        return 2
    if args.goal_offset is not None and args.no_sim:
        print("vjepa-ac-run: --goal-offset needs the simulation", file=sys.stderr)
        return 2

    from vjepa_ac.ros.planner_node import PlannerNode
    from vjepa_ac.ros.sim_node import SimNode
    from vjepa_ac.ros.spinning import spin_nodes

    rclpy.init(args=ros_argv)
    nodes = []
    try:
        if not args.no_sim:
            nodes.append(SimNode(cli_args=_node_arguments(sim_config, args.sim_param)))
            if args.goal_offset is not None:
                sim = nodes[-1]
                target = np.array(sim.observation.ee_state, dtype=np.float64)
                target[:3] += np.asarray(args.goal_offset)
                sim.publish_goal_at(target)
        if not args.no_planner:
            planner_overrides = list(args.planner_param)
            if args.goal is not None:
                planner_overrides.append(f"goal_image_path:={args.goal.resolve()}")
            nodes.append(PlannerNode(cli_args=_node_arguments(planner_config, planner_overrides)))
    except Exception as exc:
        print(f"vjepa-ac-run: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
        return 1
    started = time.monotonic()
    sim = next((n for n in nodes if isinstance(n, SimNode)), None)
    planner = next((n for n in nodes if isinstance(n, PlannerNode)), None)
    start_state = None if sim is None else np.array(sim.observation.ee_state)
    spin_nodes(nodes, duration_s=args.duration)
    summary = [f"ran {time.monotonic() - started:.1f} s"]
    if planner is not None:
        summary.append(f"planner commands: {planner.commands_published}")
    if sim is not None:
        moved = np.linalg.norm(np.array(sim.observation.ee_state)[:3] - start_state[:3])
        summary.append(f"sim commands executed: {sim.commands_executed}, EE moved {moved:.3f} m")
    print("vjepa-ac-run: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

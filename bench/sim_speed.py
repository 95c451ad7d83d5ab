"""Simulation speed: renders/s, raw physics steps/s, seconds per step() and per 40-action episode.

Usage: python bench/sim_speed.py [--engines mujoco pybullet] [--sizes 64 256] [--json out/sim_speed.json]
The 40-action episode mimics planner execution: one step() (which renders its observation) per action.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from vjepa_ac.simulation import make_sim  # noqa: E402


def physics_steps_per_second(sim, n: int) -> float:
    if sim.engine == "mujoco":
        import mujoco

        start = time.perf_counter()
        mujoco.mj_step(sim.model, sim.data, nstep=n)
        return n / (time.perf_counter() - start)
    import pybullet as pb

    client = sim.world.client
    start = time.perf_counter()
    for _ in range(n):
        pb.stepSimulation(physicsClientId=client)
    return n / (time.perf_counter() - start)


def planner_like_actions(rng: np.random.Generator, n: int) -> np.ndarray:
    """Translations inside the planner's L1 ball (0.075 m), small gripper moves, no rotation."""
    actions = np.zeros((n, 7))
    directions = rng.laplace(size=(n, 3))
    actions[:, :3] = 0.075 * rng.uniform(0.2, 1.0, size=(n, 1)) * directions / np.abs(directions).sum(1, keepdims=True)
    actions[:, 6] = rng.uniform(-0.3, 0.3, size=n)
    return actions


def bench(engine: str, size: int, renders: int, physics: int) -> dict:
    t0 = time.perf_counter()
    sim = make_sim(engine, image_size=size)
    construct = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        sim.reset(0)
        reset = time.perf_counter() - t0
        sim.render()
        t0 = time.perf_counter()
        for _ in range(renders):
            sim.render()
        render_rate = renders / (time.perf_counter() - t0)
        actions = planner_like_actions(np.random.default_rng(0), 40)
        sim.reset(1)
        t0 = time.perf_counter()
        sim_time0 = sim.sim_time()
        for a in actions:
            sim.step(a)
        episode = time.perf_counter() - t0
        sim_seconds = sim.sim_time() - sim_time0
        t0 = time.perf_counter()
        sim.render_goal(ee_pose=sim.ee_state() + np.array([0.05, 0, 0, 0, 0, 0, 0]))
        goal = time.perf_counter() - t0
        sim.reset(2)
        steps_rate = physics_steps_per_second(sim, physics)
    finally:
        sim.close()
    return {"engine": engine, "image_size": size, "construct_s": round(construct, 3), "reset_s": round(reset, 3),
            "renders_per_s": round(render_rate, 1), "physics_steps_per_s": round(steps_rate, 0),
            "episode_40_actions_s": round(episode, 3), "step_mean_s": round(episode / 40, 4),
            "sim_seconds_per_action": round(sim_seconds / 40, 3), "render_goal_s": round(goal, 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--engines", nargs="+", default=["mujoco", "pybullet"])
    p.add_argument("--sizes", nargs="+", type=int, default=[64, 256])
    p.add_argument("--renders", type=int, default=50)
    p.add_argument("--physics-steps", type=int, default=5000)
    p.add_argument("--json", default="out/sim_speed.json")
    args = p.parse_args(argv)
    results = []
    for engine in args.engines:
        for size in args.sizes:
            r = bench(engine, size, args.renders, args.physics_steps)
            results.append(r)
            print(json.dumps(r), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    meta = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "mujoco_gl": os.environ.get("MUJOCO_GL"), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
    with open(args.json, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=2)
    print(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""vjepa-ac-expert: run the scripted pick-and-place expert, report success, optionally save episodes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from vjepa_ac.simulation.expert import run_expert_episode
from vjepa_ac.simulation.factory import ENGINES, make_sim
from vjepa_ac.simulation.interface import TaskOptions


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vjepa-ac-expert", description=__doc__)
    p.add_argument("--engine", choices=ENGINES, default="mujoco")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="first seed; episode k uses seed + k")
    p.add_argument("--json", required=True, help="where to write the summary JSON")
    p.add_argument("--out", default=None, help="directory for episode_<seed>.npz files")
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--max-actions", type=int, default=40)
    p.add_argument("--randomize-colors", action="store_true")
    p.add_argument("--randomize-lighting", action="store_true")
    p.add_argument("--camera-jitter", type=float, default=0.0, help="metres")
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error("--episodes must be >= 1")
    if args.max_actions < 1:
        p.error("--max-actions must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    options = TaskOptions(randomize_colors=args.randomize_colors, randomize_lighting=args.randomize_lighting,
                          camera_jitter=args.camera_jitter)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    records = []
    start = time.perf_counter()
    with make_sim(args.engine, image_size=args.image_size) as sim:
        for k in range(args.episodes):
            seed = args.seed + k
            episode = run_expert_episode(sim, seed, options, max_actions=args.max_actions)
            record = episode.record()
            if args.out:
                path = os.path.join(args.out, f"episode_{seed}.npz")
                np.savez_compressed(path, frames=episode.frames, states=episode.states,
                                    actions=episode.actions, seed=np.int64(seed), engine=np.str_(args.engine),
                                    success=np.bool_(episode.success))
                record["path"] = path
            records.append(record)
            print(f"[{args.engine}] seed {seed}: {'success' if episode.success else 'FAIL'} "
                  f"({record['steps']} actions, {record['seconds']:.1f} s)", flush=True)
    successes = sum(r["success"] for r in records)
    summary = {"engine": args.engine, "episodes": len(records), "successes": successes,
               "success_rate": successes / len(records), "seconds": round(time.perf_counter() - start, 2),
               "image_size": args.image_size, "records": records}
    json_dir = os.path.dirname(os.path.abspath(args.json))
    os.makedirs(json_dir, exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"[{args.engine}] success rate {summary['success_rate']:.2f} ({successes}/{len(records)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

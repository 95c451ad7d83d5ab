"""`vjepa-ac-collect`: record simulator episodes (frames + end-effector states) for world-model training.

    vjepa-ac-collect --engine mujoco --episodes 50 --seed 0 --out data/episodes --image-size 64 --kind mixed

Kinds: `expert` (scripted pick-and-place), `explore` (smooth random motion + gripper toggles),
`mixed` (the expert, interrupted by random exploration bursts it then recovers from) and `grasp_play`
(planner-like steps down to a jittered grasp pose, then random steps and gripper changes at the cube).
Episode i uses seed `--seed + i`; every seed must be below 100000, because evaluation uses seeds from 100000 up and
training on them would leak test scenes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from vjepa_ac.training.data.collect import KINDS, EpisodeSpec, check_training_seeds, collect_episodes
from vjepa_ac.training.data.exploration import ExplorationConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vjepa-ac-collect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", default="mujoco", choices=("mujoco", "pybullet"))
    p.add_argument("--episodes", type=int, required=True)
    p.add_argument("--seed", type=int, default=0, help="first episode seed (all seeds must be < 100000)")
    p.add_argument("--out", required=True, help="directory for episode_<seed>.npz files")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--kind", choices=KINDS, default="mixed")
    p.add_argument("--max-steps", type=int, default=40, help="actions per episode at most")
    p.add_argument("--overwrite", action="store_true", help="re-record episodes whose file exists")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        seeds = check_training_seeds(args.seed, args.episodes)
    except ValueError as error:
        print(f"vjepa-ac-collect: error: {error}", file=sys.stderr)
        return 2
    if args.max_steps < 1:
        print("vjepa-ac-collect: error: --max-steps must be >= 1", file=sys.stderr)
        return 2
    out = Path(args.out)
    started = time.perf_counter()
    plan = [EpisodeSpec(seed, args.kind, args.max_steps) for seed in seeds]
    records = collect_episodes(out, args.engine, args.image_size, plan, ExplorationConfig(), overwrite=args.overwrite,
                               progress=not args.no_progress, desc=f"collecting {args.kind}")
    with open(out / "collection.jsonl", "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    frames_total = sum(r["steps"] + 1 for r in records)
    print(json.dumps({"episodes": len(records), "frames": frames_total, "seconds": round(time.perf_counter() - started, 2),
                      "out": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

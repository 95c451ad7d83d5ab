"""`vjepa-ac-train-embedded`: the one command that reproduces the shipped embedded model.

Stages (each resumable, each skipped when its output exists):
  1. collect   MuJoCo episodes (seeds < 100000): planner-like random exploration + expert demonstrations
  2. pretrain  small RoPE ViT encoder with the V-JEPA mask-denoising objective
  3. predictor V-JEPA 2-AC post-training on the frozen encoder (teacher forcing + 2-step rollout L1)
  4. package   our safetensors format + model card into the output directory
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# Planner-like exploration: steps up to the planner's L1 radius, no yaw, rare gripper toggles, so the
# model sees the actions CEM will ask it about (the planner freezes rotation by default).
EXPLORE_EPISODES = 450
MIXED_EPISODES = 150
EXPLORE_STEPS = 20
MIXED_STEPS = 40
CAMERA_SIZE = 128


def collect(out: Path, engine: str = "mujoco", explore_episodes: int = EXPLORE_EPISODES,
            mixed_episodes: int = MIXED_EPISODES, first_seed: int = 0, camera_size: int = CAMERA_SIZE) -> dict:
    from tqdm.auto import tqdm

    from vjepa_ac.simulation import make_sim
    from vjepa_ac.training.collect import check_training_seeds, record_episode
    from vjepa_ac.training.episodes import save_episode
    from vjepa_ac.training.exploration import ExplorationConfig

    out.mkdir(parents=True, exist_ok=True)
    exploration = ExplorationConfig(max_step=0.075, smoothing=0.5, toggle_probability=0.05, yaw_step=0.0)
    plan = [(s, "explore", EXPLORE_STEPS) for s in check_training_seeds(first_seed, explore_episodes)]
    plan += [(s, "mixed", MIXED_STEPS)
             for s in check_training_seeds(first_seed + explore_episodes, mixed_episodes)]
    sim = make_sim(engine, image_size=camera_size)
    frames_total, started = 0, time.perf_counter()
    try:
        for seed, kind, steps in tqdm(plan, desc="collect", unit="episode"):
            path = out / f"episode_{seed:05d}.npz"
            if path.exists():
                continue
            frames, states, _record = record_episode(sim, seed, kind, steps, exploration)
            save_episode(path, frames, states, seed=seed, engine=engine)
            frames_total += len(frames)
    finally:
        sim.close()
    summary = {"episodes": len(plan), "explore_episodes": explore_episodes, "mixed_episodes": mixed_episodes,
               "seeds": [first_seed, first_seed + len(plan) - 1], "camera_size": camera_size,
               "new_frames": frames_total, "seconds": round(time.perf_counter() - started, 1)}
    (out / "collection_summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vjepa-ac-train-embedded", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("runs/embedded"), help="data + intermediate outputs")
    p.add_argument("--stages", default="collect", help="comma list of: collect")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    np.set_printoptions(precision=4)
    if "collect" in stages:
        print(json.dumps(collect(args.work / "episodes")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

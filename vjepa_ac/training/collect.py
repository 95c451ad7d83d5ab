"""`vjepa-ac-collect`: record simulator episodes (frames + end-effector states) for world-model training.

    vjepa-ac-collect --engine mujoco --episodes 50 --seed 0 --out data/episodes --image-size 64 --kind mixed

Kinds: `expert` (scripted pick-and-place), `explore` (smooth random motion + gripper toggles) and
`mixed` (the expert, interrupted by random exploration bursts it then recovers from). Episode i uses
seed `--seed + i`; every seed must be below 100000, because evaluation uses seeds from 100000 up and
training on them would leak test scenes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vjepa_ac.training.episodes import save_episode
from vjepa_ac.training.exploration import ExplorationConfig, SmoothRandomExplorer

EVALUATION_SEED_START = 100_000
KINDS = ("expert", "explore", "mixed")


def check_training_seeds(first_seed: int, episodes: int) -> range:
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    if first_seed < 0:
        raise ValueError(f"--seed must be >= 0, got {first_seed}")
    seeds = range(first_seed, first_seed + episodes)
    if seeds[-1] >= EVALUATION_SEED_START:
        raise ValueError(
            f"training seeds must be < {EVALUATION_SEED_START} (evaluation uses seeds >= {EVALUATION_SEED_START}); "
            f"--seed {first_seed} with --episodes {episodes} reaches {seeds[-1]}"
        )
    return seeds


def record_episode(sim, seed: int, kind: str, max_steps: int, exploration: ExplorationConfig,
                   burst_probability: float = 0.15, start_near_cube: bool = False,
                   close_while_lifting: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run one episode; returns frames [T, S, S, 3], states [T, 7] and a summary record.

    `start_near_cube` starts the open hand next to the cube (the grasp and pick-and-place evaluation
    start); `close_while_lifting` makes the expert grasp with one close-and-lift action.
    """
    from vjepa_ac.simulation import ScriptedPickPlaceExpert

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng([seed, 0xC011EC7])  # independent of the scene layout's stream
    obs = sim.reset(seed, {"start_near_cube": bool(start_near_cube)})
    bounds = sim.workspace_bounds
    explorer = SmoothRandomExplorer(bounds.low, bounds.high, rng, exploration)
    expert = ScriptedPickPlaceExpert(close_while_lifting=close_while_lifting)
    expert.reset(sim, obs)
    frames, states = [obs.image], [obs.ee_state]
    burst_left, explored = 0, 0
    for _ in range(max_steps):
        if kind == "mixed" and burst_left == 0 and not expert.done and rng.random() < burst_probability:
            burst_left = int(rng.integers(2, 7))
            explorer.reset()
        if kind == "explore" or burst_left > 0:
            # Within a demonstration keep the grip as it is, so the expert can carry on afterwards.
            action = explorer.act(obs.ee_state, allow_toggle=kind == "explore")
            burst_left = max(0, burst_left - 1)
            explored += 1
        else:
            action = expert.act(obs)
            if expert.done:
                break
        obs = sim.step(action)
        frames.append(obs.image)
        states.append(obs.ee_state)
    record = {"seed": seed, "kind": kind, "steps": len(frames) - 1, "explored_steps": explored,
              "expert_finished": bool(expert.done), "start_near_cube": bool(start_near_cube),
              "close_while_lifting": bool(close_while_lifting)}
    return np.stack(frames), np.stack(states).astype(np.float32), record


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
    from tqdm.auto import tqdm

    from vjepa_ac.simulation import make_sim

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sim = make_sim(args.engine, image_size=args.image_size)
    exploration = ExplorationConfig()
    records = []
    started = time.perf_counter()
    try:
        for seed in tqdm(seeds, desc=f"collecting {args.kind}", unit="episode", disable=args.no_progress):
            path = out / f"episode_{seed:05d}.npz"
            if path.exists() and not args.overwrite:
                continue
            frames, states, record = record_episode(sim, seed, args.kind, args.max_steps, exploration)
            save_episode(path, frames, states, seed=seed, engine=args.engine)
            records.append({**record, "file": path.name})
    finally:
        sim.close()
    with open(out / "collection.jsonl", "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    frames_total = sum(r["steps"] + 1 for r in records)
    print(json.dumps({"episodes": len(records), "frames": frames_total, "seconds": round(time.perf_counter() - started, 2),
                      "out": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`vjepa-ac-collect`: record simulator episodes (frames + end-effector states) for world-model training.

    vjepa-ac-collect --engine mujoco --episodes 50 --seed 0 --out data/episodes --image-size 64 --kind mixed

Kinds: `expert` (scripted pick-and-place), `explore` (smooth random motion + gripper toggles),
`mixed` (the expert, interrupted by random exploration bursts it then recovers from) and `grasp_play`
(planner-like steps down to a jittered grasp pose, then random steps and gripper changes at the cube). Episode i uses
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
KINDS = ("expert", "explore", "mixed", "grasp_play")
# grasp_play: how far (m, per axis, 1 sigma) the approach target misses the cube's centre, the share of
# random steps that also move the gripper (by 0.25-0.75, CEM's range), and how often such a change closes an
# open hand (an open change otherwise; reversed for a closed hand), so that grasps and releases both happen.
GRASP_PLAY_XY_SIGMA = 0.012
GRASP_PLAY_GRIPPER_SHARE = 0.5
GRASP_PLAY_CLOSE_OPEN_HAND = 0.75
PLANNER_STEP = 0.075  # the paper's L1 radius of one translation
GRIPPER_MAX = 0.75


def _l1_step(delta: np.ndarray, radius: float) -> np.ndarray:
    norm = float(np.abs(delta).sum())
    return delta if norm <= radius else delta * (radius / norm)


def grasp_play_actions(rng: np.random.Generator, obs, max_steps: int):
    """Actions of a grasp_play episode, one per call with the newest observation (a generator).

    The embedded model's first training sets taught the predictor the arm well but hardly what the gripper
    does at the cube (predicted energies moved by ~1 % between opening and closing where the real frames
    moved by up to 2x), because demonstrations close exactly once, in the right place. Here every episode
    closes, opens, lifts and pushes near the cube, with planner-sized steps and continuous gripper deltas.
    """
    from vjepa_ac.simulation.expert import GRASP_Z

    cube = obs.object_poses["cube"]
    miss = np.clip(rng.normal(0.0, GRASP_PLAY_XY_SIGMA, 2), -0.03, 0.03)
    target = np.array([cube[0] + miss[0], cube[1] + miss[1], GRASP_Z + rng.uniform(0.0, 0.02)])
    steps = 0
    while steps < max_steps and np.abs(target - obs.ee_state[:3]).sum() > 0.004 and steps < 4:
        action = np.zeros(7)
        action[:3] = _l1_step(target - obs.ee_state[:3], rng.uniform(0.03, PLANNER_STEP))
        obs = yield action
        steps += 1
    while steps < max_steps:
        action = np.zeros(7)
        direction = rng.normal(0.0, 1.0, 3)
        direction[2] = abs(direction[2]) if rng.random() < 0.6 else -abs(direction[2])  # mostly up: lifts
        action[:3] = direction / np.abs(direction).sum() * rng.uniform(0.0, PLANNER_STEP)
        if rng.random() < GRASP_PLAY_GRIPPER_SHARE:
            opened = obs.ee_state[6] < 0.5
            close = rng.random() < (GRASP_PLAY_CLOSE_OPEN_HAND if opened else 1.0 - GRASP_PLAY_CLOSE_OPEN_HAND)
            action[6] = (1.0 if close else -1.0) * rng.uniform(0.25, GRIPPER_MAX)
        obs = yield action
        steps += 1


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

    `start_near_cube` starts the open hand just above the cube (the grasp and pick-and-place evaluation
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
    if kind == "grasp_play":
        actions = grasp_play_actions(rng, obs, max_steps)
        action = next(actions)
        while True:
            obs = sim.step(action)
            frames.append(obs.image)
            states.append(obs.ee_state)
            try:
                action = actions.send(obs)
            except StopIteration:
                break
        max_steps = 0  # done: skip the expert/explore loop
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

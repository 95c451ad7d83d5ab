"""`vjepa-ac-collect`: record simulator episodes (frames + end-effector states) for world-model training.

    vjepa-ac-collect --engine mujoco --episodes 50 --seed 0 --out data/episodes --image-size 64 --kind mixed

Kinds: `expert` (scripted pick-and-place), `explore` (smooth random motion + gripper toggles),
`mixed` (the expert, interrupted by random exploration bursts it then recovers from), `grasp_play`
(planner-like steps down to a jittered grasp pose, then random steps and gripper changes at the cube) and
`grasp_lift` (down to the grasp pose, then one decisive action: close and lift, lift open, or close in
place, then carrying moves).
Episode i uses seed `--seed + i`; every seed must be below 100000, because evaluation uses seeds from 100000 up and
training on them would leak test scenes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vjepa_ac.planning.action_space import ActionSpace
from vjepa_ac.training.episodes import save_episode
from vjepa_ac.training.exploration import ExplorationConfig, SmoothRandomExplorer

EVALUATION_SEED_START = 100_000
KINDS = ("expert", "explore", "mixed", "grasp_play", "grasp_lift")
# grasp_play: how far (m, per axis, 1 sigma) the approach target misses the cube's centre, the share of
# random steps that also move the gripper (by 0.25-0.75, CEM's range), and how often such a change closes an
# open hand (an open change otherwise; reversed for a closed hand), so that grasps and releases both happen.
GRASP_PLAY_XY_SIGMA = 0.012
GRASP_PLAY_GRIPPER_SHARE = 0.5
GRASP_PLAY_CLOSE_OPEN_HAND = 0.75
PLANNER_STEP = ActionSpace.translation_radius  # the paper's L1 radius of one translation
GRIPPER_MAX = ActionSpace.gripper_max


def _l1_step(delta: np.ndarray, radius: float) -> np.ndarray:
    norm = float(np.abs(delta).sum())
    return delta if norm <= radius else delta * (radius / norm)


def _grasp_target(rng: np.random.Generator, cube: np.ndarray, sigma: float, limit: float,
                  z_jitter: float) -> np.ndarray:
    """A TCP target at the grasp height that misses the cube's centre by N(0, sigma) per axis, clipped."""
    from vjepa_ac.simulation.expert import GRASP_Z

    miss = np.clip(rng.normal(0.0, sigma, 2), -limit, limit)
    return np.array([cube[0] + miss[0], cube[1] + miss[1], GRASP_Z + rng.uniform(0.0, z_jitter)])


def _random_step(rng: np.random.Generator, up_probability: float) -> np.ndarray:
    """A random translation of planner size (L1 up to PLANNER_STEP), upward with `up_probability`."""
    direction = rng.normal(0.0, 1.0, 3)
    direction[2] = abs(direction[2]) if rng.random() < up_probability else -abs(direction[2])
    return direction / np.abs(direction).sum() * rng.uniform(0.0, PLANNER_STEP)


class GraspPlayPolicy:
    """The `grasp_play` episode's actions: planner-sized steps down to a grasp pose that misses the cube's
    centre a little, then random steps (mostly up) of which half also change the gripper.

    The model trained without these episodes hardly predicted what the gripper does at the cube (predicted
    energies moved by under 0.5 % between opening and closing where the real frames moved by up to 2x),
    because demonstrations close exactly once, in the right place. Here every episode closes, opens, lifts
    and pushes near the cube, with continuous gripper deltas as CEM samples them. (Measured afterwards:
    training with them did not raise those margins; see docs/embedded_model.md.)
    """

    APPROACH_STEPS = 4

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.target = None
        self.steps = 0

    def reset(self, obs) -> None:
        self.target = _grasp_target(self.rng, obs.object_poses["cube"], GRASP_PLAY_XY_SIGMA, 0.03, 0.02)
        self.steps = 0

    def act(self, obs) -> np.ndarray:
        rng, action = self.rng, np.zeros(7)
        approaching = self.steps < self.APPROACH_STEPS and np.abs(self.target - obs.ee_state[:3]).sum() > 0.004
        self.steps = self.steps + 1 if approaching else self.APPROACH_STEPS
        if approaching:
            action[:3] = _l1_step(self.target - obs.ee_state[:3], rng.uniform(0.03, PLANNER_STEP))
            return action
        action[:3] = _random_step(rng, up_probability=0.6)  # mostly up: lifts
        if rng.random() < GRASP_PLAY_GRIPPER_SHARE:
            opened = obs.ee_state[6] < 0.5
            close = rng.random() < (GRASP_PLAY_CLOSE_OPEN_HAND if opened else 1.0 - GRASP_PLAY_CLOSE_OPEN_HAND)
            action[6] = (1.0 if close else -1.0) * rng.uniform(0.25, GRIPPER_MAX)
        return action


# grasp_lift: the approach misses the cube's centre by this much (1 sigma, m), and the decisive action's odds.
GRASP_LIFT_XY_SIGMA = 0.004
GRASP_LIFT_CHOICES = {"close_and_lift": 0.5, "lift_open": 0.25, "close_in_place": 0.25}


class GraspLiftPolicy:
    """The `grasp_lift` episode's actions: down to the grasp pose with the hand open, then one decisive
    action, then random carrying moves (mostly up) with the gripper held, and at the end sometimes a release.

    The decisive step is the transition a one-step planner must predict at the cube: from the same frame,
    "close and lift" brings the cube along and "lift open" leaves it. Random play (`grasp_play`) holds few
    of them, because its closings mostly happen off-centre or without a lift, and a model trained on it
    kept its gripper input near zero (its prediction moved by 0.0007 L1 when the gripper action was
    dropped, against 0.045 for the translation; bench/predictor_gripper_response.py).
    """

    APPROACH_STEPS = 4

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.target = None
        self.steps = 0
        self.decided = False

    def reset(self, obs) -> None:
        self.target = _grasp_target(self.rng, obs.object_poses["cube"], GRASP_LIFT_XY_SIGMA, 0.012, 0.01)
        self.steps, self.decided = 0, False

    def act(self, obs) -> np.ndarray:
        rng, action = self.rng, np.zeros(7)
        self.steps += 1
        if not self.decided:
            left = self.target - obs.ee_state[:3]
            if self.steps <= self.APPROACH_STEPS + 2 and np.abs(left).sum() > 0.004:
                action[:3] = _l1_step(left, rng.uniform(0.04, PLANNER_STEP))
                return action
            self.decided = True
            choice = rng.choice(list(GRASP_LIFT_CHOICES), p=list(GRASP_LIFT_CHOICES.values()))
            if choice != "lift_open":
                action[6] = rng.uniform(0.5, GRIPPER_MAX)
            if choice != "close_in_place":
                action[2] = rng.uniform(0.03, PLANNER_STEP)
            return action
        action[:3] = _random_step(rng, up_probability=0.7)
        if obs.ee_state[6] > 0.3 and rng.random() < 0.1:
            action[6] = -rng.uniform(0.5, GRIPPER_MAX)  # release
        elif obs.ee_state[6] < 0.3 and rng.random() < 0.1:
            action[6] = rng.uniform(0.5, GRIPPER_MAX)
        return action


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
    """Run one episode; returns frames [T, S, S, 3], states [T, 7] and a summary record (whose
    `cube_positions` [T, 3] array the callers store with the episode, not in the JSON log).

    `start_near_cube` starts the open hand just above the cube (the grasp and pick-and-place evaluation
    start); `close_while_lifting` makes the expert grasp with one close-and-lift action.
    """
    from vjepa_ac.simulation import ScriptedPickPlaceExpert

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng([seed, 0xC011EC7])  # independent of the scene layout's stream
    start_near_cube = bool(start_near_cube) or kind in ("grasp_play", "grasp_lift")  # these happen at the cube
    obs = sim.reset(seed, {"start_near_cube": start_near_cube})
    bounds = sim.workspace_bounds
    explorer = SmoothRandomExplorer(bounds.low, bounds.high, rng, exploration)
    expert = ScriptedPickPlaceExpert(close_while_lifting=close_while_lifting)
    expert.reset(sim, obs)
    policy_class = {"grasp_play": GraspPlayPolicy, "grasp_lift": GraspLiftPolicy}.get(kind)
    play = policy_class(rng) if policy_class is not None else None
    if play is not None:  # drawn only here, so the other kinds' random streams stay as they were
        play.reset(obs)
    frames, states, cubes = [obs.image], [obs.ee_state], [obs.object_poses["cube"][:3]]
    burst_left, explored = 0, 0
    for _ in range(max_steps):
        if kind == "mixed" and burst_left == 0 and not expert.done and rng.random() < burst_probability:
            burst_left = int(rng.integers(2, 7))
            explorer.reset()
        if play is not None:
            action = play.act(obs)
        elif kind == "explore" or burst_left > 0:
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
        cubes.append(obs.object_poses["cube"][:3])
    record = {"seed": seed, "kind": kind, "steps": len(frames) - 1, "explored_steps": explored,
              "expert_finished": bool(expert.done), "start_near_cube": bool(start_near_cube),
              "close_while_lifting": bool(close_while_lifting), "cube_positions": np.asarray(cubes, np.float32)}
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
            save_episode(path, frames, states, seed=seed, engine=args.engine, cube_positions=record.pop("cube_positions"))
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

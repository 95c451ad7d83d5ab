"""Record simulator episodes (frames + end-effector states) for world-model training.

Kinds: `expert` (scripted pick-and-place), `explore` (smooth random motion + gripper toggles),
`mixed` (the expert, interrupted by random exploration bursts it then recovers from) and `grasp_play`
(planner-like steps down to a jittered grasp pose, then random steps and gripper changes at the cube).
Every seed must be below 100000: evaluation uses seeds from 100000 up, and training on them would leak test scenes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vjepa_ac.planning.action_space import ActionSpace
from vjepa_ac.training.data.episodes import save_episode
from vjepa_ac.training.data.exploration import ExplorationConfig, SmoothRandomExplorer

EVALUATION_SEED_START = 100_000
KINDS = ("expert", "explore", "mixed", "grasp_play")
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
                   close_while_lifting: bool = False, appearance: str = "default",
                   camera: str = "default", start_away_from_cube: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run one episode; returns frames [T, S, S, 3], states [T, 7] and a summary record (whose
    `cube_positions` [T, 3] array the callers store with the episode, not in the JSON log).

    `start_near_cube` starts the open hand just above the cube (the grasp and pick-and-place evaluation
    start); `start_away_from_cube` starts it 20-35 cm high and 12-25 cm from the cube (protocol v2's start);
    `close_while_lifting` makes the expert grasp with one close-and-lift action.
    """
    from vjepa_ac.simulation import ScriptedPickPlaceExpert

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng([seed, 0xC011EC7])  # independent of the scene layout's stream
    start_near_cube = bool(start_near_cube) or kind == "grasp_play"  # it happens at the cube
    if appearance == "unseen":
        raise ValueError("the 'unseen' appearance is held out for testing; collect with 'default' or 'train'")
    if start_near_cube and start_away_from_cube:
        raise ValueError(f"a {kind} episode starts either near the cube or away from it, not both")
    options = {"start_near_cube": start_near_cube}
    if start_away_from_cube:
        options["start_away_from_cube"] = True
    if appearance != "default":
        options["appearance"] = appearance
    if camera != "default":  # TaskOptions.camera; the next model is collected with "droid"
        options["camera"] = camera
    obs = sim.reset(seed, options)
    bounds = sim.workspace_bounds
    explorer = SmoothRandomExplorer(bounds.low, bounds.high, rng, exploration)
    expert = ScriptedPickPlaceExpert(close_while_lifting=close_while_lifting)
    expert.reset(sim, obs)
    play = GraspPlayPolicy(rng) if kind == "grasp_play" else None
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
              "start_away_from_cube": bool(start_away_from_cube),
              "close_while_lifting": bool(close_while_lifting), "cube_positions": np.asarray(cubes, np.float32)}
    return np.stack(frames), np.stack(states).astype(np.float32), record


class EpisodeSpec(NamedTuple):
    seed: int
    kind: str
    steps: int
    start_near_cube: bool = False
    close_while_lifting: bool = False
    start_away_from_cube: bool = False
    engine: str | None = None  # None: the collection's engine
    appearance: str | None = None  # None: the collection's appearance


def collect_episodes(out: str | Path, engine: str, image_size: int, plan: Iterable[EpisodeSpec],
                     exploration: ExplorationConfig, overwrite: bool = False, progress: bool = True,
                     desc: str = "collecting", position: int = 0, appearance: str = "default",
                     camera: str = "default") -> list[dict]:
    """Record every planned episode to `out/episode_<seed>.npz`; an existing file is kept unless `overwrite`.

    Returns the records of the episodes recorded here (without their cube positions, which go into the files).
    """
    from tqdm.auto import tqdm

    from vjepa_ac.simulation import make_sim

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sim = make_sim(engine, image_size=image_size)
    records = []
    try:
        for spec in tqdm(plan, desc=desc, unit="episode", position=position, disable=not progress):
            if spec.engine not in (None, engine):
                raise ValueError(f"episode {spec.seed} is planned for {spec.engine}, this collection runs {engine}")
            path = out / f"episode_{spec.seed:05d}.npz"
            if path.exists() and not overwrite:
                continue
            frames, states, record = record_episode(sim, spec.seed, spec.kind, spec.steps, exploration,
                                                     start_near_cube=spec.start_near_cube,
                                                     close_while_lifting=spec.close_while_lifting,
                                                     appearance=spec.appearance or appearance, camera=camera,
                                                     start_away_from_cube=spec.start_away_from_cube)
            save_episode(path, frames, states, seed=spec.seed, engine=engine, cube_positions=record.pop("cube_positions"))
            records.append({**record, "file": path.name})
    finally:
        sim.close()
    return records

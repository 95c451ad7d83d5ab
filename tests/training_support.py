"""Shared fixtures for the training tests: tiny world models and a few real simulator episodes."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def tiny_world_model(seed: int = 0, encoder_dim: int = 48, predictor_dim: int = 32):
    from models_support import random_world_model

    generators = (torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1))
    return random_world_model(encoder_dim, 1, predictor_dim, generators=generators)


@functools.cache
def simulator_episodes(seeds: tuple[int, ...] = (11, 12), kind: str = "mixed", max_steps: int = 16):
    """Real MuJoCo episodes at 64 px (cached per test session: rendering is the slow part)."""
    from vjepa_ac.simulation import make_sim
    from vjepa_ac.training.data.collect import record_episode
    from vjepa_ac.training.data.exploration import ExplorationConfig

    sim = make_sim("mujoco", image_size=64)
    try:
        return [record_episode(sim, seed, kind, max_steps, ExplorationConfig())[:2] for seed in seeds]
    finally:
        sim.close()


def write_episodes(directory: Path, episodes) -> Path:
    from vjepa_ac.training.data.episodes import save_episode

    for i, (frames, states) in enumerate(episodes):
        save_episode(directory / f"episode_{i:05d}.npz", frames, states, seed=i, engine="mujoco")
    return directory


def run_module(module: str, *args: str, nproc: int = 1, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m module args` (or under torch.distributed.run with nproc ranks) from the repository root."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", module, *args]
    else:
        cmd = [sys.executable, "-m", module, *args]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def rng_states(rng: np.random.Generator, length: int) -> np.ndarray:
    states = np.zeros((length, 7), dtype=np.float32)
    states[:, :3] = 0.5 + 0.02 * np.cumsum(rng.normal(size=(length, 3)), axis=0)
    states[:, 3] = np.pi
    states[:, 6] = rng.uniform(0, 1, size=length)
    return states

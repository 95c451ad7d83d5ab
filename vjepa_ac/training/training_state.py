"""Resumable training state: optimizer, position in the data, step and every RNG, in one torch file.

Model weights live next to it in the project's safetensors format; this file holds the rest, so that a
resumed run replays exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

STATE_FILE = "training_state.pt"
LATEST_FILE = "latest"


def capture_rng() -> dict[str, Any]:
    # numpy's key array travels as a tensor so the file holds only types torch's weights-only loader accepts.
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached_gaussian)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached_gaussian))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(directory: str | os.PathLike, state: dict[str, Any]) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_training_state(directory: str | os.PathLike) -> dict[str, Any]:
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {STATE_FILE} in {directory}: not a resumable checkpoint")
    # Weights-only: tensors, numbers, strings, lists, tuples and dicts (capture_rng stores nothing else).
    return torch.load(path, map_location="cpu", weights_only=True)


def checkpoint_dir(run_dir: str | os.PathLike, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:08d}"


def mark_latest(run_dir: str | os.PathLike, checkpoint: str | os.PathLike) -> None:
    run_dir = Path(run_dir)
    tmp = run_dir / (LATEST_FILE + ".tmp")
    tmp.write_text(str(Path(checkpoint).resolve()) + "\n")
    os.replace(tmp, run_dir / LATEST_FILE)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    marker = Path(run_dir) / LATEST_FILE
    if not marker.is_file():
        return None
    path = Path(marker.read_text().strip())
    return path if (path / STATE_FILE).is_file() else None


def resume_from_latest(trainer, run_dir: str | os.PathLike) -> Path:
    """`--resume` for either training command: continue from the run's latest checkpoint or fail clearly."""
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise SystemExit(f"error: --resume but no checkpoint in {run_dir}")
    trainer.resume(checkpoint)
    return checkpoint

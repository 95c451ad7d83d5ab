"""Training of the goal-image gripper readout on recorded episodes (`vjepa-ac-train-gripper-readout`).

The readout (`vjepa_ac.models.gripper_readout`) is a small CNN on single frames, labelled with the episode's
gripper closedness setpoint (closed at ≥ 0.5; frames with a setpoint strictly between the `--ambiguous`
bounds are left out), trained with a class-balanced logistic loss. Whole episodes, evenly spaced, are held
out for validation. `--goal-check-seeds N` also renders the grasp and pick-and-place sub-goal images of N
scene seeds from 90000 (below the evaluation seeds, and never collected for training) and reports how many
the readout gets right, which is what the planner uses it for.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vjepa_ac.models.gripper_readout import GripperReadout, decide

__all__ = ["episode_frames", "goal_image_check", "readout_scores", "train_gripper_readout"]

GOAL_CHECK_FIRST_SEED = 90_000  # below the evaluation seeds (100000+), above every collected seed


def episode_frames(files: list[Path], ambiguous: tuple[float, float] = (0.2, 0.8)
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(uint8 frames [N, S, S, 3], closed labels [N], episode index [N]) of the frames of `files` whose
    setpoint is not ambiguous."""
    from vjepa_ac.training.data.episodes import load_episode

    frames, labels, owners = [], [], []
    for index, path in enumerate(files):
        episode = load_episode(path)
        setpoint = episode.states[:, 6]
        keep = (setpoint <= ambiguous[0]) | (setpoint >= ambiguous[1])
        frames.append(torch.from_numpy(episode.frames[keep]))
        labels.append(torch.from_numpy(setpoint[keep] >= 0.5))
        owners.append(torch.full((int(keep.sum()),), index))
    frames_t = torch.cat(frames) if frames else torch.zeros(0, 1, 1, 3, dtype=torch.uint8)
    if len(frames_t) == 0:
        raise ValueError("no frames with an unambiguous gripper setpoint in the given episodes")
    return frames_t, torch.cat(labels), torch.cat(owners)


def readout_scores(readout: GripperReadout, frames: torch.Tensor, closed: torch.Tensor, batch: int = 512) -> dict:
    readout.eval()
    probabilities = np.concatenate([readout.probability_closed(frames[i:i + batch])
                                    for i in range(0, len(frames), batch)])
    predicted = torch.from_numpy(probabilities >= 0.5)
    recall_closed = float((predicted & closed).sum() / max(int(closed.sum()), 1))
    recall_open = float((~predicted & ~closed).sum() / max(int((~closed).sum()), 1))
    return {"frames": len(closed), "closed_fraction": round(float(closed.float().mean()), 4),
            "accuracy": round(float((predicted == closed).float().mean()), 4),
            "balanced_accuracy": round(0.5 * (recall_closed + recall_open), 4)}


def _shifted(frames: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each frame moved by up to `max_shift` px in x and y (edges repeated): the camera is never mounted twice
    the same, and the readout should not memorise single pixels."""
    if max_shift <= 0:
        return frames
    size = frames.shape[1]
    padded = F.pad(frames.permute(0, 3, 1, 2).float(), (max_shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * max_shift + 1, (len(frames), 2), generator=generator)
    out = torch.stack([p[:, y:y + size, x:x + size] for p, (y, x) in zip(padded, offsets.tolist())])
    return out.permute(0, 2, 3, 1).to(torch.uint8)


def train_gripper_readout(frames: torch.Tensor, closed: torch.Tensor, epochs: int = 12, batch_size: int = 128,
                          lr: float = 1e-3, weight_decay: float = 0.01, seed: int = 0, max_shift: int = 0,
                          log=print) -> GripperReadout:
    """Class-balanced logistic loss, AdamW with cosine decay, on uint8 frames [N, S, S, 3], each batch shifted
    by up to `max_shift` px."""
    if frames.ndim != 4 or frames.dtype != torch.uint8 or closed.shape != frames.shape[:1]:
        raise ValueError(f"frames must be uint8 [N, S, S, 3] with one label each, got {tuple(frames.shape)} "
                         f"{frames.dtype} and {tuple(closed.shape)}")
    positives = int(closed.sum())
    if positives == 0 or positives == len(closed):
        raise ValueError("the readout needs both open and closed frames")
    torch.manual_seed(seed)
    readout = GripperReadout(frames.shape[1])
    optimizer = torch.optim.AdamW(readout.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(frames) / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    y = closed.float()
    weights = torch.where(closed, 0.5 / positives, 0.5 / (len(y) - positives)) * len(y)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        readout.train()
        order = torch.randperm(len(frames), generator=generator)
        total = 0.0
        for start in range(0, len(frames), batch_size):
            index = order[start:start + batch_size]
            logits = readout.logits(readout.images_to_pixels(_shifted(frames[index], max_shift, generator)))
            loss = (weights[index] * F.binary_cross_entropy_with_logits(logits, y[index], reduction="none")).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
        log(f"epoch {epoch + 1}/{epochs}: loss {total / len(frames):.4f}")
    return readout.eval()


GOAL_IMAGE_NAMES = {
    "grasp": ["grasp 1: open hand at the grasp pose", "grasp 2: cube lifted in the closed hand"],
    "pick-and-place": ["pick-and-place 1: open hand at the grasp pose", "pick-and-place 2: cube held above the target",
                       "pick-and-place 3: cube placed, open hand above it"],
}


def goal_image_check(readout: GripperReadout, seeds: int, min_confidence: float,
                     first_seed: int = GOAL_CHECK_FIRST_SEED, camera: str = "default") -> dict:
    """How the readout labels the grasp and pick-and-place sub-goal images of `seeds` scenes.

    Per image kind: right (the readout's decision equals the sub-goal's gripper), wrong, and undecided
    (less sure than `min_confidence`: the planner then holds the gripper), plus the probabilities.
    """
    from vjepa_ac.evaluation.tasks import make_task
    from vjepa_ac.simulation import make_sim

    results = {name: {"right": 0, "wrong": 0, "undecided": 0, "probabilities": []}
               for names in GOAL_IMAGE_NAMES.values() for name in names}
    sim = make_sim("mujoco", image_size=readout.image_size)
    try:
        for task_name, names in GOAL_IMAGE_NAMES.items():
            task = make_task(task_name, protocol="near-cube", camera=camera)  # the images GOAL_IMAGE_NAMES names
            for seed in range(first_seed, first_seed + seeds):
                _, setup = task.setup(sim, seed)
                for name, image, pose in zip(names, setup.goal_images, setup.info["subgoal_ee_poses"]):
                    entry = results[name]
                    probability = float(readout.probability_closed(image)[0])
                    decision = decide(probability, min_confidence)
                    entry["probabilities"].append(round(probability, 4))
                    key = "undecided" if decision is None else ("right" if decision == float(pose[6]) else "wrong")
                    entry[key] += 1
    finally:
        sim.close()
    return {"seeds": [first_seed, first_seed + seeds - 1], "min_confidence": min_confidence, "images": results}

"""The training loop both trainers share: fit, checkpoints and exact resume.

A checkpoint is a directory `RUN/checkpoints/step_N` holding the model weights (each trainer writes its own
format) and `training_state.pt`: optimizer, step, position in the data and every RNG, so a resumed run replays
exactly the steps an uninterrupted run would have taken. `RUN/latest` names the newest checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vjepa_ac.training.data.sampling import ResumableDistributedSampler
from vjepa_ac.training.distributed import DistContext, barrier
from vjepa_ac.training.metrics_log import MetricsLogger
from vjepa_ac.training.optim import WarmupCosine, build_adamw, set_lr

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


def jsonable(value: Any) -> Any:
    """Plain JSON types only (nested dataclasses as dicts, tuples as lists): what config.json and the
    weights-only loader both accept."""
    return json.loads(json.dumps(value, default=lambda o: dataclasses.asdict(o) if dataclasses.is_dataclass(o) else str(o)))


class Trainer:
    """fit / save_checkpoint / resume for a module trained with AdamW + warm-up-cosine on a resumable sampler.

    A subclass sets `kind`, `title`, `metric_fields` and `log_key` (a metric that is always logged when present)
    and implements `train_step(batch)` (which advances `self.step`), `save_weights(directory)` and
    `load_weights(directory)`. Its config needs steps, batch_size, lr, start_lr, final_lr, resolved_warmup,
    weight_decay, grad_clip, seed, log_every, checkpoint_every, stop_at and num_workers.
    """

    kind = ""
    title = ""
    metric_fields: list[str] = []
    log_key = ""
    same_world_size = False  # resuming needs the same ranks, not only the same global batch

    def __init__(self, module: torch.nn.Module, dataset, config, run_dir, ctx: DistContext, progress: bool = True):
        self.config = config
        self.ctx = ctx
        self.run_dir = Path(run_dir)
        self.progress = progress and ctx.is_main
        self.dataset = dataset
        self.module = module
        self.model = (
            DistributedDataParallel(module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
            if ctx.distributed
            else module
        )
        self.optimizer = build_adamw(module, config.lr, config.weight_decay)
        self.schedule = WarmupCosine(config.start_lr, config.lr, config.final_lr, config.resolved_warmup, config.steps)
        self.sampler = ResumableDistributedSampler(dataset, config.batch_size, ctx.world_size, ctx.rank, config.seed)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

    # -- one step -------------------------------------------------------------------------------------
    def start_step(self) -> float:
        """Set this step's learning rate and clear the gradients; returns the learning rate."""
        lr = self.schedule(self.step)
        set_lr(self.optimizer, lr)
        self.optimizer.zero_grad(set_to_none=True)
        return lr

    def apply_gradients(self, loss: torch.Tensor) -> float:
        """Backward, clip (grad_clip 0: off) and step; returns the gradient norm before clipping."""
        loss.backward()
        params = [p for p in self.module.parameters() if p.requires_grad]
        max_norm = self.config.grad_clip if self.config.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        self.optimizer.step()
        return float(grad_norm)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError

    def after_step(self, metrics: dict[str, float], last: int) -> None:
        """Extra metrics after a step (e.g. validation losses)."""

    # -- loop -----------------------------------------------------------------------------------------
    def _loader(self) -> DataLoader:
        self.sampler.set_position(self.epoch, self.batch_in_epoch)
        return DataLoader(self.dataset, batch_size=self.config.batch_size, sampler=self.sampler, drop_last=True,
                          num_workers=self.config.num_workers, pin_memory=self.ctx.device.type == "cuda")

    def fit(self) -> list[dict[str, float]]:
        """Train until `steps` (or `stop_at`), checkpointing at the end; returns the metrics of every step run here."""
        from tqdm.auto import tqdm

        cfg = self.config
        last = cfg.steps if cfg.stop_at is None else min(cfg.stop_at, cfg.steps)
        logger = MetricsLogger(self.run_dir / "metrics.csv", self.metric_fields, resume_step=self.step,
                               tensorboard_dir=self.run_dir / "tensorboard", enabled=self.ctx.is_main)
        history = []
        bar = tqdm(total=last, initial=self.step, desc=self.title, unit="step", disable=not self.progress)
        try:
            while self.step < last:
                for batch in self._loader():
                    metrics = self.train_step(batch)
                    self.batch_in_epoch += 1
                    self.after_step(metrics, last)
                    history.append(metrics)
                    if self.step % cfg.log_every == 0 or self.step == last or self.log_key in metrics:
                        logger.log(self.step, metrics)
                    bar.update(1)
                    bar.set_postfix(loss=f"{metrics['loss']:.4f}", lr=f"{metrics['lr']:.2e}")
                    if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.step < last:
                        self.save_checkpoint()
                    if self.step >= last:
                        break
                if self.batch_in_epoch >= self.sampler.batches_per_epoch:
                    self.epoch += 1
                    self.batch_in_epoch = 0
            self.save_checkpoint()
        finally:
            bar.close()
            logger.close()
        return history

    # -- checkpoints ----------------------------------------------------------------------------------
    def save_weights(self, directory: Path) -> None:
        raise NotImplementedError

    def load_weights(self, directory: Path) -> None:
        raise NotImplementedError

    def save_checkpoint(self) -> Path:
        directory = checkpoint_dir(self.run_dir, self.step)
        if self.ctx.is_main:
            self.save_weights(directory)
            save_training_state(directory, {
                "kind": self.kind, "step": self.step, "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch, "world_size": self.ctx.world_size,
                "optimizer": self.optimizer.state_dict(), "rng": capture_rng(),
                "config": jsonable(dataclasses.asdict(self.config)),
            })  # fmt: skip
            mark_latest(self.run_dir, directory)
        barrier()
        return directory

    def resume(self, checkpoint: str | os.PathLike) -> None:
        """Restore weights, optimizer, data position and RNG from a checkpoint directory."""
        state = load_training_state(checkpoint)
        if state.get("kind") != self.kind:
            raise ValueError(f"{checkpoint}: not a {self.title} checkpoint (kind {state.get('kind')!r})")
        if self.same_world_size and state["world_size"] != self.ctx.world_size:
            raise ValueError(f"{checkpoint}: saved with {state['world_size']} ranks, now {self.ctx.world_size}")
        if state["world_size"] * state["config"]["batch_size"] != self.ctx.world_size * self.config.batch_size:
            raise ValueError(
                f"{checkpoint}: global batch was {state['world_size']} x {state['config']['batch_size']}, now "
                f"{self.ctx.world_size} x {self.config.batch_size}; the data order would not continue"
            )
        self.load_weights(Path(checkpoint))
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        if self.batch_in_epoch >= self.sampler.batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        restore_rng(state["rng"])

"""V-JEPA 2-AC post-training: the action-conditioned predictor learns on a frozen encoder's tokens.

One optimisation step = teacher-forcing L1 + rollout L1 (`losses.ac_losses`) on a global batch that
is split over DDP ranks; AdamW with warm-up + cosine learning rate, gradient clipping, bf16 autocast
on GPU. Checkpoints are world-model directories in our safetensors format plus `training_state.pt`,
so `resume()` continues with exactly the losses an uninterrupted run would have produced.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from vjepa_ac.models.checkpoints import load_world_model, save_world_model
from vjepa_ac.training.distributed import DistContext, all_reduce_mean
from vjepa_ac.training.loop import Trainer
from vjepa_ac.training.losses import ac_losses
from vjepa_ac.training.optim import autocast_context


@dataclass
class ACTrainConfig:
    steps: int = 1000  # total optimisation steps (sets the schedule)
    batch_size: int = 8  # per rank; global batch = batch_size x world size
    lr: float = 4.25e-4
    start_lr: float = 7.5e-5
    final_lr: float = 1e-6
    warmup_steps: int | None = None  # None: 5% of steps (the reference warms up 15 of 315 epochs)
    weight_decay: float = 0.04
    grad_clip: float = 1.0  # 0 disables clipping
    rollout_steps: int = 2
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp32
    seed: int = 0
    log_every: int = 1
    checkpoint_every: int = 0  # 0: only at the end
    eval_every: int = 0  # validation every n steps (and at the end) when a validation set is given; 0: end only
    stop_at: int | None = None  # leave the loop early (checkpointing first), e.g. for a time-limited job
    num_workers: int = 0

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.log_every < 1:
            raise ValueError("steps, batch_size and log_every must be >= 1")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be auto, bf16 or fp32, got {self.precision!r}")
        if self.grad_clip < 0 or self.checkpoint_every < 0 or self.eval_every < 0:
            raise ValueError("grad_clip, checkpoint_every and eval_every must be >= 0")

    @property
    def resolved_warmup(self) -> int:
        return max(0, round(0.05 * self.steps)) if self.warmup_steps is None else self.warmup_steps


def loss_fields(rollout_steps: int, prefix: str = "") -> list[str]:
    names = ["loss", "loss_teacher_forcing", "loss_rollout", *[f"rollout_l1_step{k + 1}" for k in range(rollout_steps)]]
    return [prefix + n for n in names]


def metric_fields(rollout_steps: int) -> list[str]:
    return ["epoch", "lr", *loss_fields(rollout_steps), "grad_norm", "clips_per_s", *loss_fields(rollout_steps, "val_")]


class ACTrainer(Trainer):
    """Trains `world_model.predictor`; `world_model.encoder` stays frozen and is used only for raw-frame batches.

    `dataset` items hold `tokens` [T, HW, D] (a token cache) or `frames` uint8 [T, S, S, 3], plus
    `states` [T, 7] and `actions` [T-1, 7].
    """

    kind = "ac_post_training"
    title = "AC post-training"
    log_key = "val_loss"

    def __init__(self, world_model, dataset, config: ACTrainConfig, run_dir, ctx: DistContext,
                 metadata: dict[str, Any] | None = None, progress: bool = True, val_dataset=None):
        self.metadata = dict(metadata or {})
        self.world_model = world_model.to(ctx.device)
        self.encoder = world_model.encoder.eval()
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.predictor = world_model.predictor.train()
        if not self.predictor.config.use_extrinsics:
            # Unused parameters would stall DDP's gradient reduction; they are not trained anyway.
            for p in self.predictor.extrinsics_encoder.parameters():
                p.requires_grad_(False)
        self.val_dataset = val_dataset
        self.metric_fields = metric_fields(config.rollout_steps)
        super().__init__(self.predictor, dataset, config, run_dir, ctx, progress)

    # -- one step -------------------------------------------------------------------------------------
    def tokens_of(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if "tokens" in batch:
            return batch["tokens"].to(self.ctx.device, non_blocking=True)
        frames = batch["frames"]
        b, t = frames.shape[:2]
        tokens = self.world_model.encode(frames.reshape(b * t, *frames.shape[2:]))
        # clone(): a normal tensor even if encode() ran under inference_mode.
        return tokens.reshape(b, t, *tokens.shape[1:]).float().clone()

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        started = time.perf_counter()
        tokens = self.tokens_of(batch)
        states = batch["states"].to(self.ctx.device)
        actions = batch["actions"].to(self.ctx.device)
        lr = self.start_step()
        with autocast_context(self.ctx.device, cfg.precision):
            losses = ac_losses(self.model, tokens, actions, states, cfg.rollout_steps)
        grad_norm = self.apply_gradients(losses.total)
        self.step += 1
        reported = torch.cat([
            torch.stack([losses.total.detach(), losses.teacher_forcing.detach(), losses.rollout.detach()]).float(),
            losses.rollout_per_step.float(),
        ])
        reported = all_reduce_mean(reported)
        elapsed = time.perf_counter() - started
        metrics = dict(zip(loss_fields(cfg.rollout_steps), reported.tolist(), strict=True))
        metrics.update({"epoch": float(self.epoch), "lr": lr, "grad_norm": grad_norm,
                        "clips_per_s": cfg.batch_size * self.ctx.world_size / elapsed})
        return metrics

    @torch.no_grad()
    def evaluate(self, dataset, batch_size: int | None = None) -> dict[str, float]:
        """Mean losses over a whole dataset (every clip once), computed by each rank identically."""
        cfg = self.config
        loader = DataLoader(dataset, batch_size=batch_size or cfg.batch_size, shuffle=False,
                            num_workers=cfg.num_workers)
        self.predictor.eval()
        totals, count = None, 0
        try:
            for batch in loader:
                with autocast_context(self.ctx.device, cfg.precision):
                    losses = ac_losses(self.predictor, self.tokens_of(batch), batch["actions"].to(self.ctx.device),
                                       batch["states"].to(self.ctx.device), cfg.rollout_steps)
                values = torch.cat([torch.stack([losses.total, losses.teacher_forcing, losses.rollout]).float(),
                                    losses.rollout_per_step.float()]) * len(batch["states"])
                totals = values if totals is None else totals + values
                count += len(batch["states"])
        finally:
            self.predictor.train()
        if count == 0:
            raise ValueError("validation dataset is empty")
        return dict(zip(loss_fields(cfg.rollout_steps, "val_"), (totals / count).tolist(), strict=True))

    def after_step(self, metrics: dict[str, float], last: int) -> None:
        every = self.config.eval_every
        if self.val_dataset is not None and (self.step == last or (every and self.step % every == 0)):
            metrics.update(self.evaluate(self.val_dataset))

    def save_weights(self, directory: Path) -> None:
        metadata = {**self.metadata, "step": self.step, "trainer": self.kind,
                    "train_config": dataclasses.asdict(self.config)}
        save_world_model(self.world_model, directory, metadata)

    def load_weights(self, directory: Path) -> None:
        self.predictor.load_state_dict(load_world_model(directory).predictor.state_dict())

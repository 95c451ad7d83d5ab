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
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vjepa_ac.models.checkpoints import load_world_model, save_world_model
from vjepa_ac.training import training_state
from vjepa_ac.training.distributed import DistContext, all_reduce_mean, barrier
from vjepa_ac.training.losses import ac_losses
from vjepa_ac.training.metrics_log import MetricsLogger
from vjepa_ac.training.optim import autocast_context, build_adamw
from vjepa_ac.training.sampling import ResumableDistributedSampler
from vjepa_ac.training.schedules import WarmupCosine, set_lr


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


class ACTrainer:
    """Trains `world_model.predictor`; `world_model.encoder` stays frozen and is used only for raw-frame batches.

    `dataset` items hold `tokens` [T, HW, D] (a token cache) or `frames` uint8 [T, S, S, 3], plus
    `states` [T, 7] and `actions` [T-1, 7].
    """

    def __init__(self, world_model, dataset, config: ACTrainConfig, run_dir, ctx: DistContext,
                 metadata: dict[str, Any] | None = None, progress: bool = True, val_dataset=None):
        self.config = config
        self.ctx = ctx
        self.run_dir = Path(run_dir)
        self.metadata = dict(metadata or {})
        self.progress = progress and ctx.is_main
        self.world_model = world_model.to(ctx.device)
        self.encoder = world_model.encoder.eval()
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.predictor = world_model.predictor.train()
        if not self.predictor.config.use_extrinsics:
            # Unused parameters would stall DDP's gradient reduction; they are not trained anyway.
            for p in self.predictor.extrinsics_encoder.parameters():
                p.requires_grad_(False)
        self.model = (
            DistributedDataParallel(self.predictor, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
            if ctx.distributed
            else self.predictor
        )
        self.optimizer = build_adamw(self.predictor, config.lr, config.weight_decay)
        self.schedule = WarmupCosine(config.start_lr, config.lr, config.final_lr, config.resolved_warmup, config.steps)
        self.dataset = dataset
        self.val_dataset = val_dataset
        self.sampler = ResumableDistributedSampler(dataset, config.batch_size, ctx.world_size, ctx.rank, config.seed)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

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
        lr = self.schedule(self.step)
        set_lr(self.optimizer, lr)
        self.optimizer.zero_grad(set_to_none=True)
        with autocast_context(self.ctx.device, cfg.precision):
            losses = ac_losses(self.model, tokens, actions, states, cfg.rollout_steps)
        losses.total.backward()
        params = [p for p in self.predictor.parameters() if p.requires_grad]
        if cfg.grad_clip > 0:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        else:
            grad_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params if p.grad is not None]))
        self.optimizer.step()
        self.step += 1
        reported = torch.cat([
            torch.stack([losses.total.detach(), losses.teacher_forcing.detach(), losses.rollout.detach()]).float(),
            losses.rollout_per_step.float(),
        ])
        reported = all_reduce_mean(reported)
        elapsed = time.perf_counter() - started
        metrics = dict(zip(loss_fields(cfg.rollout_steps), reported.tolist(), strict=True))
        metrics.update({"epoch": float(self.epoch), "lr": lr, "grad_norm": float(grad_norm),
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

    # -- loop -----------------------------------------------------------------------------------------
    def _loader(self) -> DataLoader:
        self.sampler.set_position(self.epoch, self.batch_in_epoch)
        return DataLoader(self.dataset, batch_size=self.config.batch_size, sampler=self.sampler, drop_last=True,
                          num_workers=self.config.num_workers, pin_memory=self.ctx.device.type == "cuda")

    def fit(self) -> list[dict[str, float]]:
        """Train until `steps` (or `stop_at`); returns the metrics of every step run here."""
        from tqdm.auto import tqdm

        cfg = self.config
        last = cfg.steps if cfg.stop_at is None else min(cfg.stop_at, cfg.steps)
        logger = MetricsLogger(self.run_dir / "metrics.csv", metric_fields(cfg.rollout_steps), resume_step=self.step,
                               tensorboard_dir=self.run_dir / "tensorboard", enabled=self.ctx.is_main)
        history = []
        bar = tqdm(total=last, initial=self.step, desc="AC post-training", unit="step", disable=not self.progress)
        try:
            while self.step < last:
                for batch in self._loader():
                    metrics = self.train_step(batch)
                    self.batch_in_epoch += 1
                    if self.val_dataset is not None and (
                        self.step == last or (cfg.eval_every and self.step % cfg.eval_every == 0)
                    ):
                        metrics.update(self.evaluate(self.val_dataset))
                    history.append(metrics)
                    if self.step % cfg.log_every == 0 or self.step == last or "val_loss" in metrics:
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
    def save_checkpoint(self) -> Path:
        directory = training_state.checkpoint_dir(self.run_dir, self.step)
        if self.ctx.is_main:
            metadata = {**self.metadata, "step": self.step, "trainer": "ac_post_training",
                        "train_config": dataclasses.asdict(self.config)}
            save_world_model(self.world_model, directory, metadata)
            training_state.save_training_state(directory, {
                "kind": "ac_post_training", "step": self.step, "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch, "world_size": self.ctx.world_size,
                "optimizer": self.optimizer.state_dict(), "rng": training_state.capture_rng(),
                "config": dataclasses.asdict(self.config),
            })  # fmt: skip
            training_state.mark_latest(self.run_dir, directory)
        barrier()
        return directory

    def resume(self, checkpoint: str | Path) -> None:
        """Restore predictor weights, optimizer, data position and RNG from a checkpoint directory."""
        state = training_state.load_training_state(checkpoint)
        if state.get("kind") != "ac_post_training":
            raise ValueError(f"{checkpoint}: not an AC post-training checkpoint (kind {state.get('kind')!r})")
        if state["world_size"] * state["config"]["batch_size"] != self.ctx.world_size * self.config.batch_size:
            raise ValueError(
                f"{checkpoint}: global batch was {state['world_size']} x {state['config']['batch_size']}, now "
                f"{self.ctx.world_size} x {self.config.batch_size}; the data order would not continue"
            )
        saved = load_world_model(checkpoint)
        self.predictor.load_state_dict(saved.predictor.state_dict())
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        if self.batch_in_epoch >= self.sampler.batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        training_state.restore_rng(state["rng"])

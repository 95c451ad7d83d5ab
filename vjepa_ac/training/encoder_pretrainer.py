"""V-JEPA mask-denoising pre-training of a (small) video encoder.

Per step: sample multi-block masks; the context encoder sees only the unmasked tokens; the narrow
predictor fills in the masked positions; the EMA target encoder (no gradient) encodes the full clip;
L1 between predictions and the layer-normed target features at the masked tokens. The target
encoder follows the context encoder with a momentum that ramps towards 1. Collapse monitors (per-dim
std, effective rank) of the target features are logged, since a JEPA can silently collapse.

Optional gripper probe (`gripper_probe_weight`, off by default): the V-JEPA loss leaves the few pixels of
the fingers out of small encoders' tokens (open and closed hands at the cube differ by 0.0001-0.0017 in
the planner's energy), so a planner scoring tokens cannot choose the gripper. The probe asks a fixed
readout of still-frame tokens, the mean of the first `gripper_probe_channels` layer-normed channels, to
equal the frame's closedness setpoint mapped to [-1, 1]. Nothing learned is discarded, and the encoder's
architecture and inputs are unchanged. The EMA target takes up only what the student learns while the
momentum is still below 1 (docs/embedded_model.md).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vjepa_ac.models import EncoderConfig, VisionEncoder, normalize_tokens
from vjepa_ac.training import training_state
from vjepa_ac.training.collapse import collapse_metrics
from vjepa_ac.training.distributed import DistContext, all_reduce_mean, barrier
from vjepa_ac.training.ema import ema_update, make_target, momentum_at
from vjepa_ac.training.losses import masked_token_l1
from vjepa_ac.training.mask_predictor import MaskDenoisingPredictor
from vjepa_ac.training.masked_encoder import encode_token_subset, token_grid, video_to_clip
from vjepa_ac.training.masks import LONG_RANGE, SHORT_RANGE, BlockMaskSpec, MultiBlockMasker
from vjepa_ac.training.metrics_log import MetricsLogger
from vjepa_ac.training.optim import autocast_context, build_adamw
from vjepa_ac.training.sampling import ResumableDistributedSampler
from vjepa_ac.training.schedules import WarmupCosine, set_lr

CHECKPOINT_FORMAT = "vjepa_ac.encoder_pretraining"
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class PretrainConfig:
    steps: int = 1000
    batch_size: int = 8  # per rank
    lr: float = 1e-3
    start_lr: float = 1e-4
    final_lr: float = 1e-6
    warmup_steps: int | None = None  # None: 10% of steps
    weight_decay: float = 0.04
    grad_clip: float = 1.0
    ema_start: float = 0.998
    ema_end: float = 1.0
    mask_specs: list[BlockMaskSpec] = field(default_factory=lambda: [SHORT_RANGE, LONG_RANGE])
    min_context: int = 1
    precision: str = "auto"
    seed: int = 0
    log_every: int = 1
    collapse_every: int = 10
    checkpoint_every: int = 0
    stop_at: int | None = None
    num_workers: int = 0
    gripper_probe_weight: float = 0.0
    gripper_probe_channels: int = 8

    def __post_init__(self):
        if self.gripper_probe_weight < 0 or self.gripper_probe_channels < 1:
            raise ValueError("gripper_probe_weight must be >= 0 and gripper_probe_channels >= 1")
        if self.steps < 1 or self.batch_size < 1 or self.log_every < 1 or self.collapse_every < 1:
            raise ValueError("steps, batch_size, log_every and collapse_every must be >= 1")
        if not self.mask_specs:
            raise ValueError("at least one mask spec is needed")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be auto, bf16 or fp32, got {self.precision!r}")

    @property
    def resolved_warmup(self) -> int:
        return max(0, round(0.1 * self.steps)) if self.warmup_steps is None else self.warmup_steps


METRIC_FIELDS = ["epoch", "lr", "ema_momentum", "loss", "grad_norm", "mask_ratio", "clips_per_s",
                 "embed_std_mean", "embed_std_min", "effective_rank", "gripper_probe_loss"]


def gripper_probe(tokens: torch.Tensor, channels: int) -> torch.Tensor:
    """Readout [B] of encoder outputs [B, N, D]: mean of the first `channels` layer-normed channels.

    Normalised as the planner's energy normalises tokens, so the readout's range is the range the energy sees.
    """
    if channels > tokens.shape[-1]:
        raise ValueError(f"gripper probe uses {channels} channels, the encoder has {tokens.shape[-1]}")
    normed = normalize_tokens(tokens.float())
    return normed[..., :channels].mean(dim=(1, 2))


def gripper_probe_target(closedness: torch.Tensor) -> torch.Tensor:
    """Closedness setpoint 0 (open) .. 1 (closed) -> -1 .. 1."""
    return 2.0 * closedness.float().clamp(0.0, 1.0) - 1.0


class JEPAStudent(nn.Module):
    """Context encoder + mask predictor as one module, so a single DDP wrapper reduces both."""

    def __init__(self, encoder: VisionEncoder, predictor: MaskDenoisingPredictor):
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor

    def forward(self, clip: torch.Tensor, context_index: torch.Tensor, target_index: torch.Tensor,
                still_clips: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Masked-token predictions, and the full encoding of `still_clips` when given (the gripper probe)."""
        context = encode_token_subset(self.encoder, clip, context_index)
        predicted = self.predictor(context, context_index, target_index, token_grid(self.encoder, clip))
        return predicted, (None if still_clips is None else self.encoder(still_clips))


class EncoderPretrainer:
    """`dataset` items hold `frames` uint8 [T, S, S, 3] (T a multiple of the tubelet size)."""

    def __init__(self, encoder: VisionEncoder, predictor: MaskDenoisingPredictor, dataset, config: PretrainConfig,
                 run_dir, ctx: DistContext, progress: bool = True):
        self.config = config
        self.ctx = ctx
        self.run_dir = Path(run_dir)
        self.progress = progress and ctx.is_main
        self.dataset = dataset
        sample = dataset[0]["frames"]
        frames = sample.shape[0]
        enc_cfg = encoder.config
        if frames % enc_cfg.tubelet_size:
            raise ValueError(f"clips have {frames} frames, not a multiple of the tubelet size {enc_cfg.tubelet_size}")
        self.grid = (frames // enc_cfg.tubelet_size, enc_cfg.grid_size, enc_cfg.grid_size)
        self.maskers = [MultiBlockMasker(self.grid, spec, config.min_context) for spec in config.mask_specs]
        self.student = JEPAStudent(encoder, predictor).to(ctx.device).train()
        self.target = make_target(encoder).to(ctx.device)
        self.model = (
            DistributedDataParallel(self.student, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
            if ctx.distributed
            else self.student
        )
        self.optimizer = build_adamw(self.student, config.lr, config.weight_decay)
        self.schedule = WarmupCosine(config.start_lr, config.lr, config.final_lr, config.resolved_warmup, config.steps)
        self.sampler = ResumableDistributedSampler(dataset, config.batch_size, ctx.world_size, ctx.rank, config.seed)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0

    @property
    def encoder(self) -> VisionEncoder:
        return self.student.encoder

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.config
        started = time.perf_counter()
        clip = video_to_clip(batch["frames"].to(self.ctx.device), self.encoder.config.image_size)
        batch_size = clip.shape[0]
        # Seeded by (seed, step, rank): reproducible after a resume with no generator state to carry.
        generator = torch.Generator().manual_seed((cfg.seed * 1_000_003 + self.step) * 4096 + self.ctx.rank)
        masks = [m.sample_batch(batch_size, generator) for m in self.maskers]
        still_clips, probe_target = self._gripper_probe_batch(batch, generator) if cfg.gripper_probe_weight else (None, None)
        lr = self.schedule(self.step)
        set_lr(self.optimizer, lr)
        self.optimizer.zero_grad(set_to_none=True)
        with autocast_context(self.ctx.device, cfg.precision):
            with torch.no_grad():
                targets = self.target(clip)
            losses = []
            probe_loss = None
            for k, (context_index, target_index) in enumerate(masks):
                context_index, target_index = context_index.to(self.ctx.device), target_index.to(self.ctx.device)
                predicted, still_tokens = self.model(clip, context_index, target_index,
                                                     still_clips if k == 0 else None)
                losses.append(masked_token_l1(predicted, targets, target_index))
                if still_tokens is not None:
                    readout = gripper_probe(still_tokens, cfg.gripper_probe_channels)
                    probe_loss = (readout - probe_target).abs().mean()
            loss = torch.stack(losses).mean()
            total = loss if probe_loss is None else loss + cfg.gripper_probe_weight * probe_loss
        total.backward()
        params = [p for p in self.student.parameters() if p.requires_grad]
        max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        self.optimizer.step()
        momentum = momentum_at(self.step, cfg.steps, cfg.ema_start, cfg.ema_end)
        ema_update(self.target, self.encoder, momentum)
        self.step += 1
        tokens = sum(self.grid[0] * self.grid[1] * self.grid[2] for _ in masks)
        mask_ratio = sum(t.shape[1] for _, t in masks) / tokens
        metrics = {
            "epoch": float(self.epoch), "lr": lr, "ema_momentum": momentum,
            "loss": float(all_reduce_mean(loss.detach().float())), "grad_norm": float(grad_norm),
            "mask_ratio": mask_ratio, "clips_per_s": batch_size * self.ctx.world_size / (time.perf_counter() - started),
        }  # fmt: skip
        if probe_loss is not None:
            metrics["gripper_probe_loss"] = float(all_reduce_mean(probe_loss.detach().float()))
        if self.step % cfg.collapse_every == 0 or self.step in (1, cfg.steps):
            metrics.update(collapse_metrics(targets.float()))
        return metrics

    def _gripper_probe_batch(self, batch, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One random frame per clip, as the world model encodes a still (repeated over the tubelet),
        and its closedness target."""
        if "states" not in batch:
            raise ValueError("the gripper probe needs `states` in the dataset's items (gripper closedness)")
        frames, states = batch["frames"], batch["states"]
        pick = torch.randint(frames.shape[1], (frames.shape[0],), generator=generator)
        rows = torch.arange(frames.shape[0])
        stills = frames[rows, pick].unsqueeze(1).expand(-1, self.encoder.config.tubelet_size, -1, -1, -1)
        still_clips = video_to_clip(stills.contiguous().to(self.ctx.device), self.encoder.config.image_size)
        return still_clips, gripper_probe_target(states[rows, pick, 6]).to(self.ctx.device)

    def _loader(self) -> DataLoader:
        self.sampler.set_position(self.epoch, self.batch_in_epoch)
        return DataLoader(self.dataset, batch_size=self.config.batch_size, sampler=self.sampler, drop_last=True,
                          num_workers=self.config.num_workers, pin_memory=self.ctx.device.type == "cuda")

    def fit(self) -> list[dict[str, float]]:
        from tqdm.auto import tqdm

        cfg = self.config
        last = cfg.steps if cfg.stop_at is None else min(cfg.stop_at, cfg.steps)
        logger = MetricsLogger(self.run_dir / "metrics.csv", METRIC_FIELDS, resume_step=self.step,
                               tensorboard_dir=self.run_dir / "tensorboard", enabled=self.ctx.is_main)
        history = []
        bar = tqdm(total=last, initial=self.step, desc="V-JEPA pre-training", unit="step", disable=not self.progress)
        try:
            while self.step < last:
                for batch in self._loader():
                    metrics = self.train_step(batch)
                    self.batch_in_epoch += 1
                    history.append(metrics)
                    if self.step % cfg.log_every == 0 or self.step == last or "effective_rank" in metrics:
                        logger.log(self.step, metrics)
                    bar.update(1)
                    bar.set_postfix(loss=f"{metrics['loss']:.4f}")
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

    def save_checkpoint(self) -> Path:
        directory = training_state.checkpoint_dir(self.run_dir, self.step)
        if self.ctx.is_main:
            save_pretraining_weights(directory, self.encoder, self.target, self.student.predictor,
                                     {"step": self.step, "train_config": _jsonable(dataclasses.asdict(self.config))})
            training_state.save_training_state(directory, {
                "kind": "encoder_pretraining", "step": self.step, "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch, "world_size": self.ctx.world_size,
                "optimizer": self.optimizer.state_dict(), "rng": training_state.capture_rng(),
                "config": _jsonable(dataclasses.asdict(self.config)),
            })  # fmt: skip
            training_state.mark_latest(self.run_dir, directory)
        barrier()
        return directory

    def resume(self, checkpoint: str | Path) -> None:
        state = training_state.load_training_state(checkpoint)
        if state.get("kind") != "encoder_pretraining":
            raise ValueError(f"{checkpoint}: not an encoder pre-training checkpoint (kind {state.get('kind')!r})")
        if state["world_size"] != self.ctx.world_size:
            raise ValueError(f"{checkpoint}: saved with {state['world_size']} ranks, now {self.ctx.world_size}")
        tensors = load_file(str(Path(checkpoint) / WEIGHTS_FILE))
        for prefix, module in (("context_encoder.", self.encoder), ("target_encoder.", self.target),
                               ("mask_predictor.", self.student.predictor)):
            module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        if self.batch_in_epoch >= self.sampler.batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        training_state.restore_rng(state["rng"])


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: dataclasses.asdict(o) if dataclasses.is_dataclass(o) else str(o)))


def save_pretraining_weights(directory, encoder: VisionEncoder, target: VisionEncoder,
                             predictor: MaskDenoisingPredictor, metadata: dict[str, Any]) -> Path:
    """safetensors (`context_encoder.*`, `target_encoder.*`, `mask_predictor.*`) + `config.json`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for prefix, module in (("context_encoder.", encoder), ("target_encoder.", target), ("mask_predictor.", predictor)):
        for name, value in module.state_dict().items():
            tensors[prefix + name] = value.detach().to("cpu").contiguous().clone()
    save_file(tensors, str(directory / WEIGHTS_FILE))
    config = {"format": CHECKPOINT_FORMAT, "encoder": encoder.config.to_dict(),
              "mask_predictor": predictor.config.to_dict(), "metadata": metadata}
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return directory


def is_pretraining_checkpoint(path: str | Path) -> bool:
    path = Path(path)
    if not (path / CONFIG_FILE).is_file():
        return False
    try:
        return json.loads((path / CONFIG_FILE).read_text()).get("format") == CHECKPOINT_FORMAT
    except json.JSONDecodeError:
        return False


def load_pretrained_encoder(path: str | Path, which: str = "target_encoder") -> VisionEncoder:
    """The EMA target encoder (what V-JEPA keeps) of a pre-training checkpoint, frozen in eval mode."""
    path = Path(path)
    if not is_pretraining_checkpoint(path):
        raise ValueError(f"{path}: not an encoder pre-training checkpoint ({CONFIG_FILE} with format {CHECKPOINT_FORMAT})")
    if which not in ("target_encoder", "context_encoder"):
        raise ValueError(f"which must be target_encoder or context_encoder, got {which!r}")
    config = json.loads((path / CONFIG_FILE).read_text())
    encoder = VisionEncoder(EncoderConfig.from_dict(config["encoder"]))
    tensors = load_file(str(path / WEIGHTS_FILE))
    prefix = which + "."
    encoder.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
    for p in encoder.parameters():
        p.requires_grad_(False)
    return encoder.eval()

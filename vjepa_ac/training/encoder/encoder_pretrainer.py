"""V-JEPA mask-denoising pre-training of a (small) video encoder.

Per step: sample multi-block masks; the context encoder sees only the unmasked tokens; the narrow
predictor fills in the masked positions; the EMA target encoder (no gradient) encodes the full clip;
L1 between predictions and the layer-normed target features at the masked tokens. The target
encoder follows the context encoder with a momentum that ramps towards 1. Collapse monitors (per-dim
std, effective rank) of the target features are logged, since a JEPA can silently collapse.
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

from vjepa_ac.models import EncoderConfig, VisionEncoder
from vjepa_ac.training.distributed import DistContext, all_reduce_mean
from vjepa_ac.training.encoder.collapse import collapse_metrics
from vjepa_ac.training.encoder.ema import ema_update, make_target, momentum_at
from vjepa_ac.training.encoder.mask_predictor import MaskDenoisingPredictor
from vjepa_ac.training.encoder.masked_encoder import encode_token_subset, token_grid, video_to_clip
from vjepa_ac.training.encoder.masks import LONG_RANGE, SHORT_RANGE, BlockMaskSpec, MultiBlockMasker
from vjepa_ac.training.loop import Trainer, jsonable
from vjepa_ac.training.losses import masked_token_l1
from vjepa_ac.training.optim import autocast_context

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

    def __post_init__(self):
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
                 "embed_std_mean", "embed_std_min", "effective_rank"]


class JEPAStudent(nn.Module):
    """Context encoder + mask predictor as one module, so a single DDP wrapper reduces both."""

    def __init__(self, encoder: VisionEncoder, predictor: MaskDenoisingPredictor):
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor

    def forward(self, clip: torch.Tensor, context_index: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
        """Predictions [B, targets, D] of the masked tokens from the visible ones."""
        context = encode_token_subset(self.encoder, clip, context_index)
        return self.predictor(context, context_index, target_index, token_grid(self.encoder, clip))


class EncoderPretrainer(Trainer):
    """`dataset` items hold `frames` uint8 [T, S, S, 3] (T a multiple of the tubelet size)."""

    kind = "encoder_pretraining"
    title = "V-JEPA pre-training"
    metric_fields = METRIC_FIELDS
    log_key = "effective_rank"
    same_world_size = True  # masks are seeded per rank

    def __init__(self, encoder: VisionEncoder, predictor: MaskDenoisingPredictor, dataset, config: PretrainConfig,
                 run_dir, ctx: DistContext, progress: bool = True):
        frames = dataset[0]["frames"].shape[0]
        enc_cfg = encoder.config
        if frames % enc_cfg.tubelet_size:
            raise ValueError(f"clips have {frames} frames, not a multiple of the tubelet size {enc_cfg.tubelet_size}")
        self.grid = (frames // enc_cfg.tubelet_size, enc_cfg.grid_size, enc_cfg.grid_size)
        self.maskers = [MultiBlockMasker(self.grid, spec, config.min_context) for spec in config.mask_specs]
        self.student = JEPAStudent(encoder, predictor).to(ctx.device).train()
        self.target = make_target(encoder).to(ctx.device)
        super().__init__(self.student, dataset, config, run_dir, ctx, progress)

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
        lr = self.start_step()
        with autocast_context(self.ctx.device, cfg.precision):
            with torch.no_grad():
                targets = self.target(clip)
            losses = []
            for context_index, target_index in masks:
                context_index, target_index = context_index.to(self.ctx.device), target_index.to(self.ctx.device)
                predicted = self.model(clip, context_index, target_index)
                losses.append(masked_token_l1(predicted, targets, target_index))
            loss = torch.stack(losses).mean()
        grad_norm = self.apply_gradients(loss)
        momentum = momentum_at(self.step, cfg.steps, cfg.ema_start, cfg.ema_end)
        ema_update(self.target, self.encoder, momentum)
        self.step += 1
        tokens = sum(self.grid[0] * self.grid[1] * self.grid[2] for _ in masks)
        mask_ratio = sum(t.shape[1] for _, t in masks) / tokens
        metrics = {
            "epoch": float(self.epoch), "lr": lr, "ema_momentum": momentum,
            "loss": float(all_reduce_mean(loss.detach().float())), "grad_norm": grad_norm,
            "mask_ratio": mask_ratio, "clips_per_s": batch_size * self.ctx.world_size / (time.perf_counter() - started),
        }  # fmt: skip
        if self.step % cfg.collapse_every == 0 or self.step in (1, cfg.steps):
            metrics.update(collapse_metrics(targets.float()))
        return metrics

    def save_weights(self, directory: Path) -> None:
        save_pretraining_weights(directory, self.encoder, self.target, self.student.predictor,
                                 {"step": self.step, "train_config": jsonable(dataclasses.asdict(self.config))})

    def load_weights(self, directory: Path) -> None:
        tensors = load_file(str(directory / WEIGHTS_FILE))
        for prefix, module in (("context_encoder.", self.encoder), ("target_encoder.", self.target),
                               ("mask_predictor.", self.student.predictor)):
            module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})


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

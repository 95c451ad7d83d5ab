"""`vjepa-ac-pretrain-encoder`: V-JEPA mask-denoising pre-training of a small video encoder.

    vjepa-ac-pretrain-encoder --data data/episodes --encoder-preset vit_micro --steps 2000 --out runs/enc
    torchrun --nproc_per_node 2 -m vjepa_ac.cli.pretrain_encoder ...   (same arguments)

Masks: one mask family per `--mask-blocks`/`--mask-scales` pair (default: V-JEPA's short-range 8 x 15%
and long-range 2 x 70%); each family gives its own context/target split and the losses are averaged.
The EMA target encoder is what downstream training uses (`--encoder RUN/checkpoints/step_N` in
vjepa-ac-train-predictor).
"""

from __future__ import annotations

import argparse
import json
import sys

from vjepa_ac.training.distributed import init_distributed, shutdown
from vjepa_ac.training.encoder.encoder_pretrainer import EncoderPretrainer, PretrainConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vjepa-ac-pretrain-encoder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", required=True, help="episode dirs/.npz, reference .npz, DROID-style dirs")
    p.add_argument("--encoder-preset", default="vit_micro", help="models preset, e.g. vit_micro, vit_tiny")
    p.add_argument("--image-size", type=int, default=None, help="override the preset's image size")
    p.add_argument("--frames-per-clip", type=int, default=4, help="a multiple of the tubelet size (2)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--window-step", type=int, default=1)
    p.add_argument("--predictor-width", type=int, default=64)
    p.add_argument("--predictor-depth", type=int, default=2)
    p.add_argument("--predictor-heads", type=int, default=4)
    p.add_argument("--mask-blocks", type=int, nargs="+", default=[8, 2])
    p.add_argument("--mask-scales", type=float, nargs="+", default=[0.15, 0.7])
    p.add_argument("--aspect-ratio", type=float, nargs=2, default=[0.75, 1.5])
    p.add_argument("--temporal-scale", type=float, default=1.0, help="block duration as a fraction of the clip")
    defaults = PretrainConfig()
    for name in ("steps", "batch_size", "log_every", "collapse_every", "checkpoint_every", "num_workers", "seed"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    for name in ("lr", "start_lr", "final_lr", "weight_decay", "grad_clip", "ema_start", "ema_end"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    p.add_argument("--warmup-steps", type=int, default=None, help="default: 10%% of --steps")
    p.add_argument("--stop-at", type=int, default=None)
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.mask_blocks) != len(args.mask_scales):
        parser.error("--mask-blocks and --mask-scales need the same number of values")
    import torch

    from vjepa_ac.models import VisionEncoder, initialize_weights
    from vjepa_ac.models.presets import encoder_preset
    from vjepa_ac.training.data.clip_dataset import ClipDataset
    from vjepa_ac.training.data.episodes import load_many
    from vjepa_ac.training.encoder.mask_predictor import MaskDenoisingPredictor, MaskPredictorConfig
    from vjepa_ac.training.encoder.masks import BlockMaskSpec
    from vjepa_ac.training.loop import latest_checkpoint, resume_from_latest

    ctx = init_distributed(args.device)
    try:
        torch.manual_seed(args.seed)
        overrides = {} if args.image_size is None else {"image_size": args.image_size}
        encoder = VisionEncoder(encoder_preset(args.encoder_preset, **overrides))
        initialize_weights(encoder, generator=torch.Generator().manual_seed(args.seed))
        predictor = MaskDenoisingPredictor(MaskPredictorConfig(
            encoder_dim=encoder.config.embed_dim, embed_dim=args.predictor_width, depth=args.predictor_depth,
            num_heads=args.predictor_heads, mlp_hidden_dim=4 * args.predictor_width))
        initialize_weights(predictor, generator=torch.Generator().manual_seed(args.seed + 1))
        specs = [BlockMaskSpec(num_blocks=n, spatial_scale=(s, s), aspect_ratio=tuple(args.aspect_ratio),
                               temporal_scale=(args.temporal_scale, args.temporal_scale))
                 for n, s in zip(args.mask_blocks, args.mask_scales, strict=True)]
        dataset = ClipDataset(load_many(args.data, encoder.config.image_size), frames_per_clip=args.frames_per_clip,
                              stride=args.stride, window_step=args.window_step)
        config = PretrainConfig(
            steps=args.steps, batch_size=args.batch_size, lr=args.lr, start_lr=args.start_lr, final_lr=args.final_lr,
            warmup_steps=args.warmup_steps, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
            ema_start=args.ema_start, ema_end=args.ema_end, mask_specs=specs, precision=args.precision,
            seed=args.seed, log_every=args.log_every, collapse_every=args.collapse_every,
            checkpoint_every=args.checkpoint_every, stop_at=args.stop_at, num_workers=args.num_workers,
        )  # fmt: skip
        trainer = EncoderPretrainer(encoder, predictor, dataset, config, args.out, ctx, progress=not args.no_progress)
        if args.resume:
            resume_from_latest(trainer, args.out)
        history = trainer.fit()
        if ctx.is_main:
            last_collapse = next((m for m in reversed(history) if "effective_rank" in m), {})
            timed = [m["clips_per_s"] for m in history[1:]] or [m["clips_per_s"] for m in history]
            print(json.dumps({
                "step": trainer.step, "final_loss": history[-1]["loss"] if history else None,
                "clips_per_s": sum(timed) / len(timed) if timed else None, "clips": len(dataset),
                "effective_rank": last_collapse.get("effective_rank"), "embed_dim": encoder.config.embed_dim,
                "embed_std_mean": last_collapse.get("embed_std_mean"),
                "checkpoint": str(latest_checkpoint(args.out)),
            }))  # fmt: skip
    finally:
        shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

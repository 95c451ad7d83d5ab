"""`vjepa-ac-train-predictor`: V-JEPA 2-AC post-training of the action-conditioned predictor.

Single process:   vjepa-ac-train-predictor --data runs/episodes --init-from model_dir --out runs/ac
Fine-tuning on recorded episodes (episode_recorder, vjepa-ac-record-sim):
                  vjepa-ac-train-predictor --init-from vjepa2-ac-vitg.pt --episodes recorded/ --val-fraction 0.2 ...
                  (reports the held-out loss and the energy landscape on a held-out scene before and after)
Several ranks:    torchrun --nproc_per_node 2 -m vjepa_ac.cli.train_predictor ... (same arguments;
                  --batch-size is per rank, the global batch is batch size x ranks).
Frames are encoded once by the frozen encoder into --token-cache (built when missing).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from vjepa_ac.training.distributed import barrier, init_distributed, shutdown
from vjepa_ac.training.predictor.ac_trainer import ACTrainConfig, ACTrainer


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vjepa-ac-train-predictor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("model (exactly one source)")
    src.add_argument("--init-from", help="world model to fine-tune (official AC .pt, our directory): encoder frozen")
    src.add_argument("--encoder", help="frozen encoder only (pre-training checkpoint or any encoder file); new predictor")
    src.add_argument("--preset", help="random world-model preset (smoke tests / throughput only), e.g. micro, tiny")
    src.add_argument("--predictor-preset", default="ac_tiny", help="predictor preset used with --encoder")
    src.add_argument("--encoder-branch", choices=("target_encoder", "context_encoder"), default="target_encoder",
                     help="which encoder of a pre-training checkpoint --encoder freezes (V-JEPA: the EMA target)")
    data = p.add_argument_group("data")
    data.add_argument("--data", "--episodes", nargs="*", default=[],
                      help="episode dirs/.npz (recorded or simulated), reference .npz, DROID-style dirs")
    data.add_argument("--token-cache", help="token cache file; built from --data when missing")
    data.add_argument("--cache-only", action="store_true",
                      help="build --token-cache and exit (do this once before a multi-rank run on a large dataset)")
    data.add_argument("--frames-per-clip", type=int, default=8)
    data.add_argument("--stride", type=int, default=1, help="take every n-th frame (4 on 15 fps DROID ~ 4 fps)")
    data.add_argument("--val-fraction", type=float, default=0.0,
                      help="hold out this fraction of trajectories (the last ones) for validation losses")
    data.add_argument("--window-step", type=int, default=1, help="frames between consecutive clip starts")
    run = p.add_argument_group("optimisation")
    defaults = ACTrainConfig()
    for name in ("steps", "batch_size", "rollout_steps", "log_every", "checkpoint_every", "eval_every", "num_workers",
                 "seed"):
        run.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    for name in ("lr", "start_lr", "final_lr", "weight_decay", "grad_clip"):
        run.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    run.add_argument("--warmup-steps", type=int, default=None, help="default: 5%% of --steps")
    run.add_argument("--stop-at", type=int, default=None, help="checkpoint and exit at this step (resume later)")
    run.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    run.add_argument("--device", default="auto")
    report = p.add_argument_group("before/after report (needs --val-fraction > 0)")
    report.add_argument("--landscape-episode", default=None,
                        help="episode .npz for the energy landscape; default: the first held-out trajectory")
    report.add_argument("--landscape-extent", type=float, default=0.1, help="swept |dx|, |dy| (m)")
    report.add_argument("--landscape-steps", type=int, default=21, help="grid points per axis")
    report.add_argument("--no-landscape", action="store_true", help="skip the energy landscapes")
    p.add_argument("--out", required=True, help="run directory (metrics.csv, checkpoints/, latest)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--no-progress", action="store_true")
    return p


def prepare_dataset(args, world_model, ctx):
    """(training dataset, validation dataset or None)."""
    from vjepa_ac.training.data.clip_dataset import ClipDataset, split_indices
    from vjepa_ac.training.data.episodes import load_many
    from vjepa_ac.training.data.token_cache import (
        CachedClipDataset,
        TokenCache,
        build_token_cache,
        encoder_fingerprint,
    )

    clip_args = {"frames_per_clip": args.frames_per_clip, "stride": args.stride, "window_step": args.window_step}
    if args.token_cache is None:
        if not args.data:
            raise SystemExit("error: give --data (and optionally --token-cache)")
        trajectories = load_many(args.data, world_model.image_size)
        train, val = split_indices(len(trajectories), args.val_fraction)
        return (ClipDataset([trajectories[i] for i in train], **clip_args),
                ClipDataset([trajectories[i] for i in val], **clip_args) if val else None)
    fingerprint = encoder_fingerprint(world_model.encoder)
    cache_path = Path(args.token_cache)
    if not cache_path.is_file():
        if not args.data:
            raise SystemExit(f"error: token cache {cache_path} does not exist and no --data to build it from")
        if ctx.is_main:
            trajectories = load_many(args.data, world_model.image_size, lazy=True)
            build_token_cache(cache_path, trajectories, world_model.encode, fingerprint, progress=not args.no_progress)
        barrier()
    cache = TokenCache(cache_path, expected_fingerprint=fingerprint)
    train, val = split_indices(len(cache), args.val_fraction)
    return (CachedClipDataset(cache, subset=train, **clip_args),
            CachedClipDataset(cache, subset=val, **clip_args) if val else None)


def _landscape_scene(args, world_model):
    """(name, frames, states, start, goal) of the recorded scene the landscapes are drawn on, or None."""
    from vjepa_ac.training.data.clip_dataset import split_indices
    from vjepa_ac.training.data.episodes import load_episodes, load_many
    from vjepa_ac.training.predictor.finetune_report import pick_scene

    if args.no_landscape:
        return None
    if args.landscape_episode:
        trajectory = load_episodes(args.landscape_episode, world_model.image_size)[0]
    elif args.val_fraction > 0 and args.data:
        trajectories = load_many(args.data, world_model.image_size, lazy=True)
        _train, val = split_indices(len(trajectories), args.val_fraction)
        trajectory = trajectories[val[0]]
    else:
        return None
    frames, states = trajectory.frames, np.asarray(trajectory.states)
    start, goal = pick_scene(states, args.landscape_extent)
    return trajectory.name, frames, states, start, goal


def _landscape(world_model, scene, args, when: str) -> dict:
    from vjepa_ac.training.predictor.finetune_report import landscape_summary

    name, frames, states, start, goal = scene
    png = Path(args.out) / f"landscape_{when}.png"
    summary = landscape_summary(world_model, frames, states, start, goal, args.landscape_extent,
                                args.landscape_steps, png, title=f"{name} {start}->{goal}, {when} fine-tuning")
    return {"episode": name, **summary}


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from vjepa_ac.training.loop import latest_checkpoint, resume_from_latest
    from vjepa_ac.training.predictor.model_setup import build_world_model

    ctx = init_distributed(args.device)
    try:
        import torch

        torch.manual_seed(args.seed)
        world_model, source = build_world_model(args.init_from, args.encoder, args.preset, args.predictor_preset,
                                                args.seed, args.encoder_branch)
        world_model = world_model.to(ctx.device)
        dataset, val_dataset = prepare_dataset(args, world_model, ctx)
        if args.cache_only:
            if args.token_cache is None:
                raise SystemExit("error: --cache-only needs --token-cache")
            if ctx.is_main:
                print(json.dumps({"token_cache": args.token_cache, "clips": len(dataset)}))
            return 0
        config = ACTrainConfig(
            steps=args.steps, batch_size=args.batch_size, lr=args.lr, start_lr=args.start_lr, final_lr=args.final_lr,
            warmup_steps=args.warmup_steps, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
            rollout_steps=args.rollout_steps, precision=args.precision, seed=args.seed, log_every=args.log_every,
            checkpoint_every=args.checkpoint_every, eval_every=args.eval_every, stop_at=args.stop_at, num_workers=args.num_workers,
        )  # fmt: skip
        metadata = {**source, "data": [str(d) for d in args.data], "token_cache": args.token_cache,
                    "frames_per_clip": args.frames_per_clip, "stride": args.stride}
        try:
            trainer = ACTrainer(world_model, dataset, config, args.out, ctx, metadata,
                                progress=not args.no_progress, val_dataset=val_dataset)
        except ValueError as error:  # e.g. fewer clips than one batch: say so, without a traceback
            raise SystemExit(f"vjepa-ac-train-predictor: error: {error}") from error
        if args.resume:
            resume_from_latest(trainer, args.out)
        report = {}
        if val_dataset is not None and ctx.is_main:
            report["val_loss_before"] = trainer.evaluate(val_dataset)["val_loss"]
        scene = _landscape_scene(args, world_model) if ctx.is_main else None
        if scene is not None:
            report["landscape_before"] = _landscape(world_model, scene, args, "before")
        history = trainer.fit()
        if scene is not None:
            report["landscape_after"] = _landscape(world_model, scene, args, "after")
        if ctx.is_main:
            timed = [m["clips_per_s"] for m in history[1:]] or [m["clips_per_s"] for m in history]
            summary = {"step": trainer.step, "final_loss": history[-1]["loss"] if history else None,
                       "clips_per_s": sum(timed) / len(timed) if timed else None, "clips": len(dataset),
                       "world_size": ctx.world_size, "checkpoint": str(latest_checkpoint(args.out)),
                       "val_loss": history[-1].get("val_loss") if history else None, **report}
            if "val_loss_before" in report:
                summary["val_loss_after"] = summary["val_loss"]
            print(json.dumps(summary))
    finally:
        shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

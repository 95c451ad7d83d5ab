"""`vjepa-ac-train-gripper-readout`: train a goal-image gripper readout on recorded episodes
(how: `vjepa_ac.training.predictor.readout_trainer`).

    vjepa-ac-train-gripper-readout --episodes runs/embedded/episodes --out runs/readout --goal-check-seeds 60
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vjepa_ac.models.gripper_readout import save_gripper_readout
from vjepa_ac.training.predictor.readout_trainer import (
    episode_frames,
    goal_image_check,
    readout_scores,
    train_gripper_readout,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vjepa-ac-train-gripper-readout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=Path, required=True, help="directory of recorded episodes (vjepa-ac-collect)")
    p.add_argument("--out", type=Path, required=True,
                   help="model directory to put gripper_readout.safetensors in, or a .safetensors file name")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-shift", type=int, default=4, help="augmentation: random shift of each frame, in px")
    p.add_argument("--val-fraction", type=float, default=0.1, help="episodes held out for validation, evenly spaced")
    p.add_argument("--ambiguous", type=float, nargs=2, default=(0.2, 0.8), metavar=("LOW", "HIGH"),
                   help="leave out frames whose setpoint lies strictly between these")
    p.add_argument("--min-confidence", type=float, default=0.8, help="for --goal-check-seeds (the planner's default)")
    p.add_argument("--goal-check-seeds", type=int, default=0)
    p.add_argument("--camera", default="default", help="for --goal-check-seeds: the episodes' scene camera")
    p.add_argument("--json", type=Path, default=None, help="write the scores here")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from vjepa_ac.training.data.episodes import list_episode_files

    if not 0.0 <= args.val_fraction < 1.0:
        raise SystemExit("--val-fraction must be in [0, 1)")
    if args.epochs < 1 or args.batch_size < 1:
        raise SystemExit("--epochs and --batch-size must be >= 1")
    started = time.time()
    files = list_episode_files(args.episodes)
    if not files:
        raise SystemExit(f"no episodes in {args.episodes}")
    held_out = int(round(len(files) * args.val_fraction))
    # Evenly spaced, so that every kind of episode (collected in blocks of seeds) is held out alike.
    val_index = set(np.linspace(0, len(files) - 1, held_out).round().astype(int).tolist()) if held_out else set()
    train_files = [f for i, f in enumerate(files) if i not in val_index]
    val_files = [f for i, f in enumerate(files) if i in val_index]
    frames, closed, _ = episode_frames(train_files, tuple(args.ambiguous))
    if frames.shape[1] % 16:
        raise SystemExit(f"episode frames are {frames.shape[1]} px; the readout needs a multiple of 16")
    readout = train_gripper_readout(frames, closed, args.epochs, args.batch_size, args.lr, args.weight_decay, args.seed,
                                    args.max_shift)
    scores = {"train": readout_scores(readout, frames, closed)}
    if val_files:
        val_frames, val_closed, _ = episode_frames(val_files, tuple(args.ambiguous))
        scores["validation"] = readout_scores(readout, val_frames, val_closed)
    readout.metadata = {"episodes": str(args.episodes), "train_episodes": len(train_files),
                        "validation_episodes": len(val_files), "epochs": args.epochs, "batch_size": args.batch_size,
                        "lr": args.lr, "weight_decay": args.weight_decay, "seed": args.seed, "max_shift": args.max_shift,
                        "ambiguous": list(args.ambiguous), "scores": dict(scores)}
    if args.goal_check_seeds > 0:
        scores["goal_images"] = goal_image_check(readout, args.goal_check_seeds, args.min_confidence,
                                                  camera=args.camera)
    path = save_gripper_readout(readout, args.out)
    scores["seconds"] = round(time.time() - started, 1)
    text = json.dumps(scores, indent=1)
    print(text)
    print(f"wrote {path}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Do an encoder's still-frame tokens show the gripper? Measured on recorded episodes, before any predictor.

A planner that scores tokens can only choose the gripper if open and closed hands give different tokens.
This encodes every `--every`-th episode's frames as the world model does (one still, layer-normed tokens)
and reports, for the gripper closedness setpoint mapped to [-1, 1]:

- a ridge regression from all tokens (fit on 3/4 of the frames, L1 error on the rest), against the error
  of always answering the median: how much of the gripper any linear readout finds;
- the fixed readout the pre-training gripper probe trains (`encoder_pretrainer.gripper_probe`): its L1
  error and its mean on closed (setpoint > 0.31) and open frames.

Energies against goal images are bench/grasp_energy_sensitivity.py's job.

    .venv/bin/python bench/encoder_gripper_readout.py --encoder runs/embedded/encoder/checkpoints/step_00001200 \\
        --data runs/embedded/episodes --json bench/results/encoder_gripper_readout.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

CLOSED = 0.31  # the evaluation's held-gripper threshold on the setpoint (docs/evaluation.md)


def _encoder(args):
    if args.encoder:
        from vjepa_ac.training.encoder_pretrainer import load_pretrained_encoder

        return load_pretrained_encoder(args.encoder, which=args.which)
    from vjepa_ac.models import load_world_model

    return load_world_model(args.model).encoder


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--encoder", help="a vjepa-ac-pretrain-encoder checkpoint directory")
    source.add_argument("--model", help="a world-model directory (its frozen encoder)")
    p.add_argument("--which", choices=("target_encoder", "context_encoder"), default="target_encoder")
    p.add_argument("--data", type=Path, required=True, help="episode directory (recorded at the encoder's size)")
    p.add_argument("--every", type=int, default=8, help="use every n-th episode")
    p.add_argument("--channels", type=int, default=8, help="channels of the fixed probe readout")
    p.add_argument("--ridge", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    from vjepa_ac.models import normalize_tokens
    from vjepa_ac.models.image_preprocessing import images_to_clips
    from vjepa_ac.training.encoder_pretrainer import gripper_probe, gripper_probe_target
    from vjepa_ac.training.episodes import list_episode_files, load_episode

    encoder = _encoder(args).eval()
    files = list_episode_files(args.data)[:: args.every]
    if not files:
        raise SystemExit(f"no episodes in {args.data}")
    features, readouts, closedness = [], [], []
    with torch.no_grad():
        for path in files:
            episode = load_episode(path)
            tokens = encoder(images_to_clips(torch.from_numpy(episode.frames), encoder.config.image_size))
            readouts.append(gripper_probe(tokens, args.channels))
            features.append(normalize_tokens(tokens).flatten(1))
            closedness.append(torch.from_numpy(episode.states[:, 6]))
    x = torch.cat(features).double().numpy()
    readout = torch.cat(readouts).numpy()
    g = torch.cat(closedness)
    y = gripper_probe_target(g).numpy()
    closed = (g > CLOSED).numpy()

    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[: len(y) * 3 // 4], order[len(y) * 3 // 4:]
    design = np.c_[x, np.ones(len(y))]
    gram = design[train].T @ design[train] + args.ridge * np.eye(design.shape[1])
    weights = np.linalg.solve(gram, design[train].T @ y[train])
    ridge_l1 = float(np.abs(design[test] @ weights - y[test]).mean())
    median_l1 = float(np.abs(y[test] - np.median(y[train])).mean())
    result = {
        "source": args.encoder or args.model, "episodes": len(files), "frames": int(len(y)),
        "closed_fraction": float(closed.mean()),
        "ridge_test_l1": ridge_l1, "median_test_l1": median_l1,
        "ridge_explained": 1.0 - ridge_l1 / median_l1,
        "fixed_readout_l1": float(np.abs(readout - y).mean()),
        "fixed_readout_mean_closed": float(readout[closed].mean()) if closed.any() else None,
        "fixed_readout_mean_open": float(readout[~closed].mean()) if (~closed).any() else None,
    }
    print(json.dumps(result, indent=1))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

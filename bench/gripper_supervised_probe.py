"""Can the embedded encoder architecture learn the gripper at all? Fully supervised, from scratch.

The gripper probe in V-JEPA pre-training (`--gripper-probe-weight`) did not move its loss below that of
answering the median. This removes the self-supervised objective: a fresh encoder of `--preset` and a
readout are trained only to regress the closedness setpoint (mapped to [-1, 1], L1) of single stills,
encoded as the world model encodes them. `--head fixed` is the pre-training probe's readout
(`encoder_pretrainer.gripper_probe`); `--head linear` a learned linear map of the mean layer-normed token.
500 held-out frames are scored against the median's error. If even this cannot beat the median, the
limit is the architecture, resolution or training budget, not the self-supervised objective.

    .venv/bin/python bench/gripper_supervised_probe.py --data runs/embedded/episodes --steps 2000 --lr 1e-3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="episode directory")
    p.add_argument("--preset", default="vit_embedded", help="encoder preset (its image size is used)")
    p.add_argument("--head", choices=("fixed", "linear"), default="linear")
    p.add_argument("--channels", type=int, default=8, help="channels of the fixed readout")
    p.add_argument("--loss", choices=("l1", "mse"), default="l1", help="training loss (scoring is always L1)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    from vjepa_ac.models import VisionEncoder, initialize_weights, normalize_tokens
    from vjepa_ac.models.image_preprocessing import images_to_clips
    from vjepa_ac.models.presets import encoder_preset
    from vjepa_ac.training.encoder_pretrainer import gripper_probe, gripper_probe_target
    from vjepa_ac.training.episodes import list_episode_files, load_episode

    episodes = [load_episode(f) for f in list_episode_files(args.data)]
    frames = torch.from_numpy(np.concatenate([e.frames for e in episodes]))
    target = gripper_probe_target(torch.from_numpy(np.concatenate([e.states[:, 6] for e in episodes])))
    order = torch.randperm(len(frames), generator=torch.Generator().manual_seed(args.seed))
    test, train = order[:500], order[500:]
    encoder = initialize_weights(VisionEncoder(encoder_preset(args.preset)),
                                 generator=torch.Generator().manual_seed(args.seed))
    head = torch.nn.Linear(encoder.config.embed_dim, 1)
    params = list(encoder.parameters()) + (list(head.parameters()) if args.head == "linear" else [])
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.04)

    def readout(index):
        tokens = encoder(images_to_clips(frames[index], encoder.config.image_size))
        if args.head == "fixed":
            return gripper_probe(tokens, args.channels)
        return head(normalize_tokens(tokens).mean(1)).squeeze(-1)

    median_l1 = float((target[test] - target[train].median()).abs().mean())
    history, started = [], time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = train[torch.randint(len(train), (args.batch_size,))]
        error = readout(batch) - target[batch]
        loss = error.abs().mean() if args.loss == "l1" else error.square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            with torch.no_grad():
                test_l1 = float(torch.cat([(readout(test[i:i + 100]) - target[test[i:i + 100]]).abs()
                                           for i in range(0, len(test), 100)]).mean())
            history.append({"step": step, "test_l1": test_l1, "seconds": round(time.perf_counter() - started, 1)})
            print(json.dumps(history[-1]), flush=True)
    result = {"data": str(args.data), "preset": args.preset, "head": args.head, "loss": args.loss,
              "frames": len(frames),
              "steps": args.steps, "lr": args.lr, "median_test_l1": median_l1, "history": history,
              "final_test_l1": history[-1]["test_l1"], "explained": 1.0 - history[-1]["test_l1"] / median_l1}
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

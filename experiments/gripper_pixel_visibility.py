"""How many pixels does closing the hand at the cube change? A camera's upper bound on seeing a grasp.

For each seed (evaluation seeds from 100000 unless `--first-seed`, near-cube start) the hand moves straight down
to the cube with ground truth, the frame is rendered, the hand closes in place, and the frame is rendered again.
Pixels whose largest channel difference exceeds `--threshold` are counted. Anything that must tell an open from a
closed hand at the grasp pose (an encoder, a predictor, the planner's energy) sees at most these pixels.

    .venv/bin/python experiments/gripper_pixel_visibility.py --camera-size 128 --seeds 6
    .venv/bin/python experiments/gripper_pixel_visibility.py --camera droid --engine pybullet --json out/vis.json

`--camera` is a `TaskOptions.camera` ("default", "droid") or one of the alternatives in `CAMERAS` below, which
`register_cameras` adds to `scene_layout.CAMERAS` for this process only (experiments/camera_placement.py measures
more of them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from vjepa_ac.simulation import scene_layout as sl

# Alternatives measured on 2026-12-02 (docs/embedded_model.md). front_low sees under the hand but cannot
# frame reach goals above ~0.3 m; front_mid frames every reach goal.
CAMERAS = {
    "front_low": sl.CameraSpec(position=(1.20, 0.0, 0.35), lookat=(0.50, 0.0, 0.10)),
    "front_mid": sl.CameraSpec(position=(1.25, 0.0, 0.45), lookat=(0.48, 0.0, 0.18), fovy=55.0),
}


def register_cameras(cameras: dict[str, sl.CameraSpec]) -> None:
    """Make candidate cameras selectable as `TaskOptions.camera` in this process (never the shipped names)."""
    for name, spec in cameras.items():
        if sl.CAMERAS.get(name, spec) != spec:
            raise ValueError(f"camera {name!r} is already defined differently")
        sl.CAMERAS[name] = spec


def changed_pixels(before: np.ndarray, after: np.ndarray, threshold: int) -> int:
    return int((np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=-1) > threshold).sum())


def hand_close_pixels(sim, seed: int, camera: str = "default", threshold: int = 30) -> int:
    """Pixels changed by closing the open hand around the cube (near-cube start, hand moved down to the cube)."""
    obs = sim.reset(seed, {"start_near_cube": True, "camera": camera})
    down = obs.object_poses["cube"][:3] - obs.ee_state[:3]
    open_hand = sim.step(np.concatenate([down, np.zeros(4)])).image
    closed_hand = sim.step(np.array([0, 0, 0, 0, 0, 0, 1.0])).image
    return changed_pixels(open_hand, closed_hand, threshold)


def main(argv=None) -> int:
    register_cameras(CAMERAS)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--camera", choices=sorted(sl.CAMERAS), default="default")
    p.add_argument("--engine", choices=("mujoco", "pybullet"), default="mujoco")
    p.add_argument("--camera-size", type=int, default=128)
    p.add_argument("--first-seed", type=int, default=100000)
    p.add_argument("--seeds", type=int, default=6, help="consecutive seeds from --first-seed")
    p.add_argument("--threshold", type=int, default=30, help="channel difference (0-255) that counts as changed")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    from vjepa_ac.simulation import make_sim

    sim = make_sim(args.engine, image_size=args.camera_size)
    try:
        counts = [hand_close_pixels(sim, seed, args.camera, args.threshold)
                  for seed in range(args.first_seed, args.first_seed + args.seeds)]
    finally:
        sim.close()
    result = {"camera": args.camera, "engine": args.engine, "camera_size": args.camera_size,
              "threshold": args.threshold, "first_seed": args.first_seed, "changed_pixels": counts,
              "mean": float(np.mean(counts)), "fraction_of_frame": float(np.mean(counts)) / args.camera_size**2}
    print(json.dumps(result, indent=1))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

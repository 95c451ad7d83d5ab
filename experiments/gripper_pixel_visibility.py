"""How many pixels does closing the hand at the cube change? A camera's upper bound on seeing a grasp.

For each seed (evaluation seeds from 100000, near-cube start) the hand moves straight down to the cube with
ground truth, the frame is rendered, the hand closes in place, and the frame is rendered again. Pixels whose
largest channel difference exceeds `--threshold` are counted. Anything that must tell an open from a closed
hand at the grasp pose (an encoder, a predictor, the planner's energy) sees at most these pixels.

    .venv/bin/python experiments/gripper_pixel_visibility.py --camera-size 128 --seeds 6
    .venv/bin/python experiments/gripper_pixel_visibility.py --camera front_low --json out/visibility_front_low.json

`--camera` replaces the default DROID-like camera with a named alternative (the default scene is unchanged).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# Alternatives measured on 2026-12-02 (docs/embedded_model.md). front_low sees under the hand but cannot
# frame reach goals above ~0.3 m; front_mid frames every reach goal.
CAMERAS = {
    "default": {},
    "front_low": {"position": (1.20, 0.0, 0.35), "lookat": (0.50, 0.0, 0.10)},
    "front_mid": {"position": (1.25, 0.0, 0.45), "lookat": (0.48, 0.0, 0.18), "fovy": 55.0},
}


def _use_camera(name: str) -> None:
    import vjepa_ac.simulation.scene_layout as scene_layout

    if not CAMERAS[name]:
        return
    camera = scene_layout.CameraSpec(**CAMERAS[name])
    default = scene_layout.CameraSpec
    # sample_layout builds CameraSpec() (or a jittered position); answer the fixed default with ours.
    scene_layout.CameraSpec = lambda *a, **kw: camera if not a and not kw else default(*a, **kw)


def changed_pixels(before: np.ndarray, after: np.ndarray, threshold: int) -> int:
    return int((np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=-1) > threshold).sum())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--camera", choices=sorted(CAMERAS), default="default")
    p.add_argument("--camera-size", type=int, default=128)
    p.add_argument("--seeds", type=int, default=6, help="evaluation seeds from 100000")
    p.add_argument("--threshold", type=int, default=30, help="channel difference (0-255) that counts as changed")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    _use_camera(args.camera)
    from vjepa_ac.simulation import make_sim

    sim = make_sim("mujoco", image_size=args.camera_size)
    counts = []
    try:
        for seed in range(100000, 100000 + args.seeds):
            obs = sim.reset(seed, {"start_near_cube": True})
            down = obs.object_poses["cube"][:3] - obs.ee_state[:3]
            open_hand = sim.step(np.concatenate([down, np.zeros(4)])).image
            closed_hand = sim.step(np.array([0, 0, 0, 0, 0, 0, 1.0])).image
            counts.append(changed_pixels(open_hand, closed_hand, args.threshold))
    finally:
        sim.close()
    result = {"camera": args.camera, "camera_size": args.camera_size, "threshold": args.threshold,
              "changed_pixels": counts, "mean": float(np.mean(counts)),
              "fraction_of_frame": float(np.mean(counts)) / args.camera_size**2}
    print(json.dumps(result, indent=1))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

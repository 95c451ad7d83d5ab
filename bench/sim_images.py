"""Regenerate docs/images/sim_mujoco.png, sim_pybullet.png (start view + the 3 sub-goal images) and
expert_episode.gif (MuJoCo expert episode). Usage: python bench/sim_images.py [--out docs/images]"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from vjepa_ac.simulation import ScriptedPickPlaceExpert, make_sim  # noqa: E402
from vjepa_ac.simulation.expert import run_expert_episode  # noqa: E402


def panel(engine: str, seed: int, size: int) -> np.ndarray:
    """2x2: the start observation, then sub-goals 1-3 rendered with render_goal."""
    with make_sim(engine, image_size=size) as sim:
        obs = sim.reset(seed)
        expert = ScriptedPickPlaceExpert()
        expert.reset(sim, obs)
        tiles = [obs.image, *expert.subgoal_images(sim)]
    return np.concatenate([np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", default="docs/images")
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for engine in ("mujoco", "pybullet"):
        path = os.path.join(args.out, f"sim_{engine}.png")
        Image.fromarray(panel(engine, args.seed, 256)).save(path, optimize=True)
        print(path, os.path.getsize(path), "bytes")
    with make_sim("mujoco", image_size=160) as sim:
        episode = run_expert_episode(sim, args.seed)
    frames = [Image.fromarray(f).quantize(colors=96, method=Image.Quantize.MEDIANCUT) for f in episode.frames]
    path = os.path.join(args.out, "expert_episode.gif")
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=250, loop=0, optimize=True)
    print(path, os.path.getsize(path), "bytes", "success" if episode.success else "FAILED")
    return 0


if __name__ == "__main__":
    sys.exit(main())

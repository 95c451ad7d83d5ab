"""make_sim: the one entry point that picks an engine (imported lazily so either works alone)."""

from __future__ import annotations

from vjepa_ac.simulation.interface import FrankaSim

ENGINES = ("mujoco", "pybullet")


def make_sim(engine: str = "mujoco", image_size: int = 256, **options) -> FrankaSim:
    """Create a Franka pick-and-place world; call reset(seed) before use.

    options: controller limits (max_translation, max_rotation, bounds, max_settle_time, settle_speed) and
    engine switches (MuJoCo: shadows, joint_speed).
    """
    if engine == "mujoco":
        from vjepa_ac.simulation.mujoco_sim import MujocoFrankaSim

        return MujocoFrankaSim(image_size, **options)
    if engine == "pybullet":
        from vjepa_ac.simulation.pybullet_sim import PybulletFrankaSim

        return PybulletFrankaSim(image_size, **options)
    raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")

"""Franka Panda pick-and-place worlds (MuJoCo primary, PyBullet secondary) behind one interface."""

import os

# Offscreen CPU rendering unless the caller chose otherwise (e.g. MUJOCO_GL=egl on a GPU machine); this
# must happen before anything imports mujoco or PyOpenGL.
os.environ.setdefault("MUJOCO_GL", "osmesa")
if os.environ["MUJOCO_GL"] in ("osmesa", "egl"):
    os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

from vjepa_ac.simulation.cartesian_controller import WorkspaceBounds  # noqa: E402
from vjepa_ac.simulation.expert import ScriptedPickPlaceExpert  # noqa: E402
from vjepa_ac.simulation.factory import ENGINES, make_sim  # noqa: E402
from vjepa_ac.simulation.interface import FrankaSim, Observation, TaskOptions  # noqa: E402

__all__ = ["ENGINES", "FrankaSim", "Observation", "ScriptedPickPlaceExpert", "TaskOptions", "WorkspaceBounds",
           "make_sim"]

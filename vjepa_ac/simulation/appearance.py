"""Appearance randomisation shared by both engines (issue 19): one ranges table, one seeded draw.

`TaskOptions.appearance` selects it:
- "default": exactly the fixed rendering the shipped model was trained on (nothing here is drawn or applied);
- "train": every quantity drawn within `TRAIN_RANGES` (the ranges for the next model's training data);
- "unseen": the key light's direction (azimuth) and the table colour (hue) drawn from `UNSEEN_RANGES`, which lie
  outside the training ranges, everything else as "train" (for testing only, never for training data).

A draw uses its own stream, `np.random.default_rng([seed, APPEARANCE_STREAM])`, so the scene layout of a seed
(objects, start) is the same under every appearance and a seed always means the same scene. Both engines apply
the same `Appearance` (light direction and intensities, table / floor / cube colours, backdrop colour, camera
pose); see `apply_appearance`.
"""

from __future__ import annotations

import colorsys
import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

APPEARANCES = ("default", "train", "unseen")
APPEARANCE_STREAM = 0xA99EA2
# The cube's colours: a fixed set (red is the default cube); green is left to the target marker, blue to the cup.
CUBE_COLORS = {
    "red": (0.85, 0.15, 0.10),
    "orange": (0.95, 0.50, 0.08),
    "yellow": (0.92, 0.82, 0.12),
    "magenta": (0.80, 0.15, 0.60),
    "purple": (0.45, 0.20, 0.75),
    "white": (0.90, 0.90, 0.88),
}


@dataclasses.dataclass(frozen=True)
class AppearanceRanges:
    """Uniform ranges of every randomised quantity (angles in degrees, colours in HSV with hue in degrees).

    The key light shines *along* (cos e cos a, cos e sin a, -sin e) for azimuth a and elevation e; the default
    light (-0.3, 0.35, -1.0) has a = 130.6 deg, e = 65.3 deg, diffuse 0.7, ambient 0.35. Azimuth ranges may run
    past 360 (wrapped). The default table (0.62, 0.48, 0.34) is hue 30, saturation 0.45, value 0.62.
    """

    light_azimuth_deg: tuple[float, float] = (70.0, 190.0)
    light_elevation_deg: tuple[float, float] = (50.0, 80.0)
    light_diffuse: tuple[float, float] = (0.5, 0.9)
    light_ambient: tuple[float, float] = (0.25, 0.45)
    table_hue_deg: tuple[float, float] = (0.0, 60.0)
    table_saturation: tuple[float, float] = (0.15, 0.6)
    table_value: tuple[float, float] = (0.45, 0.8)
    # The floor's value stays at or below the default checker's 0.35-0.38 so MuJoCo can tint its texture to it.
    floor_hue_deg: tuple[float, float] = (0.0, 360.0)
    floor_saturation: tuple[float, float] = (0.0, 0.3)
    floor_value: tuple[float, float] = (0.15, 0.35)
    backdrop_hue_deg: tuple[float, float] = (0.0, 360.0)
    backdrop_saturation: tuple[float, float] = (0.0, 0.25)
    backdrop_value: tuple[float, float] = (0.55, 0.9)
    cube_colors: tuple[str, ...] = tuple(CUBE_COLORS)
    camera_position_m: float = 0.02  # each axis uniform in +-this
    camera_angle_deg: float = 3.0  # pan, tilt and roll each uniform in +-this


TRAIN_RANGES = AppearanceRanges()
# Held out: light from the other side of the scene (at least 40 deg from the training azimuths) and blue-violet
# tables (at least 90 deg of hue from the training tables); everything else within the training ranges.
UNSEEN_RANGES = dataclasses.replace(TRAIN_RANGES, light_azimuth_deg=(230.0, 370.0), table_hue_deg=(150.0, 270.0))
RANGES = {"train": TRAIN_RANGES, "unseen": UNSEEN_RANGES}


def check_appearance(name: str) -> str:
    if name not in APPEARANCES:
        raise ValueError(f"unknown appearance {name!r}; choose one of {APPEARANCES}")
    return name


@dataclasses.dataclass(frozen=True)
class Appearance:
    """One episode's drawn appearance (what both engines render)."""

    mode: str
    light_azimuth_deg: float
    light_elevation_deg: float
    light_diffuse: float
    light_ambient: float
    table_rgb: tuple[float, float, float]
    table_hsv: tuple[float, float, float]  # hue in degrees
    floor_rgb: tuple[float, float, float]
    backdrop_rgb: tuple[float, float, float]
    cube_color: str
    camera_offset_m: tuple[float, float, float]
    camera_pan_tilt_roll_deg: tuple[float, float, float]

    @property
    def light_direction(self) -> tuple[float, float, float]:
        a, e = np.deg2rad(self.light_azimuth_deg), np.deg2rad(self.light_elevation_deg)
        return (float(np.cos(e) * np.cos(a)), float(np.cos(e) * np.sin(a)), float(-np.sin(e)))

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _hsv(rng: np.random.Generator, hue, saturation, value) -> tuple[tuple[float, float, float], tuple]:
    h = float(rng.uniform(*hue)) % 360.0
    s, v = float(rng.uniform(*saturation)), float(rng.uniform(*value))
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h / 360.0, s, v)), (h, s, v)


def draw_appearance(mode: str, seed: int) -> Appearance | None:
    """The appearance of episode `seed` under `mode`; None for "default" (nothing drawn)."""
    if check_appearance(mode) == "default":
        return None
    r = RANGES[mode]
    rng = np.random.default_rng([int(seed), APPEARANCE_STREAM])
    # Always the same draws in the same order, so "train" and "unseen" differ only where their ranges do.
    azimuth = float(rng.uniform(*r.light_azimuth_deg)) % 360.0
    elevation = float(rng.uniform(*r.light_elevation_deg))
    diffuse, ambient = float(rng.uniform(*r.light_diffuse)), float(rng.uniform(*r.light_ambient))
    table_rgb, table_hsv = _hsv(rng, r.table_hue_deg, r.table_saturation, r.table_value)
    floor_rgb, _ = _hsv(rng, r.floor_hue_deg, r.floor_saturation, r.floor_value)
    backdrop_rgb, _ = _hsv(rng, r.backdrop_hue_deg, r.backdrop_saturation, r.backdrop_value)
    cube = r.cube_colors[int(rng.integers(len(r.cube_colors)))]
    offset = rng.uniform(-r.camera_position_m, r.camera_position_m, size=3)
    angles = rng.uniform(-r.camera_angle_deg, r.camera_angle_deg, size=3)
    return Appearance(mode, azimuth, elevation, diffuse, ambient, table_rgb, table_hsv, floor_rgb, backdrop_rgb,
                      cube, tuple(float(x) for x in offset), tuple(float(x) for x in angles))


def in_range(value: float, bounds: tuple[float, float], period: float | None = None) -> bool:
    """value within [low, high]; with a period (degrees: 360), ranges that run past it wrap."""
    low, high = bounds
    if period is None:
        return low <= value <= high
    return (value - low) % period <= high - low


def jittered_camera(camera, pan_tilt_roll_deg, offset_m):
    """`camera` (a scene_layout.CameraSpec) moved by `offset_m` and turned by pan (about world z), tilt (about
    its right axis) and roll (about its optical axis)."""
    pan, tilt, roll = (float(a) for a in pan_tilt_roll_deg)
    position = np.asarray(camera.position, dtype=np.float64) + np.asarray(offset_m, dtype=np.float64)
    right, _, forward = camera.axes()
    turn = Rotation.from_rotvec(np.deg2rad(pan) * np.array([0.0, 0.0, 1.0])) * Rotation.from_rotvec(
        np.deg2rad(tilt) * right)
    look = turn.apply(np.asarray(camera.lookat, dtype=np.float64) - np.asarray(camera.position, dtype=np.float64))
    return dataclasses.replace(camera, position=tuple(float(x) for x in position),
                               lookat=tuple(float(x) for x in position + look), roll=camera.roll + roll)


def apply_appearance(layout, appearance: Appearance | None):
    """The scene layout with the drawn appearance (unchanged for None)."""
    if appearance is None:
        return layout
    from vjepa_ac.simulation.scene_layout import Lighting

    colors = dict(layout.colors)
    colors["table"] = (*appearance.table_rgb, 1.0)
    colors["floor"] = (*appearance.floor_rgb, 1.0)
    colors["cube"] = (*CUBE_COLORS[appearance.cube_color], 1.0)
    colors["backdrop"] = (*appearance.backdrop_rgb, 1.0)
    lighting = Lighting(direction=appearance.light_direction, diffuse=appearance.light_diffuse,
                        ambient=appearance.light_ambient)
    camera = jittered_camera(layout.camera, appearance.camera_pan_tilt_roll_deg, appearance.camera_offset_m)
    return dataclasses.replace(layout, colors=colors, lighting=lighting, camera=camera, appearance=appearance)


def ranges_table(ranges: dict[str, AppearanceRanges] | None = None) -> str:
    """The ranges as a Markdown table (docs/embedded_model.md)."""
    ranges = ranges or RANGES
    rows = ["| quantity | " + " | ".join(ranges) + " |", "| --- |" + " --- |" * len(ranges)]
    for f in dataclasses.fields(AppearanceRanges):
        cells = []
        for r in ranges.values():
            value = getattr(r, f.name)
            cells.append(", ".join(value) if f.name == "cube_colors" else
                         (f"{value[0]:g}–{value[1]:g}" if isinstance(value, tuple) else f"±{value:g}"))
        rows.append(f"| {f.name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)

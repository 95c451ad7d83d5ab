"""The planner's settings, in one place: `CEMConfig()` is what this package ships, `CEMConfig.paper()` the
paper's planner, `CEMConfig.from_mapping` reads YAML files, ROS parameters and command-line overrides.

No torch here, so the ROS parameter table can take its defaults from these fields without loading torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["CEMConfig"]


@dataclasses.dataclass(frozen=True)
class CEMConfig:
    """CEM over actions in an L1 ball, scored by the L1 distance between predicted and goal tokens."""

    samples: int = 800  # the paper's N
    iterations: int = 10
    top_k: int = 10
    horizon: int = 1
    l1_radius: float = 0.075  # metres of translation per action (the paper's L1 ball)
    rotation_enabled: bool = False  # the paper plans no rotation
    rotation_radius: float = 0.2  # radians per action, when rotation is planned
    gripper_enabled: bool = True
    gripper_max: float = 0.75  # largest gripper change per action (the reference notebook's clip)
    momentum_mean: float = 0.15  # weight kept by the old mean: new = m*old + (1-m)*elite mean
    momentum_std: float = 0.15
    frozen_dimensions: tuple[int | str, ...] = ()  # extra action dimensions pinned to 0 (index or name)
    seed: int = 0
    # Score the predicted change added to the observed frame, L1(z + f(a) - f(0), goal): a blurry predictor's
    # error common to all actions cancels, so near the goal it stops preferring a move to the frame it sees.
    anchor_to_observation: bool = True
    # Energy per unit of closedness between the plan's final gripper and the one the goal image shows (read by
    # the gripper readout). The embedded model's image energies (0.01-0.05) move by < 0.0002 between an open and
    # a closed hand, so 0.02 decides the gripper while the image still ranks the translation. 0 = the paper's.
    gripper_goal_weight: float = 0.02
    warm_start: bool = True  # start from the last plan shifted by one step (the paper restarts from zero)
    include_mean: bool = True  # evaluate the current mean as one sample, so a good warm start is not lost
    return_best: bool = True  # return the best evaluated sequence when it beats the final mean
    chunk_size: int | None = None  # samples per rollout batch; None = all (halved on out-of-memory)
    autocast: bool = True  # bf16 autocast on CUDA; CPU runs in the model dtype
    compile: bool | str = False  # torch.compile the rollout; a string names the backend

    @classmethod
    def paper(cls, **overrides) -> CEMConfig:
        """The paper's planner: its energy, a fresh zero-mean start each plan, the refit mean executed."""
        paper = dict(anchor_to_observation=False, gripper_goal_weight=0.0, warm_start=False, include_mean=False,
                     return_best=False)
        return cls(**{**paper, **overrides})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | Any, base: CEMConfig | None = None) -> CEMConfig:
        """`base` (default: the shipped settings) with every field that `values` names replaced; `values` is a
        mapping or a namespace (ROS parameters), and keys that are not planner settings are left alone."""
        values = values if isinstance(values, Mapping) else vars(values)
        names = {f.name for f in dataclasses.fields(cls)}
        changes = {k: v for k, v in values.items() if k in names and v is not None}
        return dataclasses.replace(base or cls(), **changes)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Field -> shipped default, without building a config (the ROS parameter table uses it)."""
        return {f.name: f.default for f in dataclasses.fields(cls)}

    def __post_init__(self):
        for name in ("samples", "iterations", "top_k", "horizon"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"CEMConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.top_k > self.samples:
            raise ValueError(f"CEMConfig.top_k ({self.top_k}) exceeds samples ({self.samples})")
        for name in ("momentum_mean", "momentum_std"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"CEMConfig.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if not self.gripper_goal_weight >= 0:
            raise ValueError(f"CEMConfig.gripper_goal_weight must be >= 0, got {self.gripper_goal_weight!r}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError(f"CEMConfig.chunk_size must be None or >= 1, got {self.chunk_size!r}")
        object.__setattr__(self, "frozen_dimensions", tuple(self.frozen_dimensions))
        self.action_space()  # validates radii and frozen dimensions

    def action_space(self):
        from vjepa_ac.planning.action_space import ActionSpace

        return ActionSpace.from_flags(
            translation_radius=self.l1_radius,
            rotation_enabled=self.rotation_enabled,
            rotation_radius=self.rotation_radius,
            gripper_enabled=self.gripper_enabled,
            gripper_max=self.gripper_max,
            frozen_dims=self.frozen_dimensions,
        )

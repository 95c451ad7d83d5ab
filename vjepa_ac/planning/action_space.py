"""Feasible set of 7-D actions (Δxyz, Δ extrinsic-xyz Euler, Δgripper) the planner searches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from vjepa_ac.planning.l1_ball import project_l1_ball

__all__ = ["ACTION_DIM", "ACTION_NAMES", "ActionSpace", "TRANSLATION", "ROTATION", "GRIPPER"]

ACTION_DIM = 7
ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "dgripper")
TRANSLATION = slice(0, 3)
ROTATION = slice(3, 6)
GRIPPER = 6


@dataclass(frozen=True)
class ActionSpace:
    """Translation and rotation each in their own L1 ball, gripper in [-gripper_max, gripper_max].

    Frozen dimensions are pinned to exactly zero (the reference plans with rotation frozen).
    """

    translation_radius: float = 0.075
    rotation_radius: float = 0.2
    gripper_max: float = 0.75
    frozen: tuple[bool, ...] = (False, False, False, True, True, True, False)

    def __post_init__(self):
        for name in ("translation_radius", "rotation_radius", "gripper_max"):
            value = getattr(self, name)
            if not (value >= 0 and value < float("inf")):
                raise ValueError(f"ActionSpace.{name} must be finite and >= 0, got {value!r}")
        if len(self.frozen) != ACTION_DIM:
            raise ValueError(f"ActionSpace.frozen needs {ACTION_DIM} flags, got {len(self.frozen)}")
        object.__setattr__(self, "frozen", tuple(bool(f) for f in self.frozen))

    @classmethod
    def from_flags(
        cls,
        translation_radius: float = 0.075,
        rotation_enabled: bool = False,
        rotation_radius: float = 0.2,
        gripper_enabled: bool = True,
        gripper_max: float = 0.75,
        frozen_dims: Iterable[int | str] = (),
    ) -> ActionSpace:
        """Build the freeze mask from on/off switches plus extra frozen dims (index or name)."""
        frozen = [False] * ACTION_DIM
        if not rotation_enabled:
            frozen[ROTATION] = [True] * 3
        if not gripper_enabled:
            frozen[GRIPPER] = True
        for dim in frozen_dims:
            index = ACTION_NAMES.index(dim) if isinstance(dim, str) else int(dim)
            if not 0 <= index < ACTION_DIM:
                raise ValueError(f"frozen dim {dim!r} outside 0..{ACTION_DIM - 1}")
            frozen[index] = True
        return cls(translation_radius, rotation_radius, gripper_max, tuple(frozen))

    def active_mask(self, device=None, dtype=torch.float32) -> torch.Tensor:
        """1 for searched dimensions, 0 for frozen ones."""
        return torch.tensor([0.0 if f else 1.0 for f in self.frozen], device=device, dtype=dtype)

    def project(self, actions: torch.Tensor) -> torch.Tensor:
        """Map `actions[..., 7]` to the closest feasible actions (per block; frozen dims -> 0)."""
        if not isinstance(actions, torch.Tensor) or actions.shape[-1:] != (ACTION_DIM,):
            shape = tuple(actions.shape) if isinstance(actions, torch.Tensor) else type(actions).__name__
            raise ValueError(f"actions must be a tensor [..., {ACTION_DIM}], got {shape}")
        # Zeroing frozen dims first keeps them at zero: the projection maps 0 to 0.
        a = actions * self.active_mask(actions.device, actions.dtype)
        translation = project_l1_ball(a[..., TRANSLATION], self.translation_radius)
        rotation = project_l1_ball(a[..., ROTATION], self.rotation_radius)
        gripper = a[..., GRIPPER:].clamp(-self.gripper_max, self.gripper_max)
        return torch.cat([translation, rotation, gripper], dim=-1)

    def contains(self, actions: torch.Tensor, atol: float = 0.0) -> torch.Tensor:
        """Boolean [...] telling which actions are feasible (up to `atol`)."""
        a = actions
        frozen = ~self.active_mask(a.device, torch.float32).bool()
        return (
            (a[..., TRANSLATION].abs().sum(-1) <= self.translation_radius + atol)
            & (a[..., ROTATION].abs().sum(-1) <= self.rotation_radius + atol)
            & (a[..., GRIPPER].abs() <= self.gripper_max + atol)
            & (a[..., frozen] == 0).all(-1)
        )

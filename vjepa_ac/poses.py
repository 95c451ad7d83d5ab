"""Batched end-effector pose math in torch (extrinsic "xyz" Euler, as V-JEPA 2-AC was trained).

Everything runs on the tensors' own device and dtype so the planner can integrate thousands of
sampled actions per iteration without leaving the GPU or looping in Python.
"""

from __future__ import annotations

import torch

__all__ = [
    "euler_xyz_to_matrix",
    "matrix_to_euler_xyz",
    "integrate_actions",
    "poses_to_actions",
    "check_finite",
]


def check_finite(name: str, value: torch.Tensor) -> None:
    """Raise early on NaN/inf: a non-finite pose must never turn into a motion command."""
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or inf values")


def _check_last_dim(name: str, value: torch.Tensor, size: int) -> None:
    if value.shape[-1] != size:
        raise ValueError(f"{name} must have last dimension {size}, got shape {tuple(value.shape)}")


def euler_xyz_to_matrix(euler: torch.Tensor) -> torch.Tensor:
    """Extrinsic x-then-y-then-z rotation, i.e. R = Rz(c) @ Ry(b) @ Rx(a) (scipy's lowercase "xyz")."""
    _check_last_dim("euler", euler, 3)
    a, b, c = euler.unbind(-1)
    ca, sa = torch.cos(a), torch.sin(a)
    cb, sb = torch.cos(b), torch.sin(b)
    cc, sc = torch.cos(c), torch.sin(c)
    rows = [
        cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa,
        sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa,
        -sb, cb * sa, cb * ca,
    ]  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(*euler.shape[:-1], 3, 3)


def matrix_to_euler_xyz(matrix: torch.Tensor) -> torch.Tensor:
    """Inverse of `euler_xyz_to_matrix`, with the middle angle in [-pi/2, pi/2].

    At gimbal lock (|b| = pi/2) the first angle is set to zero and the third absorbs the rotation.
    """
    if matrix.shape[-2:] != (3, 3):
        raise ValueError(f"matrix must have trailing shape (3, 3), got {tuple(matrix.shape)}")
    r20 = matrix[..., 2, 0].clamp(-1.0, 1.0)
    b = torch.asin(-r20)
    cos_b = torch.sqrt(matrix[..., 0, 0] ** 2 + matrix[..., 1, 0] ** 2)
    eps = 1e-9 if matrix.dtype == torch.float64 else 1e-6
    regular = cos_b > eps
    a = torch.where(regular, torch.atan2(matrix[..., 2, 1], matrix[..., 2, 2]), torch.zeros_like(b))
    # At gimbal lock only a - c (b = +pi/2) or a + c (b = -pi/2) is defined; put it all into c.
    c_lock = torch.atan2(-matrix[..., 0, 1], matrix[..., 1, 1])
    c = torch.where(regular, torch.atan2(matrix[..., 1, 0], matrix[..., 0, 0]), c_lock)
    return torch.stack([a, b, c], dim=-1)


def integrate_actions(poses: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Apply 7-D actions to 7-D poses: p' = p + dp, R' = R_delta @ R, g' = clip(g + dg, 0, 1)."""
    _check_last_dim("poses", poses, 7)
    _check_last_dim("actions", actions, 7)
    poses, actions = torch.broadcast_tensors(poses, actions)
    position = poses[..., :3] + actions[..., :3]
    rotation = euler_xyz_to_matrix(actions[..., 3:6]) @ euler_xyz_to_matrix(poses[..., 3:6])
    gripper = (poses[..., 6:7] + actions[..., 6:7]).clamp(0.0, 1.0)
    return torch.cat([position, matrix_to_euler_xyz(rotation), gripper], dim=-1)


def poses_to_actions(start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """The action that moves `start` to `end`: dp, R_end @ R_startᵀ as Euler, dg."""
    _check_last_dim("start", start, 7)
    _check_last_dim("end", end, 7)
    start, end = torch.broadcast_tensors(start, end)
    delta_rotation = euler_xyz_to_matrix(end[..., 3:6]) @ euler_xyz_to_matrix(start[..., 3:6]).transpose(-1, -2)
    return torch.cat(
        [end[..., :3] - start[..., :3], matrix_to_euler_xyz(delta_rotation), end[..., 6:7] - start[..., 6:7]],
        dim=-1,
    )

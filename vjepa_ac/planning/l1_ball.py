"""Exact Euclidean projection onto the L1 ball (sort-based, batched over leading dims).

The paper limits each translation (and optionally rotation) delta to an L1 ball; clipping each
coordinate to a box would admit moves up to three times longer along diagonals, so the planner
projects exactly instead (Duchi et al., 2008, "Efficient projections onto the l1-ball").
"""

from __future__ import annotations

import torch

__all__ = ["project_l1_ball"]


def project_l1_ball(x: torch.Tensor, radius: float | torch.Tensor) -> torch.Tensor:
    """Closest point (Euclidean) to each row `x[..., :]` inside {v : |v|_1 <= radius}.

    `radius` is a scalar or a tensor broadcastable to `x.shape[:-1]`. Points already inside are
    returned unchanged (bit for bit), so the projection is idempotent. Results are guaranteed to
    satisfy `|v|_1 <= radius` whether summed in x's dtype or in float64: when rounding would leave a
    projected point a few ulps outside, it is shrunk by a relative ~4 eps towards the origin.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"project_l1_ball expects a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"project_l1_ball expects a floating tensor, got {x.dtype}")
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(f"project_l1_ball needs a non-empty last dimension, got shape {tuple(x.shape)}")
    exact_radius = torch.as_tensor(radius, dtype=torch.float64, device=x.device)
    if not bool(torch.isfinite(exact_radius).all()) or bool((exact_radius < 0).any()):
        raise ValueError(f"L1 radius must be finite and >= 0, got {radius!r}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("project_l1_ball got non-finite input")
    exact_radius = torch.broadcast_to(exact_radius, x.shape[:-1])
    # Round the radius down into x's dtype (0.075 in float32 is slightly above 0.075).
    r = exact_radius.to(x.dtype)
    r = torch.where(r.double() > exact_radius, torch.nextafter(r, torch.zeros_like(r)), r)

    magnitude = x.abs()
    inside = _within(magnitude, r, exact_radius)

    # Soft-threshold level theta: the largest rho with u_rho > (sum_{j<=rho} u_j - r) / rho
    # (u sorted descending) gives theta = (sum_{j<=rho} u_j - r) / rho.
    u, _ = magnitude.sort(dim=-1, descending=True)
    excess = u.cumsum(dim=-1) - r.unsqueeze(-1)
    ranks = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype, device=x.device)
    rho = (u * ranks > excess).sum(dim=-1, keepdim=True).clamp_min(1)  # prefix condition
    theta = excess.gather(-1, rho - 1) / rho.to(x.dtype)
    projected = torch.sign(x) * (magnitude - theta).clamp_min(0)

    # Rounding guard: keep every projected point inside the ball (judged like `inside`).
    projected_norm = projected.double().abs().sum(dim=-1)
    shrink = torch.where(
        ~_within(projected.abs(), r, exact_radius),
        exact_radius / projected_norm.clamp_min(1e-300) * (1 - 4 * torch.finfo(x.dtype).eps),
        torch.ones_like(projected_norm),
    )
    projected = projected * shrink.unsqueeze(-1).to(x.dtype)
    return torch.where(inside.unsqueeze(-1), x, projected)


def _within(magnitude: torch.Tensor, radius: torch.Tensor, exact_radius: torch.Tensor) -> torch.Tensor:
    """Inside the ball both in the working dtype and in float64, so no caller sees a violation."""
    return (magnitude.sum(dim=-1) <= radius) & (magnitude.double().sum(dim=-1) <= exact_radius)

"""Exact L1-ball projection: feasibility, idempotence, optimality, batching, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vjepa_ac.planning import project_l1_ball
from vjepa_ac.planning.action_space import ActionSpace

coords = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False, width=64)
vectors = st.integers(min_value=1, max_value=8).flatmap(lambda d: st.lists(coords, min_size=d, max_size=d))
radii = st.one_of(st.just(0.0), st.floats(min_value=1e-4, max_value=4.0))


def bisection_projection(x: torch.Tensor, radius: float) -> torch.Tensor:
    """Independent reference: find the soft threshold by bisection instead of sorting."""
    if x.abs().sum() <= radius:
        return x.clone()
    lo, hi = 0.0, float(x.abs().max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (x.abs() - mid).clamp_min(0).sum() > radius:
            lo = mid
        else:
            hi = mid
    return torch.sign(x) * (x.abs() - hi).clamp_min(0)


@settings(max_examples=300, deadline=None)
@given(vectors, radii, st.sampled_from([torch.float32, torch.float64]))
def test_projection_lands_inside_ball(values, radius, dtype):
    x = torch.tensor(values, dtype=dtype)
    p = project_l1_ball(x, radius)
    assert p.dtype == dtype and p.shape == x.shape
    assert float(p.abs().sum()) <= radius  # no tolerance: guaranteed in the working dtype


@settings(max_examples=300, deadline=None)
@given(vectors, radii)
def test_projection_is_idempotent_and_keeps_inside_points(values, radius):
    x = torch.tensor(values, dtype=torch.float64)
    p = project_l1_ball(x, radius)
    assert torch.equal(project_l1_ball(p, radius), p)
    if float(x.abs().sum()) <= radius:
        assert torch.equal(p, x)


@settings(max_examples=300, deadline=None)
@given(vectors, radii)
def test_projection_is_the_closest_point(values, radius):
    x = torch.tensor(values, dtype=torch.float64)
    p = project_l1_ball(x, radius)
    residual = x - p
    # Convex optimality certificate: <x - p, z - p> <= 0 for every z in the ball, and the max of
    # the linear function over the ball is radius * |x - p|_inf.
    assert radius * float(residual.abs().max()) <= float(residual @ p) + 1e-9
    assert torch.allclose(p, bisection_projection(x, radius), atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(coords, min_size=3, max_size=3), st.floats(min_value=0.01, max_value=2.0))
def test_no_sampled_ball_point_is_closer(values, radius):
    x = torch.tensor(values, dtype=torch.float64)
    p = project_l1_ball(x, radius)
    gen = torch.Generator().manual_seed(0)
    directions = torch.randn(4000, 3, generator=gen, dtype=torch.float64)
    directions = directions / directions.abs().sum(-1, keepdim=True)
    scales = torch.rand(4000, 1, generator=gen, dtype=torch.float64) ** (1 / 3)
    vertices = torch.cat([torch.eye(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64)])
    candidates = torch.cat([directions * scales, vertices]) * radius
    best_candidate = (candidates - x).norm(dim=-1).min()
    assert float((p - x).norm()) <= float(best_candidate) + 1e-12


def test_batched_projection_matches_rowwise_with_per_row_radius():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 5, 3, generator=gen) * 0.2
    radius = torch.rand(4, 5, generator=gen) * 0.3
    batched = project_l1_ball(x, radius)
    for i in range(4):
        for j in range(5):
            assert torch.equal(batched[i, j], project_l1_ball(x[i, j], float(radius[i, j])))
    assert bool((batched.abs().sum(-1) <= radius).all())


def test_projection_is_not_box_clipping():
    x = torch.tensor([0.1, 0.1, 0.0], dtype=torch.float64)
    p = project_l1_ball(x, 0.075)
    # The diagonal point keeps its direction and lands on the ball surface.
    assert torch.allclose(p, torch.tensor([0.0375, 0.0375, 0.0], dtype=torch.float64))


@pytest.mark.parametrize(
    "x, radius, error",
    [
        (torch.tensor([float("nan"), 0.0, 0.0]), 0.1, ValueError),
        (torch.tensor([0.1, 0.0, 0.0]), -0.1, ValueError),
        (torch.tensor([1, 2, 3]), 0.1, TypeError),
        ([0.1, 0.2], 0.1, TypeError),
        (torch.zeros(3, 0), 0.1, ValueError),
    ],
)
def test_projection_rejects_bad_input(x, radius, error):
    with pytest.raises(error):
        project_l1_ball(x, radius)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-3, max_value=3, width=32), min_size=7, max_size=7), st.booleans())
def test_action_space_projection_respects_every_block(values, rotation_enabled):
    space = ActionSpace.from_flags(translation_radius=0.075, rotation_enabled=rotation_enabled, rotation_radius=0.2)
    a = space.project(torch.tensor(values, dtype=torch.float32))
    assert float(a[:3].abs().sum()) <= 0.075
    assert float(a[3:6].abs().sum()) <= 0.2
    assert abs(float(a[6])) <= 0.75
    if not rotation_enabled:
        assert bool((a[3:6] == 0).all())
    assert bool(space.contains(a))

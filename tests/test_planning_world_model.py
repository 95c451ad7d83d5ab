"""CEM and the energy grid against the real `WorldModel` (random micro weights: interface, not quality)."""

import numpy as np
import pytest
import torch

from vjepa_ac.planning import CEMConfig, CEMPlanner
from vjepa_ac.planning.energy_landscape import energy_grid

models = pytest.importorskip("vjepa_ac.models")


@pytest.fixture(scope="module")
def world_model():
    from vjepa_ac.models.presets import WORLD_MODEL_PRESETS, encoder_preset, predictor_config_for

    encoder_name, predictor_name = WORLD_MODEL_PRESETS["micro"]
    encoder_config = encoder_preset(encoder_name)
    generator = torch.Generator().manual_seed(0)
    encoder = models.VisionEncoder(encoder_config)
    predictor = models.ActionConditionedPredictor(predictor_config_for(encoder_config, predictor_name))
    models.initialize_weights(encoder, generator=generator)
    models.initialize_weights(predictor, generator=generator)
    return models.WorldModel(encoder, predictor)


@pytest.fixture(scope="module")
def frames(world_model):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 48, 48, 3), dtype=np.uint8)
    return world_model.encode(images)


STATE = np.array([0.45, 0.0, 0.3, 3.1, 0.0, 0.0, 0.5])


def test_cem_plans_feasibly_and_reproducibly_with_the_world_model(world_model, frames):
    config = CEMConfig(samples=24, iterations=2, top_k=4, horizon=2, seed=3, anchor_to_observation=False)
    first = CEMPlanner(world_model, config).plan(frames[0], STATE, frames[1])
    again = CEMPlanner(world_model, config).plan(frames[0], STATE, frames[1])
    np.testing.assert_array_equal(first.actions, again.actions)
    assert first.actions.shape == (2, 7) and np.isfinite(first.energy)
    assert (np.abs(first.actions[:, :3]).sum(-1) <= 0.075).all()
    assert np.all(first.actions[:, 3:6] == 0)
    # The reported energy is the world model's energy of the returned plan.
    predicted = world_model.rollout(frames[:1], torch.tensor(STATE[None], dtype=torch.float32),
                                    torch.tensor(first.actions[None], dtype=torch.float32))
    assert abs(float((predicted[0] - frames[1]).abs().mean()) - first.energy) < 1e-5


def test_planner_rejects_tokens_of_the_wrong_model_size(world_model, frames):
    planner = CEMPlanner(world_model, CEMConfig(samples=8, iterations=1, top_k=2))
    with pytest.raises(ValueError, match="current_tokens"):
        planner.plan(frames[0, :, :-1], STATE, frames[1])


def test_energy_grid_runs_one_batched_rollout_on_the_world_model(world_model, frames):
    grid = energy_grid(world_model, frames[0], STATE, frames[1], steps=5, extent=0.05)
    assert grid.energies.shape == (5, 5) and np.isfinite(grid.energies).all()
    assert grid.min_energy == grid.energies.min()
    assert set(np.round(grid.argmin, 6)) <= set(np.round(grid.axis, 6))

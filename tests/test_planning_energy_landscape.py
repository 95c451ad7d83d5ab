"""Energy landscape: the grid's minimum sits at the true displacement; CLI writes PNG + summary."""

import json

import numpy as np
import pytest
import torch

from vjepa_ac.planning import energy_landscape
from vjepa_ac.planning.energy_landscape import energy_grid
from vjepa_ac.planning.pose_world_model import PoseFeatureWorldModel
from vjepa_ac.poses import integrate_actions

START = np.array([0.45, 0.05, 0.30, 0.10, -0.20, 0.30, 0.20])


class ImageKeyedModel(PoseFeatureWorldModel):
    """`encode` reads which pose an image shows from a lookup on its first pixel."""

    def __init__(self, poses):
        super().__init__(tokens_per_frame=16, embed_dim=32, seed=5)
        self.poses = poses

    def encode(self, images):
        keys = [int(img[0, 0, 0]) for img in np.asarray(images)]
        return self.tokens_for_state(torch.tensor(np.stack([self.poses[k] for k in keys]), dtype=torch.float32))


def test_grid_minimum_is_the_true_displacement():
    model = PoseFeatureWorldModel(seed=1)
    true = torch.tensor([0.035, -0.02, 0, 0, 0, 0, 0], dtype=torch.float64)
    goal = integrate_actions(torch.tensor(START), true)
    tokens = model.tokens_for_state(torch.tensor(START, dtype=torch.float32)[None])[0]
    goal_tokens = model.tokens_for_state(goal.float()[None])[0]
    grid = energy_grid(model, tokens, START, goal_tokens, extent=0.1, steps=41)
    assert grid.energies.shape == (41, 41)
    np.testing.assert_allclose(grid.argmin, [0.035, -0.02], atol=0.0026)  # half a grid cell
    # A bowl: energy grows away from the minimum along both swept axes.
    i, j = np.unravel_index(np.argmin(grid.energies), grid.energies.shape)
    assert np.all(np.diff(grid.energies[i:, j]) > 0) and np.all(np.diff(grid.energies[:i + 1, j]) < 0)
    assert np.all(np.diff(grid.energies[i, j:]) > 0) and np.all(np.diff(grid.energies[i, :j + 1]) < 0)
    assert grid.argmin_action[2:].tolist() == [0.0] * 5


def test_grid_rejects_bad_arguments():
    model = PoseFeatureWorldModel()
    tokens = torch.zeros(16, 32)
    with pytest.raises(ValueError):
        energy_grid(model, tokens, START, tokens, dims=(0, 0))
    with pytest.raises(ValueError):
        energy_grid(model, tokens, START, tokens[:, :8])
    with pytest.raises(ValueError):
        energy_grid(model, tokens, [np.nan] * 7, tokens)


def test_cli_writes_heat_map_and_summary(tmp_path, monkeypatch):
    goal_state = integrate_actions(torch.tensor(START), torch.tensor([-0.03, 0.04, 0, 0, 0, 0, 0.0], dtype=torch.float64))
    model = ImageKeyedModel({0: START, 1: goal_state.numpy()})
    frames = np.zeros((1, 2, 8, 8, 3), dtype=np.uint8)
    frames[0, 1] = 1
    data = tmp_path / "traj.npz"
    np.savez(data, observations=frames, states=np.stack([START, goal_state.numpy()])[None].astype(np.float32))
    monkeypatch.setattr("vjepa_ac.models.checkpoints.load_world_model", lambda path, device="cpu": model)
    png, summary = tmp_path / "out" / "landscape.png", tmp_path / "summary.json"
    code = energy_landscape.main(["--data", str(data), "--steps", "21", "--out", str(png), "--json", str(summary)])
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads(summary.read_text())
    assert result["dims"] == ["dx", "dy"]
    np.testing.assert_allclose(result["true_action"][:2], [-0.03, 0.04], atol=1e-6)
    assert result["argmin_error"] <= 0.0072  # within one 1 cm grid cell diagonal / sqrt(2)


def test_cli_reports_a_checkpoint_that_cannot_load(tmp_path, capsys, monkeypatch):
    def fail(path, device="cpu"):
        raise FileNotFoundError("no embedded model yet")

    monkeypatch.setattr("vjepa_ac.models.checkpoints.load_world_model", fail)
    data = tmp_path / "traj.npz"
    np.savez(data, frames=np.zeros((2, 8, 8, 3), np.uint8), states=np.zeros((2, 7), np.float32))
    assert energy_landscape.main(["--data", str(data), "--out", str(tmp_path / "x.png")]) == 2
    assert "could not load the embedded model" in capsys.readouterr().err

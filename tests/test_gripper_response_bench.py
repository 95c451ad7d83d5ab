"""bench/predictor_gripper_response.py: finds the held-out gripper changes and scores them end to end."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

from vjepa_ac.models import save_world_model
from vjepa_ac.training.token_cache import build_token_cache, encoder_fingerprint
from vjepa_ac.training.trajectories import Trajectory

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_counts_gripper_changes_in_the_held_out_tail(tmp_path):
    model = _load("plan_latency").build_random_world_model("micro", "cpu", torch.float32)
    save_world_model(model, tmp_path / "model")
    rng = np.random.default_rng(0)
    trajectories = []
    for i in range(4):
        states = np.tile(np.array([0.45, 0.0, 0.3, np.pi, 0.0, 0.0, 0.0], np.float32), (6, 1))
        states[:, 0] += 0.02 * np.arange(6)
        states[3:, 6] = 0.8 if i == 3 else 0.0  # only the last trajectory (the held-out tail) closes
        frames = rng.integers(0, 256, (6, model.image_size, model.image_size, 3), dtype=np.uint8)
        trajectories.append(Trajectory(frames=frames, states=states, name=f"t{i}"))
    cache = build_token_cache(tmp_path / "cache.safetensors", trajectories, model.encode,
                              encoder_fingerprint(model.encoder), progress=False)
    out = tmp_path / "response.json"
    bench = _load("predictor_gripper_response")
    assert bench.main(["--model", str(tmp_path / "model"), "--token-cache", str(cache), "--val-fraction", "0.25",
                       "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["held_out_trajectories"] == [3, 3] and result["gripper_change_steps"] == 1
    assert len(result["action_embedding_column_norms"]) == 7
    assert result["prediction_shift_translation_zeroed"] > 0 and result["prediction_shift_gripper_zeroed"] > 0
    # A tail without gripper changes is reported as a failure, not as an empty result.
    quiet = build_token_cache(tmp_path / "quiet.safetensors", trajectories[:3], model.encode,
                              encoder_fingerprint(model.encoder), progress=False)
    assert bench.main(["--model", str(tmp_path / "model"), "--token-cache", str(quiet), "--val-fraction", "0.34",
                       "--json", str(tmp_path / "quiet.json")]) == 1
    assert not (tmp_path / "quiet.json").exists()


def test_encoder_readout_bench_finds_a_gripper_the_pixels_show(tmp_path):
    """A gripper drawn as a bright square is found by the ridge readout; on pure noise it is not."""
    from vjepa_ac.training.episodes import save_episode

    model = _load("plan_latency").build_random_world_model("micro", "cpu", torch.float32)
    save_world_model(model, tmp_path / "model")
    size = model.image_size
    rng = np.random.default_rng(0)
    for marked in (True, False):
        data = tmp_path / ("marked" if marked else "noise")
        for i in range(8):
            closed = (rng.uniform(size=24) < 0.5).astype(np.float32)
            frames = rng.integers(0, 120, (24, size, size, 3), dtype=np.uint8)
            if marked:
                frames[closed > 0, : size // 2, : size // 2] = 250
            states = np.tile(np.array([0.45, 0.0, 0.3, np.pi, 0.0, 0.0, 0.0], np.float32), (24, 1))
            states[:, 6] = closed
            save_episode(data / f"episode_{i:05d}.npz", frames, states, seed=i, engine="mujoco")
    bench = _load("encoder_gripper_readout")
    results = {}
    for name in ("marked", "noise"):
        out = tmp_path / f"{name}.json"
        assert bench.main(["--model", str(tmp_path / "model"), "--data", str(tmp_path / name), "--every", "1",
                           "--threads", "1", "--json", str(out)]) == 0
        results[name] = json.loads(out.read_text())
    assert results["marked"]["frames"] == 8 * 24
    assert 0.3 < results["marked"]["closed_fraction"] < 0.7
    assert results["marked"]["ridge_explained"] > 0.8, results["marked"]
    assert results["noise"]["ridge_explained"] < 0.3, results["noise"]

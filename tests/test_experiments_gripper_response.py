"""experiments/predictor_gripper_response.py: finds the held-out gripper changes and scores them end to end."""

import json

import numpy as np
import torch
from script_support import load_script

from vjepa_ac.models import save_world_model
from vjepa_ac.training.data.episodes import Episode
from vjepa_ac.training.data.token_cache import build_token_cache, encoder_fingerprint


def test_bench_counts_gripper_changes_in_the_held_out_tail(tmp_path):
    model = load_script("bench/plan_latency.py").build_random_world_model("micro", "cpu", torch.float32)
    save_world_model(model, tmp_path / "model")
    rng = np.random.default_rng(0)
    trajectories = []
    for i in range(4):
        states = np.tile(np.array([0.45, 0.0, 0.3, np.pi, 0.0, 0.0, 0.0], np.float32), (6, 1))
        states[:, 0] += 0.02 * np.arange(6)
        states[3:, 6] = 0.8 if i == 3 else 0.0  # only the last trajectory (the held-out tail) closes
        frames = rng.integers(0, 256, (6, model.image_size, model.image_size, 3), dtype=np.uint8)
        trajectories.append(Episode(frames=frames, states=states, name=f"t{i}"))
    cache = build_token_cache(tmp_path / "cache.safetensors", trajectories, model.encode,
                              encoder_fingerprint(model.encoder), progress=False)
    out = tmp_path / "response.json"
    bench = load_script("experiments/predictor_gripper_response.py")
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


"""vjepa-ac-check-setup on simulated recordings: GO for correct ones, NO-GO with the reason for each mistake."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vjepa_ac.sensing import SensorSample
from vjepa_ac.tools.check_setup import main, run_checks
from vjepa_ac.training.data.collect import record_episode
from vjepa_ac.training.data.exploration import ExplorationConfig
from vjepa_ac.training.data.recording import EpisodeRecording, RecorderSettings, save_recording

SEEDS = range(90300, 90304)  # training seeds: these scenes are recorded data


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Four exploration episodes written by the recorder's own writer, as a 4 Hz recording would be."""
    from vjepa_ac.models import world_model_camera
    from vjepa_ac.simulation import make_sim

    out = tmp_path_factory.mktemp("recorded")
    # Some yaw: with the hand pointing straight down, "xyz" and "XYZ" give the same angles.
    config = ExplorationConfig(max_step=0.075, smoothing=0.5, toggle_probability=0.05, yaw_step=0.1)
    settings = RecorderSettings(rate_hz=4.0, image_size=128, min_steps=3)
    with make_sim("mujoco", image_size=128) as sim:
        for seed in SEEDS:
            # Through the camera the default model was trained on, as a user records with the camera it expects.
            frames, states, _ = record_episode(sim, seed, "explore", 10, config, camera=world_model_camera())
            recording = EpisodeRecording(settings, seed=seed)
            for k, (image, state) in enumerate(zip(frames, states, strict=True)):
                t = 100.0 + 0.25 * k
                quat = Rotation.from_euler("xyz", state[3:6]).as_quat()
                recording.record_step(t, [SensorSample(image, t, t, "camera")],
                                      [SensorSample((state[:6], quat), t, t, "panda_link0")],
                                      [SensorSample(float(state[6]), t, t)])
            save_recording(recording, out)
    return out


def rewrite(src, dst, states=None, frames=None):
    """Copies of the episodes with their states (or frames) changed by a function of the arrays."""
    dst.mkdir()
    for path in sorted(src.glob("episode_*.npz")):
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        if states is not None:
            arrays["states"] = states(arrays["states"].copy(), arrays["orientations_xyzw"]).astype(np.float32)
        if frames is not None:
            arrays["frames"] = frames(arrays["frames"])
        np.savez_compressed(dst / path.name, **arrays)
    return dst


def test_correct_recordings_are_go(recorded, tmp_path):
    report_path = tmp_path / "report.json"
    assert main(["--episodes", str(recorded), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["verdict"] == "GO" and report["reasons"] == []
    for axis in "xyz":
        entry = report["axes"][axis]
        assert entry["verdict"] == "ok" and entry["pairs"] >= 3, entry
    assert report["euler"]["detected"] == "xyz radians (extrinsic)"
    assert report["images"]["model_input"] == 128


@pytest.mark.parametrize(("convention", "degrees", "detected"), [
    ("XYZ", False, "XYZ radians (intrinsic)"),
    ("xyz", True, "xyz degrees"),
])
def test_wrong_euler_convention_is_no_go(recorded, tmp_path, convention, degrees, detected):
    def to_convention(states, quats):
        states[:, 3:6] = Rotation.from_quat(quats).as_euler(convention, degrees=degrees)
        return states

    report = run_checks([rewrite(recorded, tmp_path / "bad", states=to_convention)])
    assert report["verdict"] == "NO-GO"
    assert report["euler"]["detected"] == detected
    assert any("not 'xyz' extrinsic radians" in r and detected in r for r in report["reasons"]), report["reasons"]


def test_mirrored_axis_is_no_go(recorded, tmp_path):
    def mirror_y(states, _quats):
        states[:, 1] = -states[:, 1]
        return states

    report = run_checks([rewrite(recorded, tmp_path / "mirrored", states=mirror_y)])
    assert report["verdict"] == "NO-GO"
    assert report["axes"]["y"]["verdict"] == "wrong sign", report["axes"]["y"]
    # The predictor reads the whole state, so a flipped y can also blur x and z (model v2: 5 of 8 each);
    # only y is named as flipped.
    assert {report["axes"]["x"]["verdict"], report["axes"]["z"]["verdict"]} <= {"ok", "inconsistent"}
    assert any(r.startswith("axis y: the energy minimum lies against the true move") for r in report["reasons"])


def test_small_frames_and_a_crop_mismatch_are_no_go(recorded, tmp_path):
    def shrink(frames):
        return np.ascontiguousarray(frames[:, ::2, ::2])

    config = tmp_path / "planner.yaml"
    config.write_text("/**:\n  ros__parameters:\n    image_crop: none\n")
    report = run_checks([rewrite(recorded, tmp_path / "small", frames=shrink)], planner_config=config)
    assert report["verdict"] == "NO-GO"
    assert any("frames stored at 64x64 px are upscaled to the model's 128 px" in r for r in report["reasons"])
    assert any("recorded with image_crop 'center', the planner uses 'none'" in r for r in report["reasons"])


def test_gripper_in_percent_is_no_go(recorded, tmp_path):
    def percent(states, _quats):
        states[:, 6] *= 100.0
        return states

    report = run_checks([rewrite(recorded, tmp_path / "percent", states=percent)])
    assert report["verdict"] == "NO-GO"
    assert any("gripper closedness spans" in r for r in report["reasons"])

"""The goal-image gripper readout: training, its file, and the planner-side wrapper."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from vjepa_ac.models import EMBEDDED_MODEL_DIR, CheckpointError
from vjepa_ac.models.gripper_readout import (
    GRIPPER_READOUT_FILE,
    GripperReadout,
    load_gripper_readout,
    save_gripper_readout,
)
from vjepa_ac.planning.goal_gripper import GoalGripper, gripper_target
from vjepa_ac.training.predictor.readout_trainer import episode_frames, readout_scores, train_gripper_readout


def synthetic_frames(n=240, size=64, seed=0):
    """Noisy grey frames; where the hand is 'closed' a small bright square sits at a fixed place."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(60, 140, size=(n, size, size, 3)).astype(np.uint8)
    closed = rng.random(n) < 0.35
    frames[closed, 20:28, 36:44] = 250
    return torch.from_numpy(frames), torch.from_numpy(closed)


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(2)
    frames, closed = synthetic_frames()
    return train_gripper_readout(frames, closed, epochs=4, batch_size=32, log=lambda _: None)


def test_training_separates_what_the_pixels_show(trained):
    frames, closed = synthetic_frames(n=80, seed=1)  # unseen frames
    assert readout_scores(trained, frames, closed)["balanced_accuracy"] >= 0.95
    decisions = [trained.goal_closedness(f.numpy(), 0.8) for f in frames]
    decided = [(d, c) for d, c in zip(decisions, closed.tolist()) if d is not None]
    assert len(decided) >= 70 and all(d == float(c) for d, c in decided)


def test_training_needs_both_classes_and_uint8_frames():
    frames, _ = synthetic_frames(n=8)
    with pytest.raises(ValueError, match="both open and closed"):
        train_gripper_readout(frames, torch.zeros(8, dtype=torch.bool), epochs=1)
    with pytest.raises(ValueError, match="uint8"):
        train_gripper_readout(frames.float(), torch.ones(8, dtype=torch.bool), epochs=1)


def test_goal_closedness_abstains_when_unsure():
    readout = GripperReadout(32)
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        readout.head.weight.zero_()
        for bias, expected in ((3.0, 1.0), (-3.0, 0.0), (0.5, None)):  # p = 0.95, 0.05, 0.62
            readout.head.bias.fill_(bias)
            assert readout.goal_closedness(image, 0.8) == expected
    with pytest.raises(ValueError, match="min_confidence"):
        readout.goal_closedness(image, 0.3)
    # Any image size is centre-cropped and resized to the readout's input, as for the encoder.
    assert readout.probability_closed(np.zeros((48, 80, 3), dtype=np.uint8)).shape == (1,)
    with pytest.raises(ValueError, match="frames"):
        readout.logits(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="multiple of 16"):
        GripperReadout(40)


def test_file_round_trip(trained, tmp_path):
    trained.metadata = {"note": "test"}
    path = save_gripper_readout(trained, tmp_path)
    assert path == tmp_path / GRIPPER_READOUT_FILE
    nested = save_gripper_readout(trained, tmp_path / "new" / "readout.safetensors")  # folders are created
    for where in (tmp_path, path, nested):
        loaded = load_gripper_readout(where)
        frames, _ = synthetic_frames(n=6, seed=2)
        np.testing.assert_allclose(loaded.probability_closed(frames), trained.probability_closed(frames), atol=1e-6)
        assert loaded.metadata == {"note": "test"} and loaded.image_size == 64


def test_missing_foreign_and_mismatched_files(trained, tmp_path):
    assert load_gripper_readout(tmp_path) is None  # a model directory without one
    with pytest.raises(CheckpointError, match="not found"):
        load_gripper_readout(tmp_path, required=True)
    with pytest.raises(CheckpointError, match="not found"):
        load_gripper_readout(tmp_path / "nothing.safetensors")
    torn = tmp_path / "torn.safetensors"
    torn.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(CheckpointError):
        load_gripper_readout(torn)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(4)}, str(foreign), metadata={"format": "something else"})
    with pytest.raises(CheckpointError, match="not a vjepa_ac.gripper_readout"):
        load_gripper_readout(foreign)
    # A header that claims another input size than the weights were trained for.
    tensors = {k: v.contiguous() for k, v in trained.state_dict().items()}
    resized = tmp_path / "resized.safetensors"
    save_file(tensors, str(resized), metadata={"format": "vjepa_ac.gripper_readout", "format_version": "1",
                                               "image_size": "128", "metadata": "{}"})
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_gripper_readout(resized)
    missing = tmp_path / "missing_key.safetensors"
    save_file({k: v for k, v in tensors.items() if k != "head.bias"}, str(missing),
              metadata={"format": "vjepa_ac.gripper_readout", "format_version": "1", "image_size": "64"})
    with pytest.raises(CheckpointError, match="missing keys"):
        load_gripper_readout(missing)


def test_goal_gripper_requires_a_readout_and_holds_when_undecided(trained, tmp_path):
    with pytest.raises(ValueError, match="has no gripper_readout.safetensors"):
        GoalGripper.for_model(tmp_path)
    save_gripper_readout(trained, tmp_path / "elsewhere.safetensors")
    named = GoalGripper.for_model(tmp_path, tmp_path / "elsewhere.safetensors", 0.6)
    assert named.min_confidence == 0.6 and named.source == tmp_path / "elsewhere.safetensors"
    frames, closed = synthetic_frames(n=4, seed=3)
    assert [named.closedness(f.numpy()) for f in frames] == [float(c) for c in closed.tolist()]
    assert gripper_target(None, 0.4) == 0.4 and gripper_target(1.0, 0.4) == 1.0 and gripper_target(0.0, 1.0) == 0.0


def test_episode_frames_labels_and_skips_ambiguous_setpoints(tmp_path):
    from vjepa_ac.training.data.episodes import save_episode

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(5, 32, 32, 3), dtype=np.uint8)
    states = np.zeros((5, 7), dtype=np.float32)
    states[:, 6] = [0.0, 0.1, 0.5, 0.9, 1.0]
    path = save_episode(tmp_path / "a.npz", frames, states, seed=0, engine="mujoco")
    kept, closed, owners = episode_frames([path])
    assert kept.shape == (4, 32, 32, 3) and torch.equal(kept[2], torch.from_numpy(frames[3]))
    assert closed.tolist() == [False, False, True, True] and owners.tolist() == [0, 0, 0, 0]


def test_shipped_readout_reads_the_pick_and_place_goal_images():
    """The embedded model's readout on unseen scenes (seeds 90000+, never collected): the open hand around the
    cube is never read as closed (it may be undecided: the planner then holds the open hand), the cube held
    above the target is closed, the placed cube with the hand above it open."""
    from vjepa_ac.evaluation.tasks import make_task
    from vjepa_ac.simulation import make_sim

    goal = GoalGripper.for_model()
    assert goal.source == EMBEDDED_MODEL_DIR / GRIPPER_READOUT_FILE
    sim = make_sim("mujoco", image_size=goal.readout.image_size)
    try:
        from vjepa_ac.models import world_model_camera

        # Its three images, without the pre-grasp, through the camera the model was trained on.
        task = make_task("pick-and-place", protocol="near-cube", camera=world_model_camera())
        for seed in (90000, 90001):
            _, setup = task.setup(sim, seed)
            first, held, placed = (goal.closedness(image) for image in setup.goal_images)
            assert first in (None, 0.0) and held == 1.0 and placed == 0.0, (seed, first, held, placed)
    finally:
        sim.close()

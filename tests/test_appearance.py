"""Appearance randomisation (issue 19): the default look is byte-identical to the frames before it existed,
"train" and "unseen" change the image reproducibly per seed, and "unseen" lies outside the training ranges."""

import hashlib

import numpy as np
import pytest

from vjepa_ac.simulation import TaskOptions, make_sim
from vjepa_ac.simulation.appearance import (
    CUBE_COLORS,
    TRAIN_RANGES,
    UNSEEN_RANGES,
    draw_appearance,
    in_range,
)

# sha256 over (reset frame, render_goal frame, frame after one step) of seeds 100000/100001 with default options
# (and with the protocol v2 start), rendered by the code at c6c072b, before appearances existed.
HEAD_DIGESTS = {
    ("mujoco", 64, 100000, False): "91ef00c6c730e7557f23f46e5e48c48efbd8aab36b94140008273ed93d0b61c5",
    ("mujoco", 64, 100000, True): "96d9057991c7af366c64e981f788192cdcafbcd0ef1254bd02d398d60448262f",
    ("mujoco", 64, 100001, False): "e7e1538473635cdb79a61944edff538f3b1d56ce0eeac1975589c7dc2ba194fc",
    ("mujoco", 64, 100001, True): "9497912caefac8255cba4b7ef6f0a88a758be02866dd8570de2e144751776cd1",
    ("mujoco", 128, 100000, False): "6d6995537294f537100f39df59f43289a22c8dab2343dde83ec1d61c288d9a45",
    ("mujoco", 128, 100000, True): "af6486fad96881cb9b80584858e041146201512858507b6b4bfd9763d3a6f9bb",
    ("mujoco", 128, 100001, False): "a194000da8e868c8f9479c3fecb1501f16e953ce4ea1fcb7ef44f6501e337ffb",
    ("mujoco", 128, 100001, True): "5227d7fce101dc0c19478a49bc0b221c59689ca8353a7475281119eeeb90c031",
    ("pybullet", 64, 100000, False): "9b2a548e33c437250d236b630fe8ddc0117777cfc9d70e48dcce9dd0fa068c67",
    ("pybullet", 64, 100000, True): "8a01e6cd2fe58a2451f3580e4ad5e11b10c97970b5234f40ae3fcf9eaaad45ed",
    ("pybullet", 64, 100001, False): "a6cb534012ff743de254d142b8177d3e616d457ed6b4b046529b3f40f4933ffc",
    ("pybullet", 64, 100001, True): "05bf8496a3005835da822f0aec48852d834454d3835678a367b695c0e339480b",
    ("pybullet", 128, 100000, False): "88db5bc1f7363b2b62b2aee8f5d2c7fc226b5feec18f4ad2071e7188c06e913b",
    ("pybullet", 128, 100000, True): "27e86190569745583854819f0025e3c98f7029f89ee9924252f129688560af55",
    ("pybullet", 128, 100001, False): "8ca1efb6f38bd7a500e59713a2e5aa6c8bf62e2dc30204374277a49979502155",
    ("pybullet", 128, 100001, True): "c01a794c2b615d3f9c0a573875b6f913e23151abb32ef76f0b0a466f7a2e56fd",
}


def _frames(sim, seed, options=None):
    obs = sim.reset(seed, options)
    goal = np.concatenate([obs.ee_state[:3] + [0.05, -0.04, -0.06], obs.ee_state[3:6], [0.0]])
    return [obs.image, sim.render_goal(ee_pose=goal),
            sim.step(np.array([0.03, 0.02, -0.02, 0, 0, 0.1, 0.0])).image]


def _digest(images) -> str:
    h = hashlib.sha256()
    for image in images:
        h.update(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
def test_default_frames_are_byte_identical_to_before(engine, size):
    sim = make_sim(engine, image_size=size)
    try:
        sim.reset(100002, {"appearance": "train"})  # an appearance before must leave nothing behind
        for seed in (100000, 100001):
            for away in (False, True):
                options = {"start_away_from_cube": True} if away else None
                assert _digest(_frames(sim, seed, options)) == HEAD_DIGESTS[(engine, size, seed, away)]
                if away:  # the explicit default is the default
                    options = {"start_away_from_cube": True, "appearance": "default"}
                    assert _digest(_frames(sim, seed, options)) == HEAD_DIGESTS[(engine, size, seed, away)]
    finally:
        sim.close()


@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
def test_train_and_unseen_change_the_image_reproducibly_and_not_the_scene(engine):
    sim = make_sim(engine, image_size=64)
    try:
        base = sim.reset(100003)
        position, _ = sim.camera_pose()
        images = {}
        for mode in ("train", "unseen"):
            obs = sim.reset(100003, {"appearance": mode})
            moved, _ = sim.camera_pose()
            assert 0 < np.abs(moved - position).max() <= TRAIN_RANGES.camera_position_m + 1e-12
            assert np.abs(obs.image.astype(int) - base.image.astype(int)).mean() > 5
            np.testing.assert_allclose(obs.ee_state, base.ee_state, atol=1e-6)
            for name, pose in base.object_poses.items():
                np.testing.assert_allclose(obs.object_poses[name], pose, atol=1e-6)
            again = sim.reset(100003, {"appearance": mode})
            np.testing.assert_array_equal(again.image, obs.image)
            images[mode] = obs.image
            other = sim.reset(100004, {"appearance": mode})
            assert not np.array_equal(other.image, obs.image)
            assert sim.layout.appearance == draw_appearance(mode, 100004) != draw_appearance(mode, 100003)
        assert not np.array_equal(images["train"], images["unseen"])
    finally:
        sim.close()


def test_draws_are_seeded_and_unseen_lies_outside_the_training_ranges():
    assert draw_appearance("default", 100000) is None
    assert draw_appearance("train", 100000) == draw_appearance("train", 100000)
    assert draw_appearance("train", 100000) != draw_appearance("train", 100001)
    r = TRAIN_RANGES
    for seed in range(100000, 100200):
        train, unseen = draw_appearance("train", seed), draw_appearance("unseen", seed)
        assert in_range(train.light_azimuth_deg, r.light_azimuth_deg, 360.0)
        assert in_range(train.table_hsv[0], r.table_hue_deg, 360.0)
        assert not in_range(unseen.light_azimuth_deg, r.light_azimuth_deg, 360.0)
        assert not in_range(unseen.table_hsv[0], r.table_hue_deg, 360.0)
        assert in_range(unseen.light_azimuth_deg, UNSEEN_RANGES.light_azimuth_deg, 360.0)
        for a in (train, unseen):  # everything else within the training ranges
            assert in_range(a.light_elevation_deg, r.light_elevation_deg)
            assert in_range(a.light_diffuse, r.light_diffuse) and in_range(a.light_ambient, r.light_ambient)
            assert in_range(a.table_hsv[1], r.table_saturation) and in_range(a.table_hsv[2], r.table_value)
            assert a.cube_color in CUBE_COLORS and max(a.floor_rgb) <= r.floor_value[1] + 1e-12
            assert max(abs(x) for x in a.camera_offset_m) <= r.camera_position_m
            assert max(abs(x) for x in a.camera_pan_tilt_roll_deg) <= r.camera_angle_deg
        direction = np.asarray(train.light_direction)
        assert np.linalg.norm(direction) == pytest.approx(1.0) and direction[2] < 0  # shining down


def test_options_reject_unknown_appearances_and_mixing_with_the_old_switches():
    assert TaskOptions().appearance == "default"
    with pytest.raises(ValueError, match="unknown appearance"):
        TaskOptions(appearance="night")
    with pytest.raises(ValueError, match="leave"):
        TaskOptions(appearance="train", randomize_colors=True)

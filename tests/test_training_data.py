"""Episode files and readers (sim episodes, reference npz, DROID-style dirs), clips and the token cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vjepa_ac.poses import poses_to_actions
from vjepa_ac.training.data.clip_dataset import ClipDataset, clip_windows
from vjepa_ac.training.data.episodes import (
    Episode,
    EpisodeFormatError,
    load_cube_positions,
    load_droid_episode,
    load_episode,
    load_episodes,
    load_many,
    save_episode,
)
from vjepa_ac.training.data.token_cache import (
    CachedClipDataset,
    TokenCache,
    TokenCacheError,
    build_token_cache,
    encoder_fingerprint,
)


def random_states(rng, length):
    states = np.zeros((length, 7), dtype=np.float32)
    states[:, :3] = 0.5 + 0.05 * np.cumsum(rng.normal(size=(length, 3)), axis=0)
    states[:, 3:6] = rng.uniform(-1.0, 1.0, size=(length, 3))
    states[:, 6] = rng.uniform(0, 1, size=length)
    return states


def test_episode_round_trip_and_validation(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    states = random_states(rng, 5)
    path = save_episode(tmp_path / "ep.npz", frames, states, seed=7, engine="mujoco")
    ep = load_episode(path)
    np.testing.assert_array_equal(ep.frames, frames)
    np.testing.assert_array_equal(ep.states, states)
    assert (ep.seed, ep.engine, len(ep)) == (7, "mujoco", 5)
    assert not list(tmp_path.glob("*.tmp*"))
    with pytest.raises(EpisodeFormatError, match="frames but"):
        save_episode(tmp_path / "bad.npz", frames, states[:4], seed=0, engine="x")
    with pytest.raises(EpisodeFormatError, match="uint8"):
        save_episode(tmp_path / "bad.npz", frames.astype(np.float32), states, seed=0, engine="x")
    with pytest.raises(EpisodeFormatError, match="non-finite"):
        bad = states.copy()
        bad[2, 1] = np.nan
        save_episode(tmp_path / "bad.npz", frames, bad, seed=0, engine="x")
    with pytest.raises(FileNotFoundError):
        load_episode(tmp_path / "missing.npz")
    assert load_cube_positions(path) is None
    cubes = rng.normal(size=(5, 3)).astype(np.float32)
    with_cubes = save_episode(tmp_path / "cubes.npz", frames, states, seed=7, engine="mujoco", cube_positions=cubes)
    np.testing.assert_array_equal(load_cube_positions(with_cubes), cubes)
    np.testing.assert_array_equal(load_episode(with_cubes).frames, frames)
    with pytest.raises(EpisodeFormatError, match="cube_positions"):
        save_episode(tmp_path / "bad.npz", frames, states, seed=0, engine="x", cube_positions=cubes[:4])


def test_reference_npz_and_episode_directory(tmp_path, shared_dir):
    franka_npz = shared_dir / "data" / "franka_example_traj.npz"
    (traj,) = load_episodes(franka_npz)
    assert traj.frames.shape == (2, 256, 256, 3) and traj.states.shape == (2, 7)
    (small,) = load_episodes(franka_npz, image_size=64)
    assert small.frames.shape == (2, 64, 64, 3)
    # Resizing keeps the picture: the mean colour barely changes.
    assert abs(small.frames.mean() - traj.frames.mean()) < 2.0
    rng = np.random.default_rng(1)
    for i in range(3):
        save_episode(tmp_path / f"ep{i}.npz", rng.integers(0, 256, (4 + i, 16, 16, 3), dtype=np.uint8),
                     random_states(rng, 4 + i), seed=i, engine="mujoco")
    loaded = load_episodes(tmp_path)
    assert [len(t) for t in loaded] == [4, 5, 6]
    assert [len(t) for t in load_many([franka_npz, tmp_path / "ep0.npz"])] == [2, 4]
    with pytest.raises(EpisodeFormatError, match="no episodes"):
        (tmp_path / "empty").mkdir()
        load_episodes(tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        load_episodes(tmp_path / "nope")


def test_droid_png_layout(tmp_path):
    rng = np.random.default_rng(2)
    episode = tmp_path / "droid" / "episode_0"
    (episode / "frames").mkdir(parents=True)
    frames = rng.integers(0, 256, (3, 24, 40, 3), dtype=np.uint8)  # non-square, like DROID's 16:9
    for i, f in enumerate(frames):
        Image.fromarray(f).save(episode / "frames" / f"{i:06d}.png")
    np.save(episode / "states.npy", random_states(rng, 3))
    traj = load_droid_episode(episode, image_size=16)
    assert traj.frames.shape == (3, 16, 16, 3)
    # Centre crop: the square comes from the middle columns 8..32 of the original.
    unresized = load_droid_episode(episode, image_size=24)
    np.testing.assert_array_equal(unresized.frames, frames[:, :, 8:32])
    assert len(load_episodes(tmp_path / "droid")) == 1
    np.save(episode / "states.npy", random_states(rng, 4))
    with pytest.raises(EpisodeFormatError, match="3 frames but 4 states"):
        load_droid_episode(episode)


def test_clip_dataset_strided_actions_are_state_differences():
    rng = np.random.default_rng(3)
    states = random_states(rng, 11)
    traj = Episode(frames=rng.integers(0, 256, (11, 8, 8, 3), dtype=np.uint8), states=states, name="t")
    ds = ClipDataset([traj], frames_per_clip=3, stride=4)
    assert len(ds) == 11 - (2 * 4 + 1) + 1
    item = ds[1]
    rows = [1, 5, 9]
    np.testing.assert_array_equal(item["frames"].numpy(), traj.frames[rows])
    expected = poses_to_actions(torch.tensor(states[rows[:-1]], dtype=torch.float64),
                                torch.tensor(states[rows[1:]], dtype=torch.float64))
    torch.testing.assert_close(item["actions"], expected.float())
    # Position and gripper parts are plain differences.
    np.testing.assert_allclose(item["actions"][:, :3].numpy(), np.diff(states[rows, :3], axis=0), atol=1e-6)
    with pytest.raises(ValueError, match="long enough"):
        clip_windows([5], frames_per_clip=3, stride=4)
    with pytest.raises(ValueError, match="frames_per_clip"):
        clip_windows([5], frames_per_clip=1, stride=1)


class MeanColourEncoder(torch.nn.Module):
    """A stand-in frozen encoder: 4 'tokens' per frame from quadrant mean colours (deterministic)."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))

    def encode(self, frames: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(frames).float()
        h, w = x.shape[1] // 2, x.shape[2] // 2
        quads = [x[:, :h, :w], x[:, :h, w:], x[:, h:, :w], x[:, h:, w:]]
        return torch.stack([q.mean(dim=(1, 2)) * self.scale for q in quads], dim=1)


def test_token_cache_round_trip_and_fingerprint(tmp_path):
    rng = np.random.default_rng(4)
    trajs = [Episode(frames=rng.integers(0, 256, (n, 8, 8, 3), dtype=np.uint8), states=random_states(rng, n),
                        name=f"t{n}") for n in (5, 7)]
    enc = MeanColourEncoder()
    path = build_token_cache(tmp_path / "cache.safetensors", trajs, enc.encode, encoder_fingerprint(enc),
                             batch_size=3, dtype=torch.float32, progress=False)
    cache = TokenCache(path, expected_fingerprint=encoder_fingerprint(enc))
    assert cache.names == ["t5", "t7"] and (cache.tokens_per_frame, cache.embed_dim) == (4, 3)
    torch.testing.assert_close(cache.tokens(1), enc.encode(trajs[1].frames))
    in_memory = TokenCache(path, in_memory=True)
    torch.testing.assert_close(in_memory.tokens(1, 2, 5), cache.tokens(1, 2, 5))
    ds = CachedClipDataset(cache, frames_per_clip=3, stride=2)
    raw = ClipDataset(trajs, frames_per_clip=3, stride=2)
    assert len(ds) == len(raw) == (5 - 4) + (7 - 4)
    for i in range(len(ds)):
        torch.testing.assert_close(ds[i]["tokens"], enc.encode(raw[i]["frames"].numpy()))
        torch.testing.assert_close(ds[i]["actions"], raw[i]["actions"])
    other = MeanColourEncoder()
    with torch.no_grad():
        other.scale[0] = 5.0
    with pytest.raises(TokenCacheError, match="built with encoder"):
        TokenCache(path, expected_fingerprint=encoder_fingerprint(other))


def test_lazy_trajectories_build_the_same_cache(tmp_path):
    rng = np.random.default_rng(6)
    for i in range(2):
        save_episode(tmp_path / "eps" / f"ep{i}.npz", rng.integers(0, 256, (5 + i, 16, 16, 3), dtype=np.uint8),
                     random_states(rng, 5 + i), seed=i, engine="mujoco")
    droid = tmp_path / "eps" / "droid_episode"
    (droid / "frames").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(droid / "frames" / f"{i:03d}.png")
    np.save(droid / "states.npy", random_states(rng, 4))
    eager = load_many([tmp_path / "eps"], image_size=8)
    lazy = load_many([tmp_path / "eps"], image_size=8, lazy=True)
    assert all(t.lazy for t in lazy) and not any(t.lazy for t in eager)
    assert [len(t) for t in lazy] == [len(t) for t in eager] == [5, 6, 4]
    enc = MeanColourEncoder()
    a = build_token_cache(tmp_path / "a.safetensors", eager, enc.encode, "fp", dtype=torch.float32, progress=False)
    b = build_token_cache(tmp_path / "b.safetensors", lazy, enc.encode, "fp", dtype=torch.float32, progress=False)
    ca, cb = TokenCache(a), TokenCache(b)
    for i in range(3):
        assert torch.equal(ca.tokens(i), cb.tokens(i)) and torch.equal(ca.states[i], cb.states[i])
        np.testing.assert_array_equal(lazy[i].frames, eager[i].frames)


def test_lazy_cache_in_dataloader_workers_and_bad_files(tmp_path):
    rng = np.random.default_rng(5)
    trajs = [Episode(frames=rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8), states=random_states(rng, 6),
                        name="a")]
    enc = MeanColourEncoder()
    path = build_token_cache(tmp_path / "c.safetensors", trajs, enc.encode, "fp", progress=False)  # float16
    ds = CachedClipDataset(TokenCache(path), frames_per_clip=2)
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=1)
    (batch,) = list(loader)
    expected = enc.encode(trajs[0].frames).half().float()
    torch.testing.assert_close(batch["tokens"][:, 0], expected[:5])
    torch.testing.assert_close(batch["tokens"][:, 1], expected[1:6])
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(TokenCacheError):
        TokenCache(tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError):
        TokenCache(tmp_path / "missing.safetensors")


def test_droid_mp4_without_ffmpeg_names_the_missing_package(tmp_path):
    from vjepa_ac.training.data.episodes import ffmpeg_available

    if ffmpeg_available():
        pytest.skip("imageio-ffmpeg is installed: mp4 episodes are readable here")
    episode = tmp_path / "ep"
    (episode / "recordings" / "MP4").mkdir(parents=True)
    (episode / "recordings" / "MP4" / "left.mp4").write_bytes(b"\x00" * 16)
    np.save(episode / "states.npy", np.zeros((3, 7), dtype=np.float32))
    with pytest.raises(EpisodeFormatError, match="imageio-ffmpeg"):
        load_droid_episode(episode)
    (episode / "recordings" / "MP4" / "left.mp4").unlink()
    with pytest.raises(EpisodeFormatError, match="neither a frames/ directory nor an .mp4"):
        load_droid_episode(episode)

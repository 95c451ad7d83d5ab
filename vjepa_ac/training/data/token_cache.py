"""Frozen-encoder token cache: every frame encoded once, so predictor training never re-runs the encoder.

File: one safetensors file with `tokens.{i}` [T_i, HW, D] (layer-normed, float16 by default) and
`states.{i}` [T_i, 7] per trajectory, plus JSON metadata (names, encoder fingerprint, image size).
It is written as a stream (header first, then each trajectory's tokens as they are encoded) and read
through memory mapping, so neither building nor training needs the whole cache in RAM (DROID-scale
caches run to hundreds of GB). A cache built by another encoder is refused (fingerprint mismatch).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vjepa_ac.training.data.clip_dataset import clip_actions, clip_windows

FORMAT = "vjepa_ac.token_cache.v1"
SAFETENSORS_DTYPES = {torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32"}


class TokenCacheError(ValueError):
    """The cache file is missing pieces or was made with a different encoder / image size."""


def encoder_fingerprint(module: torch.nn.Module) -> str:
    """Cheap identity of a module's weights: names, shapes and a strided sample of every tensor."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().flatten()
        sample = flat[:: max(1, flat.numel() // 256)][:256].to(torch.float64).cpu().numpy()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(np.ascontiguousarray(sample).tobytes())
    return digest.hexdigest()[:32]


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.contiguous().view(torch.uint8).numpy().tobytes()


def _header(entries: list[tuple[str, str, tuple[int, ...], int]], metadata: dict[str, str]) -> bytes:
    """safetensors header: JSON (names -> dtype/shape/byte range), space-padded to a multiple of 8 bytes."""
    header: dict = {"__metadata__": metadata}
    offset = 0
    for name, dtype, shape, nbytes in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


@torch.no_grad()
def build_token_cache(
    path: str | os.PathLike,
    trajectories,
    encode: Callable[[np.ndarray], torch.Tensor],
    fingerprint: str,
    batch_size: int = 32,
    dtype: torch.dtype = torch.float16,
    progress: bool = True,
) -> Path:
    """Encode every frame with `encode(uint8 [B, H, W, 3]) -> layer-normed tokens [B, HW, D]` and save."""
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if dtype not in SAFETENSORS_DTYPES:
        raise ValueError(f"cache dtype must be one of {list(SAFETENSORS_DTYPES)}, got {dtype}")
    if not trajectories:
        raise ValueError("no trajectories to encode")
    item = torch.tensor([], dtype=dtype).element_size()
    # `.frames` may read from disk (a lazy Episode): fetch each trajectory's frames exactly once.
    first_frames = trajectories[0].frames
    probe = encode(first_frames[:1])
    if probe.ndim != 3:
        raise TokenCacheError(f"encode() must return [B, HW, D], got {tuple(probe.shape)}")
    hw, dim = probe.shape[1:]
    entries = []
    for i, traj in enumerate(trajectories):
        entries.append((f"tokens.{i}", SAFETENSORS_DTYPES[dtype], (len(traj), hw, dim), len(traj) * hw * dim * item))
        entries.append((f"states.{i}", "F32", (len(traj), 7), len(traj) * 7 * 4))
    metadata = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "names": json.dumps([t.name for t in trajectories]),
        "image_size": str(int(first_frames.shape[1])),
        "tokens_per_frame": str(int(hw)),
        "embed_dim": str(int(dim)),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    total = sum(len(t) for t in trajectories)
    with open(tmp, "wb") as f, tqdm(total=total, desc="encoding frames", unit="frame", disable=not progress) as bar:
        f.write(_header(entries, metadata))
        for index, traj in enumerate(trajectories):
            frames = first_frames if index == 0 else traj.frames
            if len(frames) != len(traj):
                raise TokenCacheError(f"{traj.name}: {len(frames)} frames but {len(traj)} states")
            for start in range(0, len(traj), batch_size):
                tokens = encode(frames[start : start + batch_size])
                if tuple(tokens.shape[1:]) != (hw, dim):
                    raise TokenCacheError(f"token shape changed: {(hw, dim)} vs {tuple(tokens.shape[1:])}")
                f.write(_tensor_bytes(tokens.detach().to("cpu", dtype)))
                bar.update(tokens.shape[0])
            del frames
            first_frames = None  # only one trajectory's frames in memory at a time
            f.write(_tensor_bytes(torch.from_numpy(np.asarray(traj.states, dtype=np.float32))))
    os.replace(tmp, path)
    return path


class TokenCache:
    """A token cache opened for reading; tokens are memory-mapped and read clip by clip.

    `in_memory=True` loads everything up front instead (fastest for small caches).
    """

    def __init__(self, path: str | os.PathLike, expected_fingerprint: str | None = None, in_memory: bool = False):
        from safetensors import SafetensorError, safe_open

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"token cache not found: {self.path}")
        try:
            with safe_open(str(self.path), framework="pt") as f:
                metadata = f.metadata() or {}
                keys = set(f.keys())
                if metadata.get("format") == FORMAT:
                    names = json.loads(metadata["names"])
                    self.states = [f.get_tensor(f"states.{i}") for i in range(len(names)) if f"states.{i}" in keys]
        except SafetensorError as error:
            raise TokenCacheError(f"{self.path}: unreadable token cache: {error}") from error
        if metadata.get("format") != FORMAT:
            raise TokenCacheError(f"{self.path}: not a token cache (format {metadata.get('format')!r})")
        if expected_fingerprint is not None and metadata["fingerprint"] != expected_fingerprint:
            raise TokenCacheError(
                f"{self.path}: built with encoder {metadata['fingerprint']}, current encoder is "
                f"{expected_fingerprint}; delete the cache or point to another file"
            )
        self.names: list[str] = names
        missing = [f"tokens.{i}" for i in range(len(names)) if f"tokens.{i}" not in keys]
        if missing or len(self.states) != len(names):
            raise TokenCacheError(f"{self.path}: missing tensors {missing or 'states'}")
        self.fingerprint = metadata["fingerprint"]
        self.image_size = int(metadata["image_size"])
        self.tokens_per_frame = int(metadata["tokens_per_frame"])
        self.embed_dim = int(metadata["embed_dim"])
        self._tokens: list[torch.Tensor] | None = None
        self._handle = None
        self._handle_pid: int | None = None
        if in_memory:
            from safetensors.torch import load_file

            data = load_file(str(self.path))
            self._tokens = [data[f"tokens.{i}"] for i in range(len(names))]

    def __len__(self) -> int:
        return len(self.names)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handle"], state["_handle_pid"] = None, None  # reopened in each DataLoader worker
        return state

    def tokens(self, index: int, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Rows `start:stop` of trajectory `index`'s tokens [rows, HW, D] (stored dtype)."""
        if self._tokens is not None:
            return self._tokens[index][start:stop]
        if self._handle is None or self._handle_pid != os.getpid():
            from safetensors import safe_open

            self._handle = safe_open(str(self.path), framework="pt")
            self._handle_pid = os.getpid()
        stop = len(self.states[index]) if stop is None else stop
        return self._handle.get_slice(f"tokens.{index}")[start:stop]


class CachedClipDataset(Dataset):
    """Clips from a TokenCache: `tokens` float32 [T, HW, D], `states` [T, 7], `actions` [T-1, 7]."""

    def __init__(self, cache: TokenCache, frames_per_clip: int = 8, stride: int = 1, window_step: int = 1,
                 subset: list[int] | None = None):
        self.cache = cache
        self.frames_per_clip = frames_per_clip
        self.stride = stride
        self.trajectories = list(range(len(cache))) if subset is None else list(subset)
        if any(not 0 <= i < len(cache) for i in self.trajectories):
            raise IndexError(f"subset {subset} outside the cache's {len(cache)} trajectories")
        lengths = [len(cache.states[i]) for i in self.trajectories]
        self.windows = [(self.trajectories[t], s) for t, s in clip_windows(lengths, frames_per_clip, stride, window_step)]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        traj, start = self.windows[index]
        stop = start + self.stride * (self.frames_per_clip - 1) + 1
        states = self.cache.states[traj][start : stop : self.stride].clone()
        return {
            "tokens": self.cache.tokens(traj, start, stop)[:: self.stride].to(torch.float32),
            "states": states,
            "actions": clip_actions(states),
        }

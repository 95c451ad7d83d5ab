"""The one object planners, nodes and evaluation use: frozen encoder + AC predictor + pose integration.

Tokens handed out are always layer-normed without affine parameters (reference "normalize_reps").
Poses are integrated in float64 (as the reference does with scipy), whatever the model dtype.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vjepa_ac.models.ac_predictor import ActionConditionedPredictor, PredictorCache
from vjepa_ac.models.image_preprocessing import as_image_batch, images_to_frames
from vjepa_ac.models.vision_encoder import VisionEncoder
from vjepa_ac.poses import integrate_actions

__all__ = ["WorldModel", "WorldModelConfig", "normalize_tokens", "predict_next_step"]

_AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def normalize_tokens(tokens: torch.Tensor) -> torch.Tensor:
    """Parameter-free layer norm over channels: what planning compares and what the predictor is fed."""
    return F.layer_norm(tokens, (tokens.shape[-1],))


def predict_next_step(
    predictor: ActionConditionedPredictor, reps: torch.Tensor, actions: torch.Tensor, states: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference `world_model_step`: reps `[B, t, HW, D]`, actions/states `[B, t, 7]` ->
    (layer-normed last-step prediction `[B, 1, HW, D]`, float64 pose after the last action `[B, 1, 7]`)."""
    dtype = predictor.predictor_embed.weight.dtype
    hw = reps.shape[2]
    predicted = predictor(reps.flatten(1, 2).to(dtype), actions.to(dtype), states.to(dtype))
    next_rep = normalize_tokens(predicted[:, -hw:].to(dtype)).unsqueeze(1)
    next_state = integrate_actions(states[:, -1:].double(), actions[:, -1:].double())
    return next_rep, next_state


@dataclass(frozen=True)
class WorldModelConfig:
    """Runtime options (not weights).

    encode_batch_size: frames per encoder pass. autocast: "bfloat16"/"float16" runs encoder and
    predictor under CUDA autocast (ignored on CPU, which stays in the model dtype, fp32 by default).
    rollout_chunk_size: split rollouts of many samples into chunks to bound memory (None: one pass).
    """

    encode_batch_size: int = 32
    autocast: str | None = None
    rollout_chunk_size: int | None = None

    def __post_init__(self):
        if not isinstance(self.encode_batch_size, int) or self.encode_batch_size <= 0:
            raise ValueError(f"encode_batch_size must be a positive int, got {self.encode_batch_size!r}")
        if self.autocast is not None and self.autocast not in _AUTOCAST_DTYPES:
            raise ValueError(f"autocast must be None or one of {sorted(_AUTOCAST_DTYPES)}, got {self.autocast!r}")
        if self.rollout_chunk_size is not None and (
            not isinstance(self.rollout_chunk_size, int) or self.rollout_chunk_size <= 0
        ):
            raise ValueError(f"rollout_chunk_size must be None or a positive int, got {self.rollout_chunk_size!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _float_tensor(name: str, value, device) -> torch.Tensor:
    tensor = torch.as_tensor(value, device=device)
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {tensor.dtype}")
    if tensor.shape[-1:] != (7,):
        raise ValueError(f"{name} must end in 7 (xyz, extrinsic xyz Euler, gripper), got shape {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return tensor


class WorldModel(nn.Module):
    """`encode` images to layer-normed tokens, `step` the predictor once, `rollout` action sequences.

    All three run without autograd in eval mode; training code uses `encoder` / `predictor` directly.
    """

    def __init__(
        self,
        encoder: VisionEncoder,
        predictor: ActionConditionedPredictor,
        config: WorldModelConfig | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        super().__init__()
        if not isinstance(encoder, VisionEncoder) or not isinstance(predictor, ActionConditionedPredictor):
            raise TypeError("WorldModel needs a VisionEncoder and an ActionConditionedPredictor")
        enc, pred = encoder.config, predictor.config
        if enc.embed_dim != pred.encoder_dim:
            raise ValueError(f"predictor expects {pred.encoder_dim}-d encoder tokens, encoder gives {enc.embed_dim}")
        if (enc.image_size, enc.patch_size) != (pred.image_size, pred.patch_size) or pred.width != pred.image_size:
            raise ValueError(
                f"encoder ({enc.image_size}px, patch {enc.patch_size}) and predictor "
                f"({pred.image_size}x{pred.width}px, patch {pred.patch_size}) disagree on the token grid"
            )
        if enc.tubelet_size != 2:
            raise ValueError(f"still frames are encoded as 2-frame clips; tubelet size {enc.tubelet_size} is unsupported")
        self.encoder = encoder
        self.predictor = predictor
        self.config = config if config is not None else WorldModelConfig()
        self.metadata = dict(metadata or {})
        self.eval()

    # -- properties ---------------------------------------------------------------------------------
    @property
    def image_size(self) -> int:
        return self.encoder.config.image_size

    @property
    def tokens_per_frame(self) -> int:
        return self.encoder.config.tokens_per_frame

    @property
    def embed_dim(self) -> int:
        return self.encoder.config.embed_dim

    @property
    def device(self) -> torch.device:
        return self.predictor.predictor_embed.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.predictor.predictor_embed.weight.dtype

    def train(self, mode: bool = True) -> WorldModel:
        """Always eval: there is no dropout, and planning must be deterministic."""
        return super().train(False)

    def _autocast(self):
        if self.config.autocast is None or self.device.type != "cuda":
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=_AUTOCAST_DTYPES[self.config.autocast])

    def _check_tokens(self, name: str, tokens: torch.Tensor, ndim: int) -> None:
        if tokens.ndim != ndim or tuple(tokens.shape[-2:]) != (self.tokens_per_frame, self.embed_dim):
            want = "[B, t, HW, D]" if ndim == 4 else "[B, HW, D]"
            raise ValueError(
                f"{name} must be {want} with HW={self.tokens_per_frame}, D={self.embed_dim}; got {tuple(tokens.shape)}"
            )

    # -- encoder ------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, images) -> torch.Tensor:
        """uint8 RGB `[H, W, 3]` or `[B, H, W, 3]` (any size) -> layer-normed tokens `[B, HW, D]`."""
        batch = as_image_batch(images)
        outputs = []
        for start in range(0, batch.shape[0], self.config.encode_batch_size):
            chunk = batch[start : start + self.config.encode_batch_size]
            frames = images_to_frames(chunk, self.image_size, self.dtype, self.device)
            with self._autocast():
                tokens = self.encoder.encode_frames(frames)
            outputs.append(normalize_tokens(tokens.to(self.dtype)))
        return torch.cat(outputs, dim=0)

    # -- predictor ----------------------------------------------------------------------------------
    @torch.no_grad()
    def step(
        self, reps: torch.Tensor, actions: torch.Tensor, states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Full predictor pass over t context steps (reference `world_model_step`).

        reps `[B, t, HW, D]` (layer-normed), actions/states `[B, t, 7]` -> (layer-normed next frame
        `[B, 1, HW, D]` in the model dtype, float64 pose after the last action `[B, 1, 7]`).
        """
        reps = torch.as_tensor(reps, device=self.device)
        self._check_tokens("reps", reps, 4)
        actions = _float_tensor("actions", actions, self.device)
        states = _float_tensor("states", states, self.device)
        want = tuple(reps.shape[:2]) + (7,)
        if tuple(actions.shape) != want or tuple(states.shape) != want:
            raise ValueError(
                f"actions and states must be {list(want)} to match reps {tuple(reps.shape)}; "
                f"got {tuple(actions.shape)} and {tuple(states.shape)}"
            )
        with self._autocast():
            return predict_next_step(self.predictor, reps.to(self.dtype), actions, states)

    @torch.no_grad()
    def rollout(self, tokens: torch.Tensor, state: torch.Tensor, actions: torch.Tensor, return_states: bool = False):
        """Predict the layer-normed tokens `[B, HW, D]` of the frame after the last of `actions[B, H, 7]`.

        Autoregressive with a key/value cache: each step feeds the previous (layer-normed) prediction
        back with the integrated pose and runs the predictor on the new step only, which equals
        re-running the whole prefix because attention is block-causal. `tokens` `[B|1, HW, D]` and
        `state` `[B|1, 7]` broadcast over the batch without copies. With `return_states`, also returns
        the float64 poses after each action `[B, H, 7]`.
        """
        tokens = torch.as_tensor(tokens, device=self.device)
        self._check_tokens("tokens", tokens, 3)
        state = _float_tensor("state", state, self.device)
        actions = _float_tensor("actions", actions, self.device)
        if state.ndim != 2 or actions.ndim != 3 or actions.shape[0] == 0 or actions.shape[1] == 0:
            raise ValueError(
                f"rollout wants state [B, 7] and actions [B, H>=1, 7]; got {tuple(state.shape)}, {tuple(actions.shape)}"
            )
        batch = actions.shape[0]
        for name, value in (("tokens", tokens), ("state", state)):
            if value.shape[0] not in (1, batch):
                raise ValueError(f"{name} batch {value.shape[0]} is neither 1 nor the action batch {batch}")
        chunk = self.config.rollout_chunk_size or batch
        if chunk >= batch:
            return self._rollout(tokens, state, actions, return_states)
        results = []
        for start in range(0, batch, chunk):
            part = slice(start, start + chunk)
            results.append(
                self._rollout(
                    tokens if tokens.shape[0] == 1 else tokens[part],
                    state if state.shape[0] == 1 else state[part],
                    actions[part],
                    return_states,
                )
            )
        if return_states:
            return torch.cat([r[0] for r in results]), torch.cat([r[1] for r in results])
        return torch.cat(results)

    def _rollout(self, tokens, state, actions, return_states):
        batch = actions.shape[0]
        frame = tokens.to(self.dtype)
        pose = state.double().expand(batch, -1)
        actions64 = actions.double()
        poses = []
        cache: PredictorCache | None = None
        for index in range(actions.shape[1]):
            with self._autocast():
                predicted, cache = self.predictor.forward_step(
                    frame, actions[:, index].to(self.dtype), pose.to(self.dtype), cache
                )
            frame = normalize_tokens(predicted.to(self.dtype))
            pose = integrate_actions(pose, actions64[:, index])
            poses.append(pose)
        if return_states:
            return frame, torch.stack(poses, dim=1)
        return frame

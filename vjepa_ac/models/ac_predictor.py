"""V-JEPA 2-AC action-conditioned predictor, under the reference parameter names.

Per time step t the sequence holds `[action_t, state_t, (extrinsics_t), patch tokens of frame t]`;
attention is block-causal over steps, so the tokens at step t (the prediction of frame t+1) never
depend on later steps. That is what makes `forward_step` (one new step against cached keys/values)
give the same numbers as re-running `forward` over the whole prefix.

RoPE: patch tokens get (t, row, col); conditioning tokens get (t, 0, 0), i.e. only the temporal
segment rotates. As in the reference, rows are scaled by grid_height / Hp and columns by
grid_height / Wp (grid_height = the config's grid), which is 1 for square grids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from vjepa_ac.models.presets import PredictorConfig
from vjepa_ac.models.rope import grid_positions, rope_tables
from vjepa_ac.models.transformer_block import KeyValue, TransformerBlock

__all__ = ["ActionConditionedPredictor", "PredictorCache", "block_causal_mask"]


def wrap_state_euler(states: torch.Tensor, center) -> torch.Tensor:
    """Wrap the state's Euler angles into (center - pi, center + pi] when the config asks for it.

    A hand pointing straight down sits at roll = +-pi, so the raw state flips between two far-apart
    values for the same pose. Official weights were trained on raw states (center None: unchanged);
    our embedded model is trained with center (pi, 0, 0) so equal poses give equal state tokens.
    """
    if center is None:
        return states
    c = torch.as_tensor(center, dtype=states.dtype, device=states.device)
    angles = states[..., 3:6]
    wrapped = c - torch.remainder(c - angles + torch.pi, 2 * torch.pi) + torch.pi
    return torch.cat([states[..., :3], wrapped, states[..., 6:]], dim=-1)


def block_causal_mask(steps: int, tokens_per_step: int, device=None) -> torch.Tensor:
    """Boolean `[N, N]` (True = may attend): token i sees token j iff step(j) <= step(i)."""
    step_of = torch.arange(steps, device=device).repeat_interleave(tokens_per_step)
    return step_of[:, None] >= step_of[None, :]


@dataclass
class PredictorCache:
    """Rotated keys/values of every layer for the steps already fed to `forward_step`."""

    layers: list[KeyValue] = field(default_factory=list)
    steps: int = 0


class ActionConditionedPredictor(nn.Module):
    def __init__(self, config: PredictorConfig):
        super().__init__()
        if not isinstance(config, PredictorConfig):
            raise TypeError(f"ActionConditionedPredictor needs a PredictorConfig, got {type(config).__name__}")
        self.config = config
        dim = config.embed_dim
        self.predictor_embed = nn.Linear(config.encoder_dim, dim)
        self.action_encoder = nn.Linear(config.action_dim, dim)
        self.state_encoder = nn.Linear(config.action_dim, dim)
        # Present in every reference checkpoint, used only when use_extrinsics is set.
        self.extrinsics_encoder = nn.Linear(config.action_dim - 1, dim)
        self.predictor_blocks = nn.ModuleList(
            TransformerBlock(dim, config.num_heads, config.mlp_hidden_dim, config.qkv_bias, config.layer_norm_eps)
            for _ in range(config.depth)
        )
        self.predictor_norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.predictor_proj = nn.Linear(dim, config.encoder_dim)
        self._rope_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        self._mask_cache: dict[tuple, torch.Tensor] = {}

    # -- inputs -------------------------------------------------------------------------------------
    def _check_inputs(self, tokens, actions, states, extrinsics) -> tuple[int, int]:
        """Validate shapes; return (batch, steps). Token batch 1 broadcasts over the action batch."""
        cfg = self.config
        for name, value in (("tokens", tokens), ("actions", actions), ("states", states)):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"{name} must be a torch tensor, got {type(value).__name__}")
        if tokens.ndim != 3 or tokens.shape[-1] != cfg.encoder_dim:
            raise ValueError(
                f"tokens must be [B, T*{cfg.tokens_per_frame}, {cfg.encoder_dim}], got {tuple(tokens.shape)}"
            )
        count = tokens.shape[1]
        if count == 0 or count % cfg.tokens_per_frame:
            raise ValueError(
                f"token count {count} is not a positive multiple of {cfg.tokens_per_frame} tokens per frame"
            )
        steps = count // cfg.tokens_per_frame
        batch = actions.shape[0] if actions.ndim == 3 else -1
        expected = (batch, steps, cfg.action_dim)
        for name, value in (("actions", actions), ("states", states)):
            if tuple(value.shape) != expected:
                raise ValueError(
                    f"{name} must have shape [B, {steps}, {cfg.action_dim}] matching the tokens and each other, "
                    f"got actions {tuple(actions.shape)} and states {tuple(states.shape)}"
                )
        if tokens.shape[0] not in (1, batch):
            raise ValueError(f"tokens batch {tokens.shape[0]} is neither 1 nor the action batch {batch}")
        if cfg.use_extrinsics:
            want = (batch, steps, cfg.action_dim - 1)
            if not isinstance(extrinsics, torch.Tensor) or tuple(extrinsics.shape) != want:
                got = None if extrinsics is None else tuple(extrinsics.shape)
                raise ValueError(f"this predictor uses extrinsics of shape {want}, got {got}")
        elif extrinsics is not None:
            raise ValueError("extrinsics given but this predictor was built with use_extrinsics=False")
        return batch, steps

    def _sequence(self, tokens, actions, states, extrinsics, batch: int, steps: int) -> torch.Tensor:
        """Interleave conditioning and patch tokens step by step: [B, steps * tokens_per_step, width]."""
        dtype = self.predictor_embed.weight.dtype
        patches = self.predictor_embed(tokens.to(dtype))
        patches = patches.view(tokens.shape[0], steps, self.config.tokens_per_frame, -1).expand(batch, -1, -1, -1)
        states = wrap_state_euler(states, self.config.state_euler_center)
        parts = [self.action_encoder(actions.to(dtype)), self.state_encoder(states.to(dtype))]
        if self.config.use_extrinsics:
            parts.append(self.extrinsics_encoder(extrinsics.to(dtype)))
        return torch.cat([p.unsqueeze(2) for p in parts] + [patches], dim=2).flatten(1, 2)

    def rope(self, first_step: int, steps: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin for `steps` steps from `first_step`, cached (conditioning tokens carry only the step)."""
        key = (first_step, steps, str(device), dtype)
        cached = self._rope_cache.get(key)
        if cached is not None:
            return cached
        cfg = self.config
        _, row, col = grid_positions(1, cfg.grid_height, cfg.grid_width, device=device)
        row = row * (cfg.grid_height / cfg.grid_height)
        col = col * (cfg.grid_height / cfg.grid_width)
        cond = torch.zeros(cfg.conditioning_tokens, device=device)
        step_row, step_col = torch.cat([cond, row]), torch.cat([cond, col])
        frames = torch.arange(first_step, first_step + steps, device=device).float()
        frames = frames.repeat_interleave(cfg.tokens_per_step)
        tables = rope_tables(frames, step_row.repeat(steps), step_col.repeat(steps), cfg.head_dim, dtype)
        if len(self._rope_cache) > 64:
            self._rope_cache.clear()
        self._rope_cache[key] = tables
        return tables

    def attention_mask(self, steps: int, device) -> torch.Tensor | None:
        """The block-causal mask, built once per (steps, device); None when nothing needs masking."""
        if steps == 1 or not self.config.frame_causal:
            return None
        key = (steps, str(device))
        if key not in self._mask_cache:
            self._mask_cache[key] = block_causal_mask(steps, self.config.tokens_per_step, device)
        return self._mask_cache[key]

    def _output(self, x: torch.Tensor, steps: int, tokens: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        x = x.view(x.shape[0], steps, cfg.tokens_per_step, -1)
        x = x[:, :, cfg.conditioning_tokens :].flatten(1, 2)
        out = self.predictor_proj(self.predictor_norm(x))
        return out + tokens.to(out.dtype) if cfg.residual_output else out

    # -- full (teacher-forced) pass ------------------------------------------------------------------
    def forward(
        self,
        tokens: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        extrinsics: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """tokens `[B, T*HW, D_enc]` (or `[B, T, HW, D_enc]`), actions/states `[B, T, 7]` -> `[B, T*HW, D_enc]`.

        The tokens of step t predict frame t+1.
        """
        if isinstance(tokens, torch.Tensor) and tokens.ndim == 4:
            tokens = tokens.flatten(1, 2)
        batch, steps = self._check_inputs(tokens, actions, states, extrinsics)
        x = self._sequence(tokens, actions, states, extrinsics, batch, steps)
        cos, sin = self.rope(0, steps, x.device, x.dtype)
        mask = self.attention_mask(steps, x.device)
        for block in self.predictor_blocks:
            x = block(x, cos, sin, mask)
        return self._output(x, steps, tokens)

    # -- incremental (key/value-cached) pass ---------------------------------------------------------
    def forward_step(
        self,
        frame_tokens: torch.Tensor,
        action: torch.Tensor,
        state: torch.Tensor,
        cache: PredictorCache | None = None,
        extrinsics: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, PredictorCache]:
        """Feed one more step: frame_tokens `[B|1, HW, D_enc]`, action/state `[B, 7]` -> (`[B, HW, D_enc]`, cache).

        Equal to the last step of `forward` over all steps fed so far. A cache with batch 1 may be
        continued with a larger batch (it is broadcast). The given cache is not modified.
        """
        if not self.config.frame_causal:
            raise RuntimeError("forward_step needs a frame-causal predictor (frame_causal=False attends to the future)")
        for name, value in (("action", action), ("state", state)):
            if not isinstance(value, torch.Tensor) or value.ndim != 2:
                raise ValueError(f"{name} must be a [B, {self.config.action_dim}] tensor, got {getattr(value, 'shape', value)}")
        if isinstance(frame_tokens, torch.Tensor) and frame_tokens.ndim == 3:
            if frame_tokens.shape[1] != self.config.tokens_per_frame:
                raise ValueError(
                    f"forward_step takes one frame ({self.config.tokens_per_frame} tokens), got {frame_tokens.shape[1]}"
                )
        step_extrinsics = None if extrinsics is None else extrinsics.unsqueeze(1)
        batch, _ = self._check_inputs(frame_tokens, action.unsqueeze(1), state.unsqueeze(1), step_extrinsics)
        cache = cache if cache is not None else PredictorCache()
        if cache.layers and len(cache.layers) != len(self.predictor_blocks):
            raise ValueError("cache does not belong to this predictor (layer count differs)")
        x = self._sequence(frame_tokens, action.unsqueeze(1), state.unsqueeze(1), step_extrinsics, batch, 1)
        cos, sin = self.rope(cache.steps, 1, x.device, x.dtype)
        layers = []
        for index, block in enumerate(self.predictor_blocks):
            past = cache.layers[index] if cache.layers else None
            x, present = block.forward_cached(x, cos, sin, past)
            layers.append(present)
        return self._output(x, 1, frame_tokens), PredictorCache(layers=layers, steps=cache.steps + 1)

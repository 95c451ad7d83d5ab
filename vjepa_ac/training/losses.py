"""Training objectives: V-JEPA 2-AC post-training loss and the V-JEPA masked-token loss.

Both regress layer-normed targets (parameter-free LayerNorm over channels) with an L1 distance,
as the reference does; the AC predictor's outputs are layer-normed too before the distance, which is
what the planner later compares against goal tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Predict = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def layer_norm_tokens(x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],))


def _wide(x: torch.Tensor) -> torch.Tensor:
    """At least float32 (bf16/fp16 autocast outputs widened; float64 kept)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


@dataclass
class ACLosses:
    teacher_forcing: torch.Tensor  # scalar
    rollout: torch.Tensor  # scalar (mean over rollout steps)
    rollout_per_step: torch.Tensor  # [rollout_steps], detached
    total: torch.Tensor  # teacher_forcing + rollout


def ac_losses(
    predict: Predict, tokens: torch.Tensor, actions: torch.Tensor, states: torch.Tensor, rollout_steps: int = 2
) -> ACLosses:
    """Teacher-forcing + autoregressive-rollout L1 for one batch of encoded clips.

    tokens [B, T, HW, D] (encoder outputs; layer-normed here, a no-op up to eps for cached tokens that
    already are), actions [B, T-1, 7], states [B, T, 7];
    `predict(x[B, t*HW, D], actions[B, t, 7], states[B, t, 7]) -> [B, t*HW, D]` where the tokens of
    step i predict frame i+1. Teacher forcing feeds true frames 1..T-1 and scores frames 2..T; the
    rollout starts from true frame 1, feeds the predictor's own (layer-normed) outputs back, and
    scores frames 2..rollout_steps+1. Conditioning actions/states are always the recorded ones.
    """
    if tokens.ndim != 4:
        raise ValueError(f"tokens must be [B, T, HW, D], got {tuple(tokens.shape)}")
    batch, frames, hw, dim = tokens.shape
    if frames < 2:
        raise ValueError(f"clips need at least 2 frames, got {frames}")
    if actions.shape != (batch, frames - 1, 7):
        raise ValueError(f"actions must be [B, T-1, 7] = {(batch, frames - 1, 7)}, got {tuple(actions.shape)}")
    if states.shape != (batch, frames, 7):
        raise ValueError(f"states must be [B, T, 7] = {(batch, frames, 7)}, got {tuple(states.shape)}")
    if not 0 <= rollout_steps <= frames - 1:
        raise ValueError(f"rollout_steps must be in [0, {frames - 1}] for {frames}-frame clips, got {rollout_steps}")

    # The encoder is frozen: its tokens are inputs and targets, never a path for gradients.
    flat = layer_norm_tokens(tokens.detach().reshape(batch, frames * hw, dim))
    targets = flat[:, hw:]
    # Distances in float32 even under bf16 autocast: the loss differences late in training are tiny.
    teacher = layer_norm_tokens(_wide(predict(flat[:, :-hw], actions, states[:, :-1])))
    tf_loss = (teacher - _wide(targets)).abs().mean()

    if rollout_steps == 0:
        zero = tf_loss.new_zeros(())
        return ACLosses(tf_loss, zero, tf_loss.new_zeros(0), tf_loss)
    sequence = torch.cat([_wide(flat[:, :hw]), teacher[:, :hw]], dim=1)
    for n in range(1, rollout_steps):
        out = layer_norm_tokens(_wide(predict(sequence, actions[:, : n + 1], states[:, : n + 1])))
        sequence = torch.cat([sequence, out[:, -hw:]], dim=1)
    predicted = sequence[:, hw:].reshape(batch, rollout_steps, hw, dim)
    truth = _wide(targets[:, : rollout_steps * hw].reshape(batch, rollout_steps, hw, dim))
    per_step = (predicted - truth).abs().mean(dim=(0, 2, 3))
    rollout_loss = per_step.mean()
    return ACLosses(tf_loss, rollout_loss, per_step.detach(), tf_loss + rollout_loss)


def masked_token_l1(predicted: torch.Tensor, target_tokens: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
    """V-JEPA loss: mean |predicted - LN(target)| over the masked tokens.

    predicted [B, K, D] are predictions for the tokens at `target_index` [B, K] of `target_tokens` [B, N, D]
    (the EMA encoder's full-clip output, layer-normed here and never back-propagated through).
    """
    if predicted.ndim != 3 or target_tokens.ndim != 3 or target_index.ndim != 2:
        raise ValueError("expected predicted [B, K, D], target_tokens [B, N, D], target_index [B, K]")
    if predicted.shape[:2] != target_index.shape or predicted.shape[-1] != target_tokens.shape[-1]:
        raise ValueError(
            f"shape mismatch: predicted {tuple(predicted.shape)}, targets {tuple(target_tokens.shape)}, "
            f"index {tuple(target_index.shape)}"
        )
    with torch.no_grad():
        targets = layer_norm_tokens(target_tokens.detach())
        targets = torch.gather(targets, 1, target_index[..., None].expand(-1, -1, targets.shape[-1]))
    return (_wide(predicted) - _wide(targets)).abs().mean()

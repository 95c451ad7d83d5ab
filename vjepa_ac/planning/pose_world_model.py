"""A world model whose frame tokens are a known smooth function of the end-effector pose.

Planning tests need a model with a known optimum (the goal pose) and the same `rollout`
interface as `WorldModel`; it also serves as a cheap stand-in for tools before weights exist.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vjepa_ac.poses import integrate_actions

__all__ = ["PoseFeatureWorldModel"]


class PoseFeatureWorldModel(torch.nn.Module):
    """tokens(pose) = layer_norm(tanh(features(pose) @ W + b)), pose integrated from actions.

    features = [xyz / position_scale, sin(euler), cos(euler), gripper]; W and b are drawn from
    `seed`, so the map is smooth and (for enough tokens) injective near the operating point.
    """

    def __init__(
        self,
        tokens_per_frame: int = 16,
        embed_dim: int = 32,
        position_scale: float = 0.1,
        seed: int = 0,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        n_features = 10
        weight = torch.randn(n_features, tokens_per_frame * embed_dim, generator=generator)
        bias = torch.randn(tokens_per_frame * embed_dim, generator=generator) * 0.5
        self.register_buffer("weight", weight.to(device, dtype))
        self.register_buffer("bias", bias.to(device, dtype))
        self.tokens_per_frame = tokens_per_frame
        self.embed_dim = embed_dim
        self.position_scale = position_scale
        self.rollout_calls = 0

    @property
    def device(self) -> torch.device:
        return self.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.weight.dtype

    def tokens_for_state(self, state: torch.Tensor) -> torch.Tensor:
        """Layer-normed tokens [B, HW, D] of the frame showing the arm at `state[B, 7]`."""
        state = state.to(self.device, self.dtype)
        euler = state[..., 3:6]
        features = torch.cat(
            [state[..., :3] / self.position_scale, euler.sin(), euler.cos(), state[..., 6:7]], dim=-1
        )
        flat = torch.tanh(features @ self.weight + self.bias)
        tokens = flat.reshape(*state.shape[:-1], self.tokens_per_frame, self.embed_dim)
        return F.layer_norm(tokens, (self.embed_dim,))

    def rollout(self, tokens: torch.Tensor, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Same contract as `WorldModel.rollout`; the current tokens only fix the batch and shape."""
        b = tokens.shape[0]
        if tokens.shape[1:] != (self.tokens_per_frame, self.embed_dim):
            raise ValueError(f"tokens must be [B, {self.tokens_per_frame}, {self.embed_dim}], got {tuple(tokens.shape)}")
        if state.shape != (b, 7) or actions.ndim != 3 or actions.shape[0] != b or actions.shape[2] != 7:
            raise ValueError(f"state [B, 7] / actions [B, H, 7] mismatch: {tuple(state.shape)}, {tuple(actions.shape)}")
        self.rollout_calls += 1
        pose = state.float()
        for step in range(actions.shape[1]):
            pose = integrate_actions(pose, actions[:, step].float())
        return self.tokens_for_state(pose).to(tokens.dtype)

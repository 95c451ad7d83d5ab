"""Pre-norm transformer block with RoPE attention, laid out under the reference parameter names.

`norm1 -> attn(qkv, proj) -> +residual -> norm2 -> mlp(fc1, exact GELU, fc2) -> +residual`. The same
block serves the encoder (no mask), the predictor's block-causal teacher-forced pass (boolean mask)
and the predictor's key/value-cached rollout (new queries against cached keys).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vjepa_ac.models.rope import apply_rope

__all__ = ["RopeAttention", "Mlp", "TransformerBlock", "KeyValue"]

KeyValue = tuple[torch.Tensor, torch.Tensor]


class RopeAttention(nn.Module):
    """Multi-head self-attention, scale head_dim^-0.5, via `scaled_dot_product_attention` (flash on GPU)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def _rotated_qkv(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).view(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def _merge(self, out: torch.Tensor) -> torch.Tensor:
        batch, _heads, tokens, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, -1))

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        q, k, v = self._rotated_qkv(x, cos, sin)
        return self._merge(F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask))

    def forward_cached(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, past: KeyValue | None
    ) -> tuple[torch.Tensor, KeyValue]:
        """Attend the new tokens to `past` keys/values plus their own (all visible); return the extended cache.

        A past with batch 1 is broadcast to the new tokens' batch (one context, many action samples).
        """
        q, k, v = self._rotated_qkv(x, cos, sin)
        if past is not None:
            past_k, past_v = past
            if past_k.shape[0] != k.shape[0]:
                if past_k.shape[0] != 1:
                    raise ValueError(f"cached batch {past_k.shape[0]} cannot serve a batch of {k.shape[0]}")
                past_k = past_k.expand(k.shape[0], -1, -1, -1)
                past_v = past_v.expand(k.shape[0], -1, -1, -1)
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        return self._merge(F.scaled_dot_product_attention(q, k, v)), (k, v)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()  # exact erf GELU, as the reference
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    def __init__(
        self, dim: int, num_heads: int, mlp_hidden_dim: int, qkv_bias: bool = True, eps: float = 1e-6
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = RopeAttention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_hidden_dim)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cos, sin, attn_mask)
        return x + self.mlp(self.norm2(x))

    def forward_cached(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, past: KeyValue | None
    ) -> tuple[torch.Tensor, KeyValue]:
        attended, present = self.attn.forward_cached(self.norm1(x), cos, sin, past)
        x = x + attended
        return x + self.mlp(self.norm2(x)), present

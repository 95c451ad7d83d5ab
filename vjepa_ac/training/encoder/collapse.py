"""Representation-collapse monitors for self-supervised pre-training.

A collapsing encoder maps every input to (nearly) the same vector: per-dimension std falls to 0 and
the singular-value spectrum concentrates on a few directions, which the effective rank
exp(entropy(sigma / sum(sigma))) (Roy & Vetterli, 2007) shows as a number far below the width.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def collapse_metrics(embeddings: torch.Tensor, max_rows: int = 4096) -> dict[str, float]:
    """`embeddings` [..., D] -> mean/min per-dimension std and effective rank (1 ... D)."""
    x = embeddings.detach().reshape(-1, embeddings.shape[-1]).to(torch.float64)
    if x.shape[0] < 2:
        raise ValueError("collapse metrics need at least 2 embeddings")
    if x.shape[0] > max_rows:
        x = x[torch.linspace(0, x.shape[0] - 1, max_rows).long()]
    std = x.std(dim=0)
    singular = torch.linalg.svdvals(x - x.mean(dim=0, keepdim=True))
    total = singular.sum()
    if total <= 0:
        effective_rank = 0.0
    else:
        p = singular / total
        p = p[p > 0]
        effective_rank = float(torch.exp(-(p * p.log()).sum()))
    return {"embed_std_mean": float(std.mean()), "embed_std_min": float(std.min()), "effective_rank": effective_rank}

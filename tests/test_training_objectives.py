"""AC post-training and V-JEPA losses against hand computation; EMA, stop-gradient, schedules, collapse metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vjepa_ac.training.encoder.collapse import collapse_metrics
from vjepa_ac.training.encoder.ema import ema_update, make_target, momentum_at
from vjepa_ac.training.losses import ac_losses, masked_token_l1
from vjepa_ac.training.optim import WarmupCosine


def ln(v):
    """Hand layer norm of one token (list of floats), eps 1e-5 like F.layer_norm's default."""
    mean = sum(v) / len(v)
    var = sum((x - mean) ** 2 for x in v) / len(v)
    return [(x - mean) / math.sqrt(var + 1e-5) for x in v]


def toy_predict(x, actions, states):
    """out(step t) = x(step t) * (1 + a_t[0]) + s_t[1]: simple enough to evaluate by hand."""
    b, n, d = x.shape
    steps = actions.shape[1]
    hw = n // steps
    scale = (1 + actions[..., 0]).repeat_interleave(hw, dim=1)[..., None]
    shift = states[..., 1].repeat_interleave(hw, dim=1)[..., None]
    return x * scale + shift


def test_ac_losses_match_hand_computation():
    # B=1, T=4 frames, HW=1 token, D=3 channels.
    z = [[0.1, 0.5, -0.3], [1.0, -2.0, 0.5], [0.0, 0.3, 0.9], [2.0, 1.0, -1.0]]
    a = [[0.5, 0, 0, 0, 0, 0, 0], [-0.25, 0, 0, 0, 0, 0, 0], [1.0, 0, 0, 0, 0, 0, 0]]
    s = [[0, 0.2, 0, 0, 0, 0, 0], [0, -0.4, 0, 0, 0, 0, 0], [0, 1.5, 0, 0, 0, 0, 0], [0, 9, 0, 0, 0, 0, 0]]
    tokens = torch.tensor(z, dtype=torch.float64)[None, :, None, :]
    losses = ac_losses(toy_predict, tokens, torch.tensor(a, dtype=torch.float64)[None],
                       torch.tensor(s, dtype=torch.float64)[None], rollout_steps=2)

    def step(frame, t):
        return ln([v * (1 + a[t][0]) + s[t][1] for v in frame])

    def l1(p, q):
        return sum(abs(x - y) for x, y in zip(p, q, strict=True)) / len(p)

    target = [ln(f) for f in z]  # the targets are layer-normed encoder tokens
    teacher = [step(target[t], t) for t in range(3)]
    tf = sum(l1(teacher[t], target[t + 1]) for t in range(3)) / 3
    # Rollout: frame 2 predicted from true frame 1; frame 3 from the predicted frame 2 (block-causal toy).
    roll1 = teacher[0]
    roll2 = step(roll1, 1)
    per_step = [l1(roll1, target[1]), l1(roll2, target[2])]
    assert losses.teacher_forcing.item() == pytest.approx(tf, abs=1e-9)
    assert losses.rollout_per_step.tolist() == pytest.approx(per_step, abs=1e-9)
    assert losses.rollout.item() == pytest.approx(sum(per_step) / 2, abs=1e-9)
    assert losses.total.item() == pytest.approx(tf + sum(per_step) / 2, abs=1e-9)
    only_tf = ac_losses(toy_predict, tokens, torch.tensor(a, dtype=torch.float64)[None],
                        torch.tensor(s, dtype=torch.float64)[None], rollout_steps=0)
    assert only_tf.total.item() == pytest.approx(tf, abs=1e-9)


def test_ac_losses_reject_bad_shapes():
    tokens = torch.zeros(2, 3, 4, 8)
    with pytest.raises(ValueError, match="actions"):
        ac_losses(toy_predict, tokens, torch.zeros(2, 3, 7), torch.zeros(2, 3, 7))
    with pytest.raises(ValueError, match="rollout_steps"):
        ac_losses(toy_predict, tokens, torch.zeros(2, 2, 7), torch.zeros(2, 3, 7), rollout_steps=3)
    with pytest.raises(ValueError, match="tokens"):
        ac_losses(toy_predict, tokens[0], torch.zeros(2, 2, 7), torch.zeros(2, 3, 7))


def test_masked_token_l1_hand_value_and_no_gradient_to_targets():
    targets = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 3.0], [4.0, -4.0, 0.0]]], requires_grad=True)
    predicted = torch.tensor([[[0.5, 0.0, -0.5], [1.0, 1.0, 1.0]]], requires_grad=True)
    index = torch.tensor([[2, 0]])
    loss = masked_token_l1(predicted, targets, index)
    t2, t0 = ln([4.0, -4.0, 0.0]), ln([1.0, 2.0, 3.0])
    expected = (sum(abs(p - t) for p, t in zip([0.5, 0.0, -0.5], t2, strict=True))
                + sum(abs(1.0 - t) for t in t0)) / 6
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    loss.backward()
    assert targets.grad is None and predicted.grad is not None
    with pytest.raises(ValueError, match="shape mismatch"):
        masked_token_l1(predicted, targets, torch.tensor([[0, 1, 2]]))


def test_ema_update_and_stop_gradient():
    torch.manual_seed(0)
    online = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    target = make_target(online)
    assert all(not p.requires_grad for p in target.parameters())
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with torch.no_grad():
        for p in online.parameters():
            p.add_(1.0)
    # A loss through both networks: only the online one receives gradients.
    x = torch.randn(5, 4)
    (online(x) - target(x)).abs().mean().backward()
    assert all(p.grad is None for p in target.parameters())
    assert all(p.grad is not None for p in online.parameters())
    ema_update(target, online, momentum=0.9)
    for name, p in online.named_parameters():
        torch.testing.assert_close(target.state_dict()[name], 0.9 * before[name] + 0.1 * p.detach())
    ema_update(target, online, momentum=1.0)  # momentum 1 freezes the teacher
    ema_update(target, online, momentum=0.0)  # momentum 0 copies the student
    for name, p in online.named_parameters():
        torch.testing.assert_close(target.state_dict()[name], p.detach())
    with pytest.raises(ValueError):
        ema_update(target, online, momentum=1.5)
    assert momentum_at(0, 100) == pytest.approx(0.998)
    assert momentum_at(50, 100) == pytest.approx(0.999)
    assert momentum_at(200, 100) == pytest.approx(1.0)


def test_warmup_cosine_schedule():
    sched = WarmupCosine(start_lr=1e-4, peak_lr=1e-3, final_lr=1e-5, warmup_steps=10, total_steps=110)
    assert sched(0) == pytest.approx(1e-4)
    assert sched(5) == pytest.approx(5.5e-4)
    assert sched(10) == pytest.approx(1e-3)
    assert sched(60) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))
    assert sched(110) == pytest.approx(1e-5)
    lrs = [sched(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
    with pytest.raises(ValueError):
        WarmupCosine(1e-4, 1e-3, 0.0, warmup_steps=20, total_steps=10)


def test_collapse_metrics_detect_collapse():
    rng = np.random.default_rng(0)
    healthy = torch.tensor(rng.normal(size=(512, 16)))
    m = collapse_metrics(healthy)
    assert m["embed_std_mean"] == pytest.approx(1.0, abs=0.1)
    assert 14.0 < m["effective_rank"] <= 16.0
    # Everything on one line: rank 1, and a constant embedding has zero std.
    line = torch.tensor(rng.normal(size=(512, 1))) * torch.ones(1, 16)
    assert collapse_metrics(line)["effective_rank"] == pytest.approx(1.0, abs=1e-6)
    constant = collapse_metrics(torch.ones(64, 16))
    assert constant["embed_std_mean"] == 0.0 and constant["effective_rank"] == 0.0

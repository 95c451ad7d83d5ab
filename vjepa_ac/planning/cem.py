"""Cross-entropy-method model-predictive planner over any world model with a `rollout` method."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from vjepa_ac.planning.action_space import ACTION_DIM, GRIPPER, ROTATION
from vjepa_ac.planning.config import CEMConfig
from vjepa_ac.planning.energy import l1_energy
from vjepa_ac.poses import integrate_actions

__all__ = ["CEMConfig", "CEMPlanner", "PlanResult", "rollout_energies"]

INIT_STD_GRIPPER = 1.0  # the reference's initial gripper std (a full open-close swing)


@dataclass
class PlanResult:
    """One receding-horizon plan: execute `action` (= `actions[0]`), then re-plan."""

    action: np.ndarray  # [7] float64
    actions: np.ndarray  # [H, 7] float64, the refit mean or best sample (feasible)
    energy: float  # energy of `actions`
    predicted_states: np.ndarray  # [H, 7] poses after each action
    seconds: float
    iteration_energies: list[float] = field(default_factory=list)  # best sample per iteration
    samples_evaluated: int = 0


def _check_finite(name: str, t: torch.Tensor) -> None:
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or Inf")


def _checked_rollout(rollout, tokens: torch.Tensor, state: torch.Tensor, actions: torch.Tensor,
                    autocast_dtype: torch.dtype | None) -> torch.Tensor:
    """Predicted tokens [N, HW, D] of action sequences [N, H, 7] from one start (tokens [1, HW, D],
    state [1, 7]); raises if the world model returns another shape."""
    b = actions.shape[0]
    ctx = (torch.autocast(actions.device.type, dtype=autocast_dtype) if autocast_dtype is not None
           else contextlib.nullcontext())
    with ctx:
        predicted = rollout(tokens.expand(b, *tokens.shape[1:]), state.expand(b, -1), actions)
    if not isinstance(predicted, torch.Tensor) or predicted.shape != (b, *tokens.shape[1:]):
        got = tuple(predicted.shape) if isinstance(predicted, torch.Tensor) else type(predicted).__name__
        raise RuntimeError(f"world_model.rollout returned {got}, expected {(b, *tokens.shape[1:])}")
    return predicted


def rollout_energies(
    rollout,
    tokens: torch.Tensor,
    state: torch.Tensor,
    goal_tokens: torch.Tensor,
    actions: torch.Tensor,
    chunk_size: int | None,
    autocast_dtype: torch.dtype | None,
) -> tuple[torch.Tensor, int]:
    """Energies [N] of action sequences [N, H, 7] from one start, rolled out in batches.

    Runs as few rollouts as memory allows: on an out-of-memory error the chunk is halved and
    retried. Returns the energies and the chunk size to use next time (`chunk_size` unless an
    out-of-memory error forced a smaller one).
    """
    n = actions.shape[0]
    chunk = n if chunk_size is None else min(chunk_size, n)
    shrunk = False
    energies = torch.empty(n, dtype=torch.float32, device=actions.device)
    device_type = actions.device.type
    start = 0
    while start < n:
        stop = min(start + chunk, n)
        try:
            predicted = _checked_rollout(rollout, tokens, state, actions[start:stop], autocast_dtype)
        except torch.OutOfMemoryError:
            if chunk == 1:
                raise
            chunk, shrunk = max(1, chunk // 2), True
            if device_type == "cuda":
                torch.cuda.empty_cache()
            continue
        energies[start:stop] = l1_energy(predicted, goal_tokens)
        start = stop
    return energies, (chunk if shrunk else chunk_size)


class CEMPlanner:
    """Receding-horizon CEM in the world model's latent space (V-JEPA 2-AC planning).

    Needs only `world_model.rollout(tokens[B, HW, D], state[B, 7], actions[B, H, 7]) -> [B, HW, D]`
    (layer-normed tokens of the frame after the last action); `.device`/`.dtype` are used if present.
    """

    def __init__(self, world_model, config: CEMConfig | None = None):
        if not callable(getattr(world_model, "rollout", None)):
            raise TypeError("world_model needs a rollout(tokens, state, actions) method")
        self.world_model = world_model
        self.config = config or CEMConfig()
        self.action_space = self.config.action_space()
        self.device = torch.device(getattr(world_model, "device", "cpu"))
        self.model_dtype = getattr(world_model, "dtype", None)
        c = self.config
        active = self.action_space.active_mask()
        init_std = torch.full((ACTION_DIM,), float(c.l1_radius))  # the reference's: the radius, and 1 for the gripper
        init_std[ROTATION], init_std[GRIPPER] = c.rotation_radius, INIT_STD_GRIPPER
        self._init_std = init_std * active
        self._active = active
        if c.compile:
            backend = c.compile if isinstance(c.compile, str) else "inductor"
            self._rollout = torch.compile(world_model.rollout, backend=backend)
        else:
            self._rollout = world_model.rollout
        self._chunk_size = c.chunk_size
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Forget the warm start and restart the sampler's random stream (episode boundary)."""
        self._previous_mean: torch.Tensor | None = None
        self._generator = torch.Generator(device="cpu")
        self._generator.manual_seed(self.config.seed if seed is None else int(seed))

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """bf16 autocast on CUDA, none elsewhere (CPU autocast is slower and less exact)."""
        return torch.bfloat16 if self.config.autocast and self.device.type == "cuda" else None

    def _prepare_tokens(self, name: str, tokens) -> torch.Tensor:
        tokens = torch.as_tensor(tokens)
        if tokens.ndim == 3 and tokens.shape[0] == 1:
            tokens = tokens[0]
        expected = (getattr(self.world_model, "tokens_per_frame", None), getattr(self.world_model, "embed_dim", None))
        if tokens.ndim != 2 or any(e is not None and s != e for s, e in zip(tokens.shape, expected)):
            raise ValueError(f"{name} must be [HW, D] = {list(expected)}, got {tuple(tokens.shape)}")
        if not tokens.is_floating_point():
            raise ValueError(f"{name} must be floating point, got {tokens.dtype}")
        _check_finite(name, tokens)
        dtype = self.model_dtype if self.model_dtype is not None else tokens.dtype
        return tokens.to(self.device, dtype)

    def _initial_distribution(self) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.config.horizon
        mean = torch.zeros(h, ACTION_DIM)
        if self.config.warm_start and self._previous_mean is not None:
            mean[: h - 1] = self._previous_mean[1:]  # shift by the executed step; tail starts at 0
        std = self._init_std.expand(h, ACTION_DIM).clone()
        return mean.to(self.device), std.to(self.device)

    def _energies(self, tokens, state, goal, samples, goal_gripper: float | None = None) -> torch.Tensor:
        energies, self._chunk_size = rollout_energies(
            self._rollout, tokens, state, goal, samples, self._chunk_size, self.autocast_dtype
        )
        if not bool(torch.isfinite(energies).all()):
            raise RuntimeError("world model produced non-finite energies")
        if goal_gripper is not None and self.config.gripper_goal_weight > 0:
            energies = energies + self.config.gripper_goal_weight * (
                final_gripper(state[0, GRIPPER], samples) - goal_gripper).abs()
        return energies

    @torch.inference_mode()
    def plan(self, current_tokens, state, goal_tokens, goal_gripper: float | None = None) -> PlanResult:
        """Plan from the current frame/pose toward the goal frame; call again after executing.

        `goal_gripper`: the goal's gripper closedness in [0, 1], if known; used only with
        `gripper_goal_weight` > 0.
        """
        started = time.perf_counter()
        c = self.config
        tokens = self._prepare_tokens("current_tokens", current_tokens)
        goal = self._prepare_tokens("goal_tokens", goal_tokens)
        if tokens.shape != goal.shape:
            raise ValueError(f"current tokens {tuple(tokens.shape)} and goal tokens {tuple(goal.shape)} differ")
        state64 = torch.as_tensor(state, dtype=torch.float64).reshape(-1)
        if state64.shape != (ACTION_DIM,):
            raise ValueError(f"state must have 7 entries, got shape {tuple(torch.as_tensor(state).shape)}")
        _check_finite("state", state64)
        state32 = state64.to(self.device, torch.float32)
        if goal_gripper is not None:
            goal_gripper = float(goal_gripper)
            if not 0.0 <= goal_gripper <= 1.0:
                raise ValueError(f"goal_gripper must be a closedness in [0, 1], got {goal_gripper!r}")

        tokens_b, state_b = tokens.unsqueeze(0), state32.unsqueeze(0)
        if c.anchor_to_observation:
            # L1(z + f(a) - f(0), g) = L1(f(a), g - z + f(0)): the same energy against a shifted goal.
            hold = torch.zeros(1, c.horizon, ACTION_DIM, device=self.device)
            held = _checked_rollout(self._rollout, tokens_b, state_b, hold, self.autocast_dtype)
            goal = goal.float() - tokens.float() + held[0].float()
        mean, std = self._initial_distribution()
        active = self._active.to(self.device)
        m_mean = torch.full((ACTION_DIM,), float(c.momentum_mean), device=self.device)
        m_std = torch.full((ACTION_DIM,), float(c.momentum_std), device=self.device)
        iteration_energies: list[float] = []
        best_energy, best_plan = float("inf"), mean
        evaluated = 0
        for _ in range(c.iterations):
            noise = torch.randn((c.samples, c.horizon, ACTION_DIM), generator=self._generator)
            samples = mean + std * noise.to(self.device)
            if c.include_mean:
                samples[0] = mean
            samples = self.action_space.project(samples)
            energies = self._energies(tokens_b, state_b, goal, samples, goal_gripper)
            evaluated += c.samples
            top = torch.topk(energies, c.top_k, largest=False)
            elites = samples[top.indices]
            iteration_energies.append(float(top.values[0]))
            if iteration_energies[-1] < best_energy:
                best_energy, best_plan = iteration_energies[-1], elites[0]
            mean = m_mean * mean + (1 - m_mean) * elites.mean(dim=0)
            std = m_std * std + (1 - m_std) * elites.std(dim=0, unbiased=False)
            std = std * active

        plan = self.action_space.project(mean)
        energy = float(self._energies(tokens_b, state_b, goal, plan.unsqueeze(0), goal_gripper)[0])
        evaluated += 1
        if c.return_best and best_energy < energy:
            plan, energy = best_plan, best_energy
        self._previous_mean = plan.detach().cpu()
        actions = plan.detach().cpu().double()
        return PlanResult(
            action=actions[0].numpy().copy(),
            actions=actions.numpy(),
            energy=energy,
            predicted_states=_integrate_sequence(state64, actions).numpy(),
            seconds=time.perf_counter() - started,
            iteration_energies=iteration_energies,
            samples_evaluated=evaluated,
        )


def final_gripper(closedness: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Gripper closedness [N] after action sequences [N, H, 7] from `closedness`, clipped to [0, 1] per step
    as the robot does (poses.integrate_actions)."""
    g = closedness.expand(actions.shape[0])
    for step in range(actions.shape[1]):
        g = (g + actions[:, step, GRIPPER]).clamp(0.0, 1.0)
    return g


def _integrate_sequence(state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Poses [H, 7] reached by executing actions [H, 7] from state [7]."""
    poses = []
    pose = state
    for a in actions:
        pose = integrate_actions(pose, a)
        poses.append(pose)
    return torch.stack(poses)


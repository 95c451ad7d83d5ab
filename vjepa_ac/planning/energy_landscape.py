"""Energy landscape over two action dimensions: does the world model's energy form a bowl whose
minimum sits at the true displacement? (The check behind the paper's Δx/Δy energy plots.)

CLI `vjepa-ac-energy-landscape`: encodes a start and a goal frame, sweeps a grid of actions with one
batched rollout and saves a heat map with the ground-truth action and the argmin marked.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vjepa_ac.planning.action_space import ACTION_DIM, ACTION_NAMES
from vjepa_ac.planning.cem import rollout_energies
from vjepa_ac.poses import poses_to_actions

__all__ = ["EnergyGrid", "energy_grid", "load_start_and_goal", "plot_energy_grid", "main"]


@dataclass
class EnergyGrid:
    """energies[i, j] is the energy of the action with dims[0] = axis[i] and dims[1] = axis[j]."""

    energies: np.ndarray  # [steps, steps]
    axis: np.ndarray  # [steps] values swept in both dims
    dims: tuple[int, int]
    base_action: np.ndarray  # [7] values of the dims not swept
    argmin: np.ndarray  # [2] swept values at the minimum
    argmin_action: np.ndarray  # [7]
    min_energy: float


def energy_grid(
    world_model,
    tokens,
    state,
    goal_tokens,
    dims: tuple[int, int] = (0, 1),
    extent: float = 0.1,
    steps: int = 41,
    base_action=None,
    chunk_size: int | None = None,
) -> EnergyGrid:
    """Energies of one-step actions on a `steps x steps` grid over [-extent, extent]^2 in `dims`."""
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < ACTION_DIM for d in dims):
        raise ValueError(f"dims must be two different indices in 0..{ACTION_DIM - 1}, got {dims}")
    if steps < 2 or not extent > 0:
        raise ValueError(f"need steps >= 2 and extent > 0, got steps={steps}, extent={extent}")
    device = torch.device(getattr(world_model, "device", "cpu"))
    tokens = torch.as_tensor(tokens, device=device)
    goal_tokens = torch.as_tensor(goal_tokens, device=device)
    tokens = tokens[0] if tokens.ndim == 3 and tokens.shape[0] == 1 else tokens
    goal_tokens = goal_tokens[0] if goal_tokens.ndim == 3 and goal_tokens.shape[0] == 1 else goal_tokens
    if tokens.ndim != 2 or tokens.shape != goal_tokens.shape:
        raise ValueError(f"tokens {tuple(tokens.shape)} and goal tokens {tuple(goal_tokens.shape)} must both be [HW, D]")
    state = torch.as_tensor(state, dtype=torch.float32, device=device).reshape(-1)
    if state.shape != (ACTION_DIM,) or not bool(torch.isfinite(state).all()):
        raise ValueError(f"state must be 7 finite values, got {state.tolist()}")
    base = torch.zeros(ACTION_DIM) if base_action is None else torch.as_tensor(base_action, dtype=torch.float32)
    if base.shape != (ACTION_DIM,):
        raise ValueError(f"base_action must have 7 entries, got shape {tuple(base.shape)}")

    axis = torch.linspace(-extent, extent, steps, dtype=torch.float64)
    first, second = torch.meshgrid(axis.float(), axis.float(), indexing="ij")
    actions = base.repeat(steps * steps, 1)
    actions[:, dims[0]] = first.reshape(-1)
    actions[:, dims[1]] = second.reshape(-1)
    with torch.inference_mode():
        energies, _ = rollout_energies(
            world_model.rollout,
            tokens.unsqueeze(0),
            state.unsqueeze(0),
            goal_tokens,
            actions.to(device).unsqueeze(1),
            chunk_size,
            None,
        )
    grid = energies.reshape(steps, steps).cpu().double().numpy()
    i, j = np.unravel_index(int(np.argmin(grid)), grid.shape)
    best = actions[i * steps + j].double().numpy()
    best[list(dims)] = [axis[i].item(), axis[j].item()]
    return EnergyGrid(
        energies=grid,
        axis=axis.numpy(),
        dims=dims,
        base_action=base.double().numpy(),
        argmin=np.array([axis[i].item(), axis[j].item()]),
        argmin_action=best,
        min_energy=float(grid[i, j]),
    )


def plot_energy_grid(grid: EnergyGrid, path, true_action=None, l1_radius: float | None = 0.075, title: str = ""):
    """Heat map of the grid (dims[0] on x) with the argmin and, if given, the true action marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b = grid.axis[0], grid.axis[-1]
    fig, ax = plt.subplots(figsize=(5.5, 4.6), dpi=120)
    image = ax.imshow(grid.energies.T, origin="lower", extent=(a, b, a, b), cmap="viridis", aspect="equal")
    ax.contour(grid.axis, grid.axis, grid.energies.T, levels=12, colors="white", linewidths=0.4, alpha=0.5)
    fig.colorbar(image, ax=ax, label="energy (mean |pred - goal|)")
    ax.plot(*grid.argmin, marker="o", mfc="none", color="red", markersize=13, mew=2, linestyle="none", label="argmin")
    if true_action is not None:
        true = np.asarray(true_action, dtype=float)[list(grid.dims)]
        ax.plot(*true, marker="x", color="white", markersize=10, mew=2.5, linestyle="none", label="ground truth")
    if l1_radius and all(d < 3 for d in grid.dims):
        r = l1_radius
        ax.plot([r, 0, -r, 0, r], [0, r, 0, -r, 0], "--", color="orange", linewidth=1, label=f"L1 ball {r}")
    ax.set_xlabel(f"{ACTION_NAMES[grid.dims[0]]}")
    ax.set_ylabel(f"{ACTION_NAMES[grid.dims[1]]}")
    ax.set_title(title or "energy landscape")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def load_start_and_goal(path, start_index: int = 0, goal_index: int = -1):
    """(start image, start state, goal image, goal state) from a trajectory `.npz`.

    Accepts the reference sample layout (`observations` [1, T, H, W, 3], `states` [1, T, 7]) and our
    episode layout (`frames` [T, H, W, 3], `states` [T, 7]).
    """
    with np.load(path) as data:
        if "observations" in data:
            frames, states = data["observations"], data["states"]
            if frames.ndim == 5:
                frames, states = frames[0], states[0]
        elif "frames" in data:
            frames, states = data["frames"], data["states"]
        else:
            raise ValueError(f"{path}: expected keys observations/states or frames/states, got {sorted(data)}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or states.shape != (frames.shape[0], ACTION_DIM):
        raise ValueError(f"{path}: frames {frames.shape} / states {states.shape} are not [T, H, W, 3] / [T, 7]")
    return frames[start_index], states[start_index].astype(np.float64), frames[goal_index], states[goal_index].astype(np.float64)


def _parse_dims(text: str) -> tuple[int, int]:
    parts = [p.strip() for p in text.split(",")]
    dims = tuple(ACTION_NAMES.index(p) if p in ACTION_NAMES else int(p) for p in parts)
    if len(dims) != 2:
        raise argparse.ArgumentTypeError(f"--dims needs two entries, got {text!r}")
    return dims


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vjepa-ac-energy-landscape", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="world model checkpoint (default: the embedded model)")
    parser.add_argument("--data", required=True, help="trajectory .npz (e.g. franka_example_traj.npz)")
    parser.add_argument("--start-index", type=int, default=0)
    parser.add_argument("--goal-index", type=int, default=-1)
    parser.add_argument("--dims", type=_parse_dims, default=(0, 1), help="two dims, indices or names (dx,dy)")
    parser.add_argument("--extent", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=41)
    parser.add_argument("--others", choices=("zero", "true"), default="zero", help="value of the other dims")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="energy_landscape.png")
    parser.add_argument("--json", default=None, help="also write the grid summary here")
    args = parser.parse_args(argv)

    try:
        from vjepa_ac.models.checkpoints import load_world_model
    except ImportError as error:
        print(f"error: cannot import vjepa_ac.models.checkpoints.load_world_model ({error})", file=sys.stderr)
        return 2
    try:
        world_model = load_world_model(args.checkpoint, device=args.device)
    except Exception as error:  # noqa: BLE001 - report any loading failure in one line
        what = args.checkpoint or "the embedded model"
        print(f"error: could not load {what}: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    start_image, start_state, goal_image, goal_state = load_start_and_goal(args.data, args.start_index, args.goal_index)
    true_action = poses_to_actions(torch.from_numpy(start_state), torch.from_numpy(goal_state)).numpy()
    tokens = world_model.encode(np.stack([start_image, goal_image]))
    grid = energy_grid(
        world_model,
        tokens[0],
        start_state,
        tokens[1],
        dims=args.dims,
        extent=args.extent,
        steps=args.steps,
        base_action=true_action if args.others == "true" else None,
        chunk_size=args.chunk_size,
    )
    true_2d = true_action[list(grid.dims)]
    error = float(np.linalg.norm(grid.argmin - true_2d))
    title = f"argmin {np.round(grid.argmin, 3).tolist()} vs true {np.round(true_2d, 3).tolist()}"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    plot_energy_grid(grid, args.out, true_action=true_action, title=title)
    summary = {
        "checkpoint": args.checkpoint or "embedded",
        "dims": [ACTION_NAMES[d] for d in grid.dims],
        "extent": args.extent,
        "steps": args.steps,
        "true_action": true_action.tolist(),
        "argmin": grid.argmin.tolist(),
        "argmin_error": error,
        "min_energy": grid.min_energy,
        "max_energy": float(grid.energies.max()),
        "png": str(args.out),
    }
    if np.any(np.abs(true_2d) > args.extent):
        print(f"warning: the true action {true_2d.tolist()} lies outside the swept extent", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Human-readable evaluation artefacts: per-episode GIFs, a Markdown success table, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PANEL = 192  # pixels per image panel in GIFs


def _panel(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((PANEL, PANEL), Image.Resampling.BILINEAR)


def _energy_strip(energies: list[float], upto: int, width: int, height: int = 60) -> Image.Image:
    strip = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(strip)
    energies = [e for e in energies if e is not None]  # baselines have no energy
    if energies:
        lo, hi = min(energies), max(energies)
        span = max(hi - lo, 1e-9)
        n = max(len(energies) - 1, 1)
        points = [(6 + (width - 12) * i / n, height - 8 - (height - 16) * (e - lo) / span)
                  for i, e in enumerate(energies[: upto + 1])]
        if len(points) > 1:
            draw.line(points, fill=(200, 40, 40), width=2)
        if points:
            x, y = points[-1]
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=(200, 40, 40))
        draw.text((6, 2), f"energy {energies[min(upto, len(energies) - 1)]:.3f}", fill=(0, 0, 0))
    return strip


def write_episode_gif(record, path: str | Path, fps: float = 3.0) -> Path:
    """Camera view beside the current sub-goal image, energy over time underneath."""
    if not record.frames:
        raise ValueError("episode was run without record_frames=True")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = []
    for step, frame in enumerate(record.frames):
        stage = record.subgoal_index[min(step, len(record.subgoal_index) - 1)] if record.subgoal_index else 0
        canvas = Image.new("RGB", (2 * PANEL, PANEL + 80), (255, 255, 255))
        canvas.paste(_panel(frame), (0, 0))
        canvas.paste(_panel(record.goal_images[stage]), (PANEL, 0))
        draw = ImageDraw.Draw(canvas)
        draw.text((4, 4), f"step {step}", fill=(255, 255, 255))
        draw.text((PANEL + 4, 4), f"goal {stage + 1}/{len(record.goal_images)}", fill=(255, 255, 255))
        canvas.paste(_energy_strip(record.energies, max(step - 1, 0), 2 * PANEL), (0, PANEL))
        verdict = "success" if record.success else "failure"
        draw.text((4, PANEL + 62), f"{record.task} seed {record.seed}: {verdict}", fill=(0, 0, 0))
        images.append(canvas.convert("P", palette=Image.Palette.ADAPTIVE, colors=128))
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0,
                   optimize=True)
    return path


def markdown_table(summaries: list[dict]) -> str:
    """One row per (task, engine) summary as written by `vjepa-ac-eval --json`."""
    lines = ["| task | engine | episodes | success rate | mean final distance (m) | s / action |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for s in summaries:
        lines.append(f"| {s['task']} | {s['engine']} | {s['episodes']} | {100 * s['success_rate']:.0f}% "
                     f"({s['successes']}/{s['episodes']}) | {s['mean_final_distance_m']:.3f} | "
                     f"{s['seconds_per_action']:.2f} |")
    return "\n".join(lines) + "\n"


def plot_energy_and_latency(records: list, path: str | Path) -> Path:
    """Energy per step (one line per episode) and the plan-latency histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_e, ax_t) = plt.subplots(1, 2, figsize=(10, 3.5))
    for r in records:
        ax_e.plot([np.nan if e is None else e for e in r.energies], color="tab:green" if r.success else "tab:red", alpha=0.6, linewidth=1)
    ax_e.set_xlabel("action")
    ax_e.set_ylabel("CEM energy (L1 to goal tokens)")
    ax_e.set_title("energy (green: success, red: failure)")
    latencies = [t for r in records for t in r.plan_seconds]
    ax_t.hist(latencies, bins=30, color="tab:blue")
    ax_t.set_xlabel("seconds per planned action")
    ax_t.set_title(f"plan latency (median {np.median(latencies) if latencies else float('nan'):.2f} s)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

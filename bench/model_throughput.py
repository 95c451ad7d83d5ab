"""Encoder / predictor throughput of the small presets on this machine, and the CEM planning budget.

    python bench/model_throughput.py [--presets tiny micro] [--threads 2] [--samples 800] [--iterations 10]
                                     [--horizon 1] [--repeats 3] [--out bench/results/model_throughput.json]

Weights are freshly initialised (throughput does not depend on their values). For each world-model
preset it measures encoder frames/s and tokens/s, predictor tokens/s for one cached rollout step
on `--samples` action samples, and the wall time of `--iterations` such rollouts (= one CEM plan of
N samples x iterations, energy excluded), as wall and process CPU time. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from vjepa_ac.models import (  # noqa: E402
    WORLD_MODEL_PRESETS,
    ActionConditionedPredictor,
    VisionEncoder,
    WorldModel,
    encoder_preset,
    initialize_weights,
    predictor_config_for,
)
from vjepa_ac.planning.config import CEMConfig  # noqa: E402


def _best_of(repeats: int, run) -> tuple[float, float]:
    """(best wall seconds, best process CPU seconds). On a shared machine CPU time is the steadier figure:
    single-threaded it approximates the wall time an idle core would take."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def build(preset: str, seed: int = 0) -> WorldModel:
    encoder_name, predictor_name = WORLD_MODEL_PRESETS[preset]
    encoder_config = encoder_preset(encoder_name)
    generator = torch.Generator().manual_seed(seed)
    encoder = initialize_weights(VisionEncoder(encoder_config), generator=generator)
    predictor = initialize_weights(
        ActionConditionedPredictor(predictor_config_for(encoder_config, predictor_name)), generator=generator
    )
    return WorldModel(encoder, predictor)


def measure(preset: str, samples: int, iterations: int, horizon: int, repeats: int, frames: int) -> dict:
    model = build(preset)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(frames, model.image_size, model.image_size, 3), dtype=np.uint8)
    model.encode(images[:2])  # warm-up
    encode_s, encode_cpu = _best_of(repeats, lambda: model.encode(images))
    tokens = model.encode(images[:1])
    state = torch.zeros(1, 7)
    actions = 0.05 * torch.randn(samples, horizon, 7, generator=torch.Generator().manual_seed(0))
    model.rollout(tokens, state, actions[:8])  # warm-up
    rollout_s, rollout_cpu = _best_of(repeats, lambda: model.rollout(tokens, state, actions))
    plan_s, plan_cpu = _best_of(1, lambda: [model.rollout(tokens, state, actions) for _ in range(iterations)])
    step_tokens = samples * horizon * model.predictor.config.tokens_per_step
    return {
        "preset": preset,
        "encoder": model.encoder.config.to_dict(),
        "predictor": model.predictor.config.to_dict(),
        "encoder_parameters": sum(p.numel() for p in model.encoder.parameters()),
        "predictor_parameters": sum(p.numel() for p in model.predictor.parameters()),
        "tokens_per_frame": model.tokens_per_frame,
        "encoder_frames_per_s": frames / encode_s,
        "encoder_tokens_per_s": frames * model.tokens_per_frame / encode_s,
        "predictor_tokens_per_s": step_tokens / rollout_s,
        "rollout_samples_per_s": samples / rollout_s,
        "encoder_cpu_seconds": encode_cpu,
        "rollout_seconds": rollout_s,
        "rollout_cpu_seconds": rollout_cpu,
        "plan_seconds": plan_s,
        "plan_cpu_seconds": plan_cpu,
        "load_average_1min": os.getloadavg()[0],
        "plan": {"samples": samples, "iterations": iterations, "horizon": horizon},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["micro", "tiny"], choices=sorted(WORLD_MODEL_PRESETS))
    parser.add_argument("--threads", type=int, default=2)
    shipped = CEMConfig.defaults()
    parser.add_argument("--samples", type=int, default=shipped["samples"])
    parser.add_argument("--iterations", type=int, default=shipped["iterations"])
    parser.add_argument("--horizon", type=int, default=shipped["horizon"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("bench/results/model_throughput.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    results = [measure(p, args.samples, args.iterations, args.horizon, args.repeats, args.frames) for p in args.presets]
    print(
        f"{'preset':8s} {'enc frames/s':>13s} {'enc tok/s':>11s} {'pred tok/s':>11s} {'rollout s':>10s} "
        f"{'plan s':>8s} {'plan cpu s':>10s}"
    )
    for r in results:
        print(
            f"{r['preset']:8s} {r['encoder_frames_per_s']:13.1f} {r['encoder_tokens_per_s']:11.0f} "
            f"{r['predictor_tokens_per_s']:11.0f} {r['rollout_seconds']:10.3f} {r['plan_seconds']:8.2f} "
            f"{r['plan_cpu_seconds']:10.2f}"
        )
    report = {
        "torch": torch.__version__,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

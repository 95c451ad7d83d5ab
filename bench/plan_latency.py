"""Planning latency: seconds per planned action, predictor tokens/s and achieved TFLOP/s.

Weights are random (seeded) on purpose: timing does not depend on their values, and the JSON says
so (`weights: random-for-benchmark`). The encoder is built 1 block deep because planning only runs
the predictor (tokens are encoded once per observation, outside the timed loop).

    .venv/bin/python bench/plan_latency.py --preset embedded --samples 800 --iters 10 --horizon 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from vjepa_ac.planning import CEMConfig, CEMPlanner

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def build_random_world_model(preset: str, device: str, dtype: torch.dtype, seed: int = 0):
    """A WorldModel of `preset`'s predictor size with explicitly random, seeded weights."""
    from vjepa_ac.models import ActionConditionedPredictor, VisionEncoder, WorldModel, initialize_weights
    from vjepa_ac.models.presets import WORLD_MODEL_PRESETS, encoder_preset, predictor_config_for

    if preset not in WORLD_MODEL_PRESETS:
        raise SystemExit(f"unknown --preset {preset!r}; known: {sorted(WORLD_MODEL_PRESETS)}")
    encoder_name, predictor_name = WORLD_MODEL_PRESETS[preset]
    encoder_config = encoder_preset(encoder_name, depth=1)
    predictor_config = predictor_config_for(encoder_config, predictor_name)
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.device(device):
        encoder = VisionEncoder(encoder_config)
        predictor = ActionConditionedPredictor(predictor_config)
    initialize_weights(encoder, generator=generator)
    initialize_weights(predictor, generator=generator)
    model = WorldModel(encoder, predictor, metadata={"weights": "random-for-benchmark", "preset": preset})
    return model.to(dtype=dtype)


def predictor_flops(config, samples: int, horizon: int) -> float:
    """FLOPs of one KV-cached rollout of `samples` sequences of `horizon` steps (multiply-add = 2).

    Linear layers: 2 * weights * tokens per block plus the input/output projections of patch tokens;
    attention at step h: queries of one step against keys of h + 1 steps, for QKᵀ and AV.
    """
    d, m, depth = config.embed_dim, config.mlp_hidden_dim, config.depth
    per_step = config.tokens_per_step
    patches = config.tokens_per_frame
    linear_per_token = 2 * depth * (4 * d * d + 2 * d * m)
    io_per_step = 2 * patches * 2 * config.encoder_dim * d + 2 * config.conditioning_tokens * config.action_dim * d
    total = 0.0
    for h in range(horizon):
        attention = depth * 4 * per_step * (h + 1) * per_step * d
        total += per_step * linear_per_token + io_per_step + attention
    return float(total * samples)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="embedded", help="vjepa_ac.models.presets.WORLD_MODEL_PRESETS name")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="weight dtype (cpu: float32, cuda: bfloat16)")
    parser.add_argument("--autocast", action="store_true", help="fp32 weights under CUDA bf16 autocast")
    parser.add_argument("--paper", action="store_true", help="CEMConfig.paper() instead of the shipped settings")
    parser.add_argument("--samples", type=int, default=None, help="default: the settings'")
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--horizon", type=int, default=None)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile the rollout")
    parser.add_argument("--repeats", type=int, default=5, help="timed plans (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed plans first")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the result here")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.autocast and args.dtype not in (None, "float32"):
        parser.error("--autocast keeps float32 weights; drop --dtype or pass --dtype float32")
    dtype_name = args.dtype or ("float32" if args.device == "cpu" or args.autocast else "bfloat16")
    model = build_random_world_model(args.preset, args.device, DTYPES[dtype_name], args.seed)
    config = CEMConfig.from_mapping(
        {"samples": args.samples, "iterations": args.iters, "top_k": args.top_k, "horizon": args.horizon,
         "chunk_size": args.chunk_size, "autocast": args.autocast, "compile": args.compile, "seed": args.seed},
        CEMConfig.paper() if args.paper else CEMConfig())
    planner = CEMPlanner(model, config)
    generator = torch.Generator().manual_seed(args.seed)
    images = torch.randint(0, 256, (2, model.image_size, model.image_size, 3), generator=generator, dtype=torch.uint8)
    tokens = model.encode(images.numpy())
    state = torch.tensor([0.45, 0.0, 0.3, 3.1, 0.0, 0.0, 0.0], dtype=torch.float64)

    def timed_plan() -> tuple[float, float]:
        """(wall seconds, process CPU seconds) of one plan."""
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        cpu_started = time.process_time()
        result = planner.plan(tokens[0], state, tokens[1])
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        return result.seconds, time.process_time() - cpu_started

    for _ in range(args.warmup):
        timed_plan()
    timings = [timed_plan() for _ in range(args.repeats)]
    seconds = [wall for wall, _ in timings]
    median = statistics.median(seconds)
    load_average = os.getloadavg()

    pconfig = model.predictor.config
    rollouts_per_action = config.iterations * config.samples + 1  # + the final mean's energy
    tokens_per_action = rollouts_per_action * config.horizon * pconfig.tokens_per_step
    flops_per_action = predictor_flops(pconfig, rollouts_per_action, config.horizon)
    result = {
        "seconds_per_action": median,
        "seconds_all": seconds,
        # CPU time is robust to other processes sharing the cores; wall time is what a robot sees.
        "cpu_seconds_per_action": statistics.median(cpu for _, cpu in timings),
        "load_average_1min": load_average[0],
        "tokens_per_second": tokens_per_action / median,
        "tflops_per_second": flops_per_action / median / 1e12,
        "flops_per_action": flops_per_action,
        "predictor_tokens_per_action": tokens_per_action,
        "predictor_parameters": sum(p.numel() for p in model.predictor.parameters()),
        "settings": {
            "preset": args.preset,
            "device": str(model.device),
            "device_name": torch.cuda.get_device_name(model.device) if model.device.type == "cuda" else platform.processor() or platform.machine(),
            "dtype": dtype_name,
            "autocast": args.autocast,
            "samples": config.samples,
            "iterations": config.iterations,
            "top_k": config.top_k,
            "horizon": config.horizon,
            "chunk_size": args.chunk_size,
            "compile": args.compile,
            "repeats": args.repeats,
            "warmup": args.warmup,
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "weights": model.metadata["weights"],
            "predictor_config": dataclasses.asdict(pconfig),
        },
    }
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text)
    print(
        f"{args.preset} {result['settings']['device']} {dtype_name} N={config.samples} I={config.iterations} H={config.horizon}: "
        f"{median:.3f} s/action, {result['tokens_per_second']:.3g} tokens/s, "
        f"{result['tflops_per_second']:.3f} TFLOP/s (CPU time {result['cpu_seconds_per_action']:.3f} s/action, "
        f"load {load_average[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Planning speed at the official size (ViT-g + the 305M AC predictor) in one short run, plus a CPU smoke.

Three modes, one code path:

    python bench/gpu_check.py --out DIR               # the GPU check (official size, bf16; 450 s budget)
    python bench/gpu_check.py --tiny --out DIR        # the same parts at a tiny size on CPU (tests/test_gpu_check.py)
    python bench/gpu_check.py --size embedded --device cpu --parts plan_h1 plan_h2 official_style_h1 \
        official_style_h2 --out DIR                   # the package / official-style ratio at the embedded size
    python bench/gpu_check.py --cpu-official-smoke --out DIR   # official checkpoint files, built, loaded, planned on CPU

Each part runs on its own: a failure is recorded with its traceback and the next part runs. The JSON
(DIR/gpu_check_<size>_<device>.json) is rewritten after every part, so a run cut short still leaves its
figures. Weights are random and seeded (timing does not depend on their values). Timed plans use the
package's CEMPlanner; "official_style" is a notebook-style CEM written here from the published algorithm:
it re-runs the predictor over the whole context at every rollout step and integrates poses sample by
sample on the host with scipy, as the reference notebook does.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs from a bare checkout (the GPU machine has no install of the package)
sys.path.insert(0, str(ROOT / "bench"))

from vjepa_ac.models import (  # noqa: E402
    WORLD_MODEL_PRESETS,
    ActionConditionedPredictor,
    VisionEncoder,
    WorldModel,
    encoder_preset,
    initialize_weights,
    predictor_config_for,
)
from vjepa_ac.planning.cem import CEMConfig, CEMPlanner  # noqa: E402

OFFICIAL_PREDICTOR_PARAMETERS = 305_220_992
SMOKE_PREDICTORS = {"vit_giant": "ac_vit_giant", "vit_micro": "ac_micro"}  # vit_micro: a seconds-long dry run
SIZES = {
    # preset, CEM samples x iterations, top-k, frames for encoder throughput, samples for the rollout check,
    # embedded-model GPU/CPU check plan size, seconds the whole run may take.
    "official": dict(preset="vjepa2_ac_vit_giant", samples=800, iterations=10, top_k=10, encoder_frames=64,
                     agreement_samples=16, embedded_plan=(800, 10, 10), budget_s=450.0),
    "embedded": dict(preset="embedded", samples=800, iterations=10, top_k=10, encoder_frames=64,
                     agreement_samples=16, embedded_plan=(800, 10, 10), budget_s=600.0),
    "tiny": dict(preset="micro", samples=24, iterations=2, top_k=4, encoder_frames=4,
                 agreement_samples=6, embedded_plan=(24, 2, 4), budget_s=120.0),
}
PARTS = (
    "environment", "build", "plan_h1", "official_style_h1", "plan_h2", "plan_h2_full_rerun", "official_style_h2",
    "rollout_agreement_h2", "encoder_throughput", "embedded_gpu_vs_cpu", "compile_h1", "compile_h2",
)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
START_STATE = (0.45, 0.0, 0.3, 3.1, 0.0, 0.0, 0.4)
# Notebook CEM constants (reference/vjepa2-ac.md): box clip of the translation, gripper clip and deadband.
NOTEBOOK_MAXNORM, NOTEBOOK_GRIPPER_MAX, NOTEBOOK_DEADBAND, NOTEBOOK_MOMENTUM = 0.075, 0.75, 0.25, 0.15


# -- provenance and memory ----------------------------------------------------------------------------
def git_commit() -> dict:
    """Commit and whether the tree differs from it; 'unknown' where the copy has no .git (GPU machine)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        pass
    return {"commit": os.environ.get("VJEPA_AC_COMMIT", "unknown"), "dirty": None}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(module: torch.nn.Module) -> float:
    """Sum of all weights in float64: cheap, and equal only for the same seeded weights."""
    with torch.no_grad():
        return float(sum(p.detach().double().sum().item() for p in module.parameters()))


def _rss_kib(field: str) -> int | None:
    try:
        found = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
    except OSError:
        return None
    return int(found.group(1)) if found else None


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (peak RSS) to the current RSS


def peak_memory(device: torch.device) -> dict:
    out = {}
    hwm, rss = _rss_kib("VmHWM"), _rss_kib("VmRSS")
    if hwm is not None:
        out["peak_rss_gib"] = hwm / 2**20
        out["rss_gib"] = rss / 2**20
    if device.type == "cuda":
        out["cuda_peak_allocated_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        out["cuda_peak_reserved_gib"] = torch.cuda.max_memory_reserved(device) / 2**30
    return out


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# -- models -------------------------------------------------------------------------------------------
def build_random_world_model(preset: str, device: torch.device, dtype: torch.dtype, seed: int,
                             encoder_depth: int | None = 1) -> WorldModel:
    """Seeded random weights of `preset`'s size. Planning only runs the predictor, so by default the
    encoder is one block deep (it only makes the start and goal tokens)."""
    encoder_name, predictor_name = WORLD_MODEL_PRESETS[preset]
    overrides = {} if encoder_depth is None else {"depth": encoder_depth}
    encoder_config = encoder_preset(encoder_name, **overrides)
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.device(device):
        encoder = VisionEncoder(encoder_config)
        predictor = ActionConditionedPredictor(predictor_config_for(encoder_config, predictor_name))
    initialize_weights(encoder, generator=generator)
    initialize_weights(predictor, generator=generator)
    model = WorldModel(encoder, predictor, metadata={"weights": f"random-for-benchmark seed {seed}", "preset": preset})
    return model.to(dtype=dtype)


def random_frames(count: int, size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, size, size, 3), dtype=np.uint8)


def encoder_only_world_model(encoder: VisionEncoder) -> WorldModel:
    """`WorldModel.encode` for a bare encoder. WorldModel needs a predictor on the encoder's token grid; this
    one is 2 blocks of width 64 (seeded, never run) so no official-size predictor is built just to encode."""
    weight = next(encoder.parameters())
    with torch.device(weight.device):
        predictor = ActionConditionedPredictor(predictor_config_for(encoder.config, "ac_tiny"))
    initialize_weights(predictor, generator=torch.Generator(device=weight.device).manual_seed(0))
    return WorldModel(encoder, predictor.to(weight.dtype))


class FullRerunWorldModel:
    """The package's world model with a rollout that re-runs the whole prefix at every step
    (`WorldModel.step`, the reference `world_model_step`) instead of the key/value cache."""

    def __init__(self, model: WorldModel):
        self.model = model
        self.device, self.dtype = model.device, model.dtype
        self.tokens_per_frame, self.embed_dim = model.tokens_per_frame, model.embed_dim

    def rollout(self, tokens: torch.Tensor, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        batch = actions.shape[0]
        reps = tokens.expand(batch, -1, -1).unsqueeze(1)
        states = state.expand(batch, -1).unsqueeze(1)
        for t in range(actions.shape[1]):
            next_rep, next_state = self.model.step(reps, actions[:, : t + 1], states)
            reps = torch.cat([reps, next_rep.to(reps.dtype)], dim=1)
            states = torch.cat([states, next_state.to(states.dtype)], dim=1)
        return reps[:, -1]


# -- the official-style (notebook) loop ----------------------------------------------------------------
def host_pose_step(pose: np.ndarray, action: np.ndarray) -> np.ndarray:
    """One pose update on the host for one sample: p + dp, R_delta · R in extrinsic 'xyz' Euler, clip(g + dg)."""
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_euler("xyz", action[3:6]) * Rotation.from_euler("xyz", pose[3:6])
    out = np.empty(7)
    out[:3] = pose[:3] + action[:3]
    out[3:6] = rotation.as_euler("xyz")
    out[6] = min(max(pose[6] + action[6], 0.0), 1.0)
    return out


def host_pose_error(seed: int, count: int = 64) -> float:
    """Largest difference between the host loop's poses and `vjepa_ac.poses.integrate_actions` (angles wrapped)."""
    from vjepa_ac.poses import integrate_actions

    rng = np.random.default_rng(seed)
    poses = np.concatenate([rng.uniform(-0.5, 0.5, (count, 3)), rng.uniform(-1.2, 1.2, (count, 3)),
                            rng.uniform(0, 1, (count, 1))], axis=1)
    actions = np.concatenate([rng.uniform(-0.05, 0.05, (count, 3)), rng.uniform(-0.3, 0.3, (count, 3)),
                              rng.uniform(-0.75, 0.75, (count, 1))], axis=1)
    host = np.stack([host_pose_step(p, a) for p, a in zip(poses, actions)])
    package = integrate_actions(torch.from_numpy(poses), torch.from_numpy(actions)).numpy()
    diff = host - package
    diff[:, 3:6] = (diff[:, 3:6] + np.pi) % (2 * np.pi) - np.pi
    return float(np.abs(diff).max())


@torch.inference_mode()
def official_style_plan(predictor: ActionConditionedPredictor, tokens: torch.Tensor, state, goal: torch.Tensor,
                        samples: int, iterations: int, top_k: int, horizon: int, seed: int,
                        autocast_dtype: torch.dtype | None = None) -> np.ndarray:
    """Notebook-style CEM: Gaussian per horizon step, box-clipped translation, rotation held at zero,
    gripper clipped to ±0.75; each rollout step re-runs the predictor over the whole context, and poses are
    integrated sample by sample on the host. Returns the first action of the final mean (deadband applied)."""
    device = tokens.device
    dtype = predictor.predictor_embed.weight.dtype
    hw = tokens.shape[-2]
    generator = torch.Generator().manual_seed(seed)
    mean = torch.zeros(horizon, 7, device=device)
    std = torch.tensor([NOTEBOOK_MAXNORM] * 3 + [0.0] * 3 + [1.0], device=device).expand(horizon, 7).clone()
    start = torch.as_tensor(np.asarray(state, dtype=np.float64), device=device).float().reshape(1, 1, 7)
    ctx = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
    for _ in range(iterations):
        actions = mean + std * torch.randn(samples, horizon, 7, generator=generator).to(device)
        actions[..., :3] = actions[..., :3].clamp(-NOTEBOOK_MAXNORM, NOTEBOOK_MAXNORM)
        actions[..., 3:6] = 0.0
        actions[..., 6] = actions[..., 6].clamp(-NOTEBOOK_GRIPPER_MAX, NOTEBOOK_GRIPPER_MAX)
        reps = tokens.reshape(1, 1, hw, -1).expand(samples, 1, hw, -1).to(dtype)
        poses = start.expand(samples, 1, 7)
        for step in range(horizon):
            with ctx:
                out = predictor(reps.flatten(1, 2), actions[:, : step + 1].to(dtype), poses.to(dtype))
            next_rep = F.layer_norm(out[:, -hw:].float(), (out.shape[-1],)).to(dtype)
            last, act = poses[:, -1].double().cpu().numpy(), actions[:, step].double().cpu().numpy()
            moved = np.stack([host_pose_step(last[i], act[i]) for i in range(samples)])
            poses = torch.cat([poses, torch.from_numpy(moved).to(device, poses.dtype).unsqueeze(1)], dim=1)
            reps = torch.cat([reps, next_rep.unsqueeze(1)], dim=1)
        energies = (reps[:, -1].float() - goal.float().reshape(1, hw, -1)).abs().mean(dim=(1, 2))
        elites = actions[torch.topk(energies, top_k, largest=False).indices]
        mean = NOTEBOOK_MOMENTUM * mean + (1 - NOTEBOOK_MOMENTUM) * elites.mean(dim=0)
        std = NOTEBOOK_MOMENTUM * std + (1 - NOTEBOOK_MOMENTUM) * elites.std(dim=0, unbiased=False)
    action = mean[0].double().cpu().numpy()
    if abs(action[6]) < NOTEBOOK_DEADBAND:
        action[6] = 0.0
    return action


# -- timing -------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_plans(plan, iterations: int, budget_s: float, repeats: int = 2, probe: bool = True) -> dict:
    """Seconds per action of `plan(n_iterations)`. One 1-iteration plan warms up, a second estimates the
    cost; full plans are timed while the budget lasts (at least one). If not even one full plan fits, fewer
    iterations are timed and the full plan is extrapolated linearly (`extrapolated: true`). Without `probe`
    only full plans run (a compiled planner is built per iteration count, so other counts would recompile)."""
    started = time.perf_counter()
    if probe:
        plan(1)
        one = plan(1)
        left = budget_s - (time.perf_counter() - started)
    if not probe or one * iterations * 1.2 <= left:
        seconds = []
        while len(seconds) < repeats and (not seconds or seconds[-1] * 1.1 <= budget_s - (time.perf_counter() - started)):
            seconds.append(plan(iterations))
        return {"seconds_per_action": float(np.median(seconds)), "seconds_all": seconds,
                "iterations_timed": iterations, "extrapolated": False}
    fewer = max(2, min(iterations - 1, int(left / max(one, 1e-9) / 1.2)))
    partial = plan(fewer)
    per_iteration = max(partial - one, 0.0) / (fewer - 1)
    return {"seconds_per_action": one + per_iteration * (iterations - 1), "seconds_all": [partial],
            "iterations_timed": fewer, "one_iteration_seconds": one, "extrapolated": True}


def cpu_time(plan, iterations: int) -> dict:
    """Median process CPU seconds of the full plans a runner timed (none if only shorter plans ran)."""
    full = plan.cpu_seconds.get(iterations, [])
    return {"cpu_seconds_per_action": float(np.median(full))} if full else {}


def package_plan_runner(model, config: CEMConfig, tokens, state, goal):
    """plan(n) -> wall seconds of one CEMPlanner plan with n iterations (planners kept per n, reset each time)."""
    planners: dict[int, CEMPlanner] = {}
    device = torch.device(model.device)

    def plan(n: int) -> float:
        planner = planners.get(n)
        if planner is None:
            planner = planners[n] = CEMPlanner(model, dataclasses.replace(config, iterations=n))
        planner.reset()
        _sync(device)
        started, cpu = time.perf_counter(), time.process_time()
        plan.last = planner.plan(tokens, state, goal)
        _sync(device)
        plan.cpu_seconds.setdefault(n, []).append(time.process_time() - cpu)
        plan.chunk_size = planner._chunk_size  # not None only if an out-of-memory error made CEM split its batch
        return time.perf_counter() - started

    plan.cpu_seconds, plan.chunk_size = {}, None
    return plan


def official_plan_runner(model, config: CEMConfig, tokens, state, goal, autocast_dtype):
    device = torch.device(model.device)

    def plan(n: int) -> float:
        _sync(device)
        started, cpu = time.perf_counter(), time.process_time()
        plan.last = official_style_plan(model.predictor, tokens.to(device), state, goal.to(device), config.samples, n,
                                        config.top_k, config.horizon, config.seed, autocast_dtype)
        _sync(device)
        plan.cpu_seconds.setdefault(n, []).append(time.process_time() - cpu)
        return time.perf_counter() - started

    plan.cpu_seconds = {}
    return plan


# -- the check ----------------------------------------------------------------------------------------
class Check:
    """Runs the parts in order against a time budget and keeps the JSON up to date."""

    def __init__(self, args, size: dict):
        self.args, self.size = args, size
        self.device = torch.device(args.device)
        self.dtype = DTYPES[args.dtype]
        self.deadline = time.perf_counter() + args.budget_s
        self.path = Path(args.out) / f"gpu_check_{args.size}_{self.device.type}.json"
        self.context: dict = {}
        self.report = {
            "mode": args.size,
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **git_commit(),
            "script_sha256": sha256_file(Path(__file__)),
            "settings": {
                "preset": size["preset"], "device": str(self.device), "dtype": args.dtype,
                "samples": args.samples, "iterations": args.iterations, "top_k": args.top_k,
                "seed": args.seed, "budget_s": args.budget_s, "compile_backend": args.compile_backend,
                "threads": torch.get_num_threads(), "weights": "random, seeded (timing does not depend on values)",
            },
            "parts": {},
        }

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def run(self, parts) -> dict:
        for name in parts:
            self.run_part(name, getattr(self, f"part_{name}"))
        self.report["summary"] = self.summary()
        self.write()
        return self.report

    def run_part(self, name: str, function) -> None:
        record: dict = {}
        needs = self.args.budget_s * (0.2 if name.startswith("compile") else 0.0)  # compiling alone takes minutes
        if self.left() <= needs and name != "environment":
            record.update(status="skipped", reason=f"{self.left():.0f} s left of the {self.args.budget_s:.0f} s budget")
        else:
            reset_peak_memory(self.device)
            started = time.perf_counter()
            try:
                record.update(function() or {})
                record["status"] = "ok"
            except Exception as error:  # noqa: BLE001 - one part's failure must not stop the others
                record.update(status="failed", error=f"{type(error).__name__}: {error}",
                              traceback=traceback.format_exc())
            record["seconds"] = time.perf_counter() - started
            record["peak_memory"] = peak_memory(self.device)
        self.report["parts"][name] = record
        shown = record.get("seconds_per_action")
        print(f"[gpu_check] {name}: {record['status']} ({record.get('seconds', 0):.1f} s)"
              + (f", {shown:.3f} s/action" if shown is not None else "")
              + (f" -- {record.get('error') or record.get('reason')}" if record["status"] != "ok" else ""), flush=True)
        self.write()

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.report, indent=2, default=str) + "\n")

    def part_budget(self, share: float) -> float:
        """A part's time: its share of the whole budget, never more than what is left."""
        return max(0.0, min(self.args.budget_s * share, self.left()))

    # parts
    def part_environment(self) -> dict:
        env = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
               "machine": platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
        if torch.backends.cudnn.is_available():
            env["cudnn"] = torch.backends.cudnn.version()
        if self.device.type == "cuda":
            props = torch.cuda.get_device_properties(self.device)
            env.update(device_name=props.name, capability=f"{props.major}.{props.minor}",
                       multiprocessors=props.multi_processor_count, memory_gib=props.total_memory / 2**30,
                       flash_sdp=torch.backends.cuda.flash_sdp_enabled(),
                       tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                     capture_output=True, text=True, timeout=20)
                env["nvidia_smi"] = smi.stdout.strip()
        else:
            env["device_name"] = platform.processor() or platform.machine()
        print(f"[gpu_check] device {env['device_name']}, torch {env['torch']}, CUDA {env['cuda']}, "
              f"cuDNN {env.get('cudnn')}", flush=True)
        return env

    def part_build(self) -> dict:
        model = build_random_world_model(self.size["preset"], self.device, self.dtype, self.args.seed)
        images = random_frames(2, 256, self.args.seed)
        tokens = model.encode(images)
        self.context.update(model=model, tokens=tokens[0], goal=tokens[1],
                            state=torch.tensor(START_STATE, dtype=torch.float64))
        params = sum(p.numel() for p in model.predictor.parameters())
        out = {"predictor_parameters": params, "predictor_config": model.predictor.config.to_dict(),
               "predictor_weights_fingerprint": weights_fingerprint(model.predictor)}
        if self.args.size == "official":
            out["checks"] = {"official_parameter_count": {
                "value": params, "expected": OFFICIAL_PREDICTOR_PARAMETERS,
                "passed": params == OFFICIAL_PREDICTOR_PARAMETERS}}
        return out

    def _config(self, horizon: int, **extra) -> CEMConfig:
        a = self.args
        # The paper's planner, which the official-style loop implements too: the same work on both sides.
        return CEMConfig.paper(samples=a.samples, iterations=a.iterations, top_k=a.top_k, horizon=horizon, seed=a.seed,
                               **extra)

    def _autocast_dtype(self):
        return torch.bfloat16 if self.device.type == "cuda" else None

    def _timed_package(self, horizon: int, model=None, share: float = 0.06, **extra) -> dict:
        c = self.context
        plan = package_plan_runner(model or c["model"], self._config(horizon, **extra), c["tokens"], c["state"], c["goal"])
        timing = time_plans(plan, self.args.iterations, self.part_budget(share))
        timing.update(self._throughput(timing["seconds_per_action"], horizon), action=plan.last.action.tolist(),
                      rollout_chunk_size=plan.chunk_size, **cpu_time(plan, self.args.iterations))
        return timing

    def _throughput(self, seconds: float, horizon: int) -> dict:
        """Useful work per second, counted as the KV-cached rollout does it (plan_latency's FLOP count)."""
        from plan_latency import predictor_flops

        config = self.context["model"].predictor.config
        rollouts = self.args.samples * self.args.iterations + 1
        return {"predictor_tokens_per_s": rollouts * horizon * config.tokens_per_step / seconds,
                "tflops_per_s": predictor_flops(config, rollouts, horizon) / seconds / 1e12}

    def part_plan_h1(self) -> dict:
        return self._timed_package(1)

    def part_plan_h2(self) -> dict:
        return self._timed_package(2, share=0.08)

    def part_plan_h2_full_rerun(self) -> dict:
        out = self._timed_package(2, model=FullRerunWorldModel(self.context["model"]), share=0.1)
        cached = self.report["parts"].get("plan_h2", {}).get("action")
        if cached is not None:
            # Recorded, not checked: rounding differences can swap near-tied elites (seen at the embedded size,
            # 5 mm); rollout_agreement_h2 compares the two rollouts on the same samples.
            out["max_abs_action_diff_vs_cached"] = float(np.abs(np.asarray(cached) - np.asarray(out["action"])).max())
        return out

    def _timed_official(self, horizon: int, share: float) -> dict:
        c = self.context
        plan = official_plan_runner(c["model"], self._config(horizon), c["tokens"], c["state"], c["goal"],
                                    self._autocast_dtype())
        timing = time_plans(plan, self.args.iterations, self.part_budget(share))
        timing.update(action=plan.last.tolist(), **cpu_time(plan, self.args.iterations))
        package = self.report["parts"].get(f"plan_h{horizon}", {})
        if package.get("seconds_per_action"):
            timing["ratio_official_style_over_package"] = timing["seconds_per_action"] / package["seconds_per_action"]
        if self.device.type == "cpu" and package.get("cpu_seconds_per_action") and "cpu_seconds_per_action" in timing:
            # on a shared CPU, process time is the steadier figure
            timing["cpu_time_ratio_official_style_over_package"] = (timing["cpu_seconds_per_action"]
                                                                    / package["cpu_seconds_per_action"])
        return timing

    def part_official_style_h1(self) -> dict:
        out = self._timed_official(1, 0.08)
        diff = host_pose_error(self.args.seed)
        out["checks"] = {"host_pose_maths_equals_package": {"value": diff, "tolerance": 1e-9, "passed": diff <= 1e-9}}
        return out

    def part_official_style_h2(self) -> dict:
        return self._timed_official(2, 0.12)

    def part_rollout_agreement_h2(self) -> dict:
        """KV-cached rollout against the full re-run at H=2, in fp32 (tight) and the run's dtype."""
        c, model = self.context, self.context["model"]
        n = self.size["agreement_samples"]
        actions = 0.05 * torch.randn(n, 2, 7, generator=torch.Generator().manual_seed(self.args.seed))
        actions[..., 3:6] = 0.0
        out = {"samples": n}
        previous_tf32 = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        try:
            for label, dtype in (("float32", torch.float32), (self.args.dtype, self.dtype)):
                if label in out:
                    continue
                model.to(dtype=dtype)
                tokens, state = c["tokens"].to(dtype)[None], c["state"].float()[None].to(self.device)
                acts = actions.to(self.device)
                ctx = (torch.autocast("cuda", dtype=dtype) if self.device.type == "cuda" and dtype != torch.float32
                       else contextlib.nullcontext())
                with torch.inference_mode(), ctx:
                    cached = model.rollout(tokens, state, acts).float()
                    full = FullRerunWorldModel(model).rollout(tokens, state, acts).float()
                out[label] = {"max_abs_diff": float((cached - full).abs().max()),
                              "mean_abs_diff": float((cached - full).abs().mean()),
                              "mean_abs_token": float(full.abs().mean())}
        finally:
            model.to(dtype=self.dtype)
            torch.backends.cuda.matmul.allow_tf32 = previous_tf32
        tolerance = 1e-4 if self.device.type == "cpu" else 2e-3
        out["checks"] = {"cached_equals_full_rerun_fp32": {
            "value": out["float32"]["max_abs_diff"], "tolerance": tolerance,
            "passed": out["float32"]["max_abs_diff"] <= tolerance}}
        if self.args.dtype != "float32":
            # bf16 rounds differently along the two paths; compare with the tokens' own scale (layer-normed, ~0.8)
            value = out[self.args.dtype]["mean_abs_diff"]
            out["checks"][f"cached_close_to_full_rerun_{self.args.dtype}"] = {
                "value": value, "tolerance": 0.05, "passed": value <= 0.05}
        return out

    def part_encoder_throughput(self) -> dict:
        """Full-depth encoder on 256 px frames (resized to the encoder's size inside `encode`)."""
        encoder_name, _ = WORLD_MODEL_PRESETS[self.size["preset"]]
        generator = torch.Generator(device=self.device).manual_seed(self.args.seed + 1)
        with torch.device(self.device):
            encoder = initialize_weights(VisionEncoder(encoder_preset(encoder_name)), generator=generator)
        model = encoder_only_world_model(encoder.to(self.dtype))
        frames = random_frames(self.args.encoder_frames or self.size["encoder_frames"], 256, self.args.seed + 2)
        try:
            model.encode(frames[:2])
            best = float("inf")
            for _ in range(2 if self.left() > 60 else 1):
                _sync(self.device)
                started = time.perf_counter()
                tokens = model.encode(frames)
                _sync(self.device)
                best = min(best, time.perf_counter() - started)
            return {"frames": len(frames), "frame_px": 256, "encoder_image_size": model.image_size,
                    "encode_batch_size": model.config.encode_batch_size, "encode_seconds": best,
                    "frames_per_s": len(frames) / best, "tokens_per_s": tokens.shape[0] * tokens.shape[1] / best,
                    "encoder_parameters": sum(p.numel() for p in model.encoder.parameters())}
        finally:
            del model, encoder
            free_memory(self.device)

    def part_embedded_gpu_vs_cpu(self) -> dict:
        """The shipped embedded model: one plan on the device and one on the CPU from identical tokens and state."""
        from vjepa_ac.models import EMBEDDED_MODEL_DIR, load_world_model

        samples, iterations, top_k = self.size["embedded_plan"]
        cpu_model = load_world_model(device="cpu")
        dev_model = load_world_model(device=self.device)
        images = random_frames(2, 256, self.args.seed + 3)
        cpu_tokens = cpu_model.encode(images)
        previous = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            dev_tokens = dev_model.encode(images).cpu()
            state = torch.tensor(START_STATE, dtype=torch.float64)
            # The paper's energy (no anchoring): between two unrelated frames it picks a clear, non-zero move.
            config = CEMConfig.paper(samples=samples, iterations=iterations, top_k=top_k, seed=self.args.seed,
                                     autocast=False)
            cpu_plan = CEMPlanner(cpu_model, config).plan(cpu_tokens[0], state, cpu_tokens[1])
            dev_plan = CEMPlanner(dev_model, config).plan(cpu_tokens[0], state, cpu_tokens[1])
            out = {"plan": [samples, iterations, top_k], "same_device": self.device.type == "cpu",
                   "model_sha256": sha256_file(EMBEDDED_MODEL_DIR / "model.safetensors"),
                   "encoder_max_abs_diff": float((dev_tokens - cpu_tokens).abs().max()),
                   "cpu_action": cpu_plan.action.tolist(), "device_fp32_action": dev_plan.action.tolist(),
                   "cpu_seconds": cpu_plan.seconds, "device_fp32_seconds": dev_plan.seconds}
            diff = float(np.abs(dev_plan.action - cpu_plan.action).max())
            moved = float(np.abs(cpu_plan.action[:3]).sum())
            out["checks"] = {"device_fp32_action_equals_cpu": {"value": diff, "tolerance": 1e-3, "passed": diff <= 1e-3},
                             "plan_moves": {"value": moved, "minimum": 1e-3, "passed": moved >= 1e-3}}
            if self.device.type == "cuda":
                bf16 = CEMPlanner(dev_model, dataclasses.replace(config, autocast=True)).plan(
                    cpu_tokens[0], state, cpu_tokens[1])
                diff16 = float(np.abs(bf16.action - cpu_plan.action).max())
                out.update(device_bf16_autocast_action=bf16.action.tolist(), device_bf16_seconds=bf16.seconds)
                # bf16 may swap near-tied elites; 5 mm is well under one 7.5 cm step
                out["checks"]["device_bf16_action_close_to_cpu"] = {"value": diff16, "tolerance": 5e-3,
                                                                     "passed": diff16 <= 5e-3}
            return out
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = previous
            del dev_model
            free_memory(self.device)

    def _compiled(self, horizon: int) -> dict:
        c = self.context
        eager = self.report["parts"].get(f"plan_h{horizon}", {})
        config = self._config(horizon, compile=self.args.compile_backend)
        plan = package_plan_runner(c["model"], config, c["tokens"], c["state"], c["goal"])
        first = plan(self.args.iterations)  # compiles (batch N, then batch 1 for the final mean)
        first_action = plan.last.action
        plan.cpu_seconds.clear()
        timing = time_plans(plan, self.args.iterations, self.part_budget(0.06), probe=False)
        timing.update(self._throughput(timing["seconds_per_action"], horizon), first_plan_seconds=first,
                      backend=self.args.compile_backend, action=first_action.tolist(),
                      rollout_chunk_size=plan.chunk_size, **cpu_time(plan, self.args.iterations))
        if eager.get("action") is not None:
            diff = float(np.abs(np.asarray(eager["action"]) - first_action).max())
            timing["max_abs_action_diff_vs_eager"] = diff
            if self.device.type == "cpu":
                timing["checks"] = {"compiled_action_equals_eager": {"value": diff, "tolerance": 1e-5,
                                                                      "passed": diff <= 1e-5}}
        if eager.get("seconds_per_action"):
            timing["speedup_vs_eager"] = eager["seconds_per_action"] / timing["seconds_per_action"]
        return timing

    def part_compile_h1(self) -> dict:
        return self._compiled(1)

    def part_compile_h2(self) -> dict:
        return self._compiled(2)

    def summary(self) -> dict:
        parts = self.report["parts"]
        failed_checks = [f"{part}.{name}" for part, record in parts.items()
                         for name, check in record.get("checks", {}).items() if not check["passed"]]
        out = {
            "failed_parts": [n for n, r in parts.items() if r["status"] == "failed"],
            "skipped_parts": [n for n, r in parts.items() if r["status"] == "skipped"],
            "failed_checks": failed_checks,
            "extrapolated": [n for n, r in parts.items() if r.get("extrapolated")],
            "total_seconds": sum(r.get("seconds", 0.0) for r in parts.values()),
        }
        for key in ("plan_h1", "plan_h2", "plan_h2_full_rerun", "compile_h1", "compile_h2",
                    "official_style_h1", "official_style_h2"):
            if parts.get(key, {}).get("seconds_per_action") is not None:
                out[f"{key}_seconds_per_action"] = parts[key]["seconds_per_action"]
        for h in (1, 2):
            for key in ("ratio_official_style_over_package", "cpu_time_ratio_official_style_over_package"):
                ratio = parts.get(f"official_style_h{h}", {}).get(key)
                if ratio is not None:
                    out[f"{key}_h{h}"] = ratio
        if "plan_h2" in out and "plan_h2_full_rerun_seconds_per_action" in out:
            out["full_rerun_over_cached_h2"] = out["plan_h2_full_rerun_seconds_per_action"] / out["plan_h2_seconds_per_action"]
        peaks = [r.get("peak_memory", {}).get("cuda_peak_allocated_gib") for r in parts.values()]
        peaks = [p for p in peaks if p is not None]
        if peaks:
            out["cuda_peak_allocated_gib"] = max(peaks)
        return out


# -- the official size on CPU, from files -------------------------------------------------------------
def _official_prefixed(state: dict, prefix: str = "module.backbone.") -> dict:
    return {prefix + k: v for k, v in state.items()}


def hf_layout(encoder_state: dict) -> dict:
    """Reference-named encoder tensors under transformers' VJEPA2 names (q, k, v split)."""
    out = {}
    for name, value in encoder_state.items():
        parts = name.split(".")
        if name.startswith("patch_embed.proj."):
            out[f"encoder.embeddings.patch_embeddings.proj.{parts[-1]}"] = value
        elif name.startswith("norm."):
            out[f"encoder.layernorm.{parts[-1]}"] = value
        elif ".attn.qkv." in name:
            for role, chunk in zip(("query", "key", "value"), value.chunk(3)):
                out[f"encoder.layer.{parts[1]}.attention.{role}.{parts[-1]}"] = chunk.contiguous()
        elif ".attn.proj." in name:
            out[f"encoder.layer.{parts[1]}.attention.proj.{parts[-1]}"] = value
        else:
            out["encoder.layer." + ".".join(parts[1:])] = value
    return out


def planner_settings(path: Path, **overrides):
    """The planner node's settings as it reads them from a parameter file (defaults for absent keys)."""
    import yaml

    from vjepa_ac.ros.params import PLANNER_PARAMETERS, coerce

    values = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    values.update(overrides)
    from types import SimpleNamespace

    return SimpleNamespace(**{spec.name: coerce(spec, values.get(spec.name)) for spec in PLANNER_PARAMETERS})


class Steps:
    """Time and peak RSS of each step; the JSON is rewritten after every step."""

    def __init__(self, path: Path, report: dict):
        self.path, self.report = path, report
        report.setdefault("steps", {})

    @contextlib.contextmanager
    def step(self, name: str):
        reset_peak_memory(torch.device("cpu"))
        record: dict = {}
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield record
            record["status"] = "ok"
        except Exception as error:
            record.update(status="failed", error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
            raise
        finally:
            record.update(seconds=time.perf_counter() - started, cpu_seconds=time.process_time() - cpu,
                          **peak_memory(torch.device("cpu")))
            self.report["steps"][name] = record
            print(f"[cpu_official_smoke] {name}: {record['status']} {record['seconds']:.1f} s, "
                  f"peak RSS {record.get('peak_rss_gib', float('nan')):.2f} GiB", flush=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.report, indent=2, default=str) + "\n")


def franka_frames(path, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Two 256 px frames and states: the real Franka clip in the shared data if present, else seeded noise."""
    path = Path(path) if path else ROOT.parent / "shared" / "data" / "franka_example_traj.npz"
    if path.is_file():
        clip = np.load(path)
        return clip["observations"][0], clip["states"][0].astype(np.float64), str(path)
    states = np.tile(np.asarray(START_STATE), (2, 1))
    return random_frames(2, 256, seed), states, "random frames (no Franka clip found)"


def cpu_official_smoke(args) -> dict:
    """Write random official-size weights in Meta's and Hugging Face's layouts, load them as the planner node
    does (config/franka_real.yaml, device cpu), encode a 256 px frame, plan 8 samples x 1 iteration."""
    from safetensors.torch import save_file

    from vjepa_ac.models import load_encoder
    from vjepa_ac.ros.model_loading import load_world_model_from_settings

    torch.set_grad_enabled(False)
    path = Path(args.out) / "cpu_official_smoke.json"
    report = {"mode": "cpu_official_smoke", "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              **git_commit(), "script_sha256": sha256_file(Path(__file__)), "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "seed": args.seed,
              "files": {}}
    steps = Steps(path, report)
    workdir = Path(tempfile.mkdtemp(prefix="vjepa_ac_official_", dir=args.tmpdir))
    ac_file, encoder_file, hf_dir = workdir / "vjepa2-ac-vitg.pt", workdir / "vitg.pt", workdir / "hf_vitg"
    frames, states, source = franka_frames(args.franka_clip, args.seed)
    report["frames"] = {"source": source, "shape": list(frames.shape)}
    try:
        with steps.step("make_encoder_weights") as record:
            config = encoder_preset(args.smoke_encoder)
            generator = torch.Generator().manual_seed(args.seed)
            encoder = initialize_weights(VisionEncoder(config), generator=generator)
            encoder_state = {k: v.detach() for k, v in encoder.state_dict().items()}
            del encoder
            record["parameters"] = sum(v.numel() for v in encoder_state.values())
        with steps.step("make_predictor_weights") as record:
            predictor = initialize_weights(ActionConditionedPredictor(predictor_config_for(config, SMOKE_PREDICTORS[args.smoke_encoder])),
                                           generator=generator)
            predictor_state = {k: v.detach() for k, v in predictor.state_dict().items()}
            del predictor
            record["parameters"] = sum(v.numel() for v in predictor_state.values())
        pos_embed = torch.zeros(1, config.tokens_per_frame, config.embed_dim)  # unused by RoPE models, shipped anyway
        official_encoder = {**_official_prefixed(encoder_state), "module.backbone.pos_embed": pos_embed}
        with steps.step("write_official_ac_file"):
            torch.save({"encoder": official_encoder, "predictor": _official_prefixed(predictor_state),
                        "epoch": 315}, ac_file)
        del predictor_state
        with steps.step("write_official_encoder_file"):
            # encoder and target_encoder share tensors, so torch.save stores them once (as a copy would not)
            torch.save({"encoder": official_encoder, "target_encoder": official_encoder, "epoch": 0}, encoder_file)
        del official_encoder
        with steps.step("write_hugging_face_encoder"):
            hf_dir.mkdir()
            save_file(hf_layout(encoder_state), str(hf_dir / "model.safetensors"))
            (hf_dir / "config.json").write_text(json.dumps({
                "model_type": "vjepa2", "hidden_size": config.embed_dim, "num_hidden_layers": config.depth,
                "num_attention_heads": config.num_heads, "mlp_ratio": config.mlp_hidden_dim / config.embed_dim,
                "patch_size": config.patch_size, "tubelet_size": config.tubelet_size, "crop_size": config.image_size,
                "in_chans": 3, "qkv_bias": True, "layer_norm_eps": 1e-6}))
        del encoder_state
        gc.collect()
        with steps.step("hash_files") as record:
            for file in (ac_file, encoder_file, hf_dir / "model.safetensors"):
                report["files"][file.name] = {"bytes": file.stat().st_size, "sha256": sha256_file(file)}

        overrides = {} if args.smoke_encoder == "vit_giant" else {"preset": args.smoke_encoder}  # tried small first
        settings = planner_settings(ROOT / "config" / "franka_real.yaml", checkpoint=str(ac_file), device="cpu",
                                    **overrides)
        report["settings"] = {k: v for k, v in vars(settings).items() if k in (
            "checkpoint", "preset", "device", "dtype", "samples", "iterations", "top_k", "horizon",
            "anchor_to_observation", "l1_radius", "gripper_goal_weight")}
        with steps.step("load_official_ac_file_node_loader") as record:
            model = load_world_model_from_settings(settings)
            record.update(dtype=str(model.dtype), image_size=model.image_size,
                          encoder_parameters=sum(p.numel() for p in model.encoder.parameters()),
                          predictor_parameters=sum(p.numel() for p in model.predictor.parameters()))
        with steps.step("encode_frame") as record:
            tokens = model.encode(frames[:1])
            record["tokens"] = list(tokens.shape)
        with steps.step("encode_goal_frame"):
            goal = model.encode(frames[1:2])
        cem = dataclasses.replace(CEMConfig.from_mapping(settings), samples=8, iterations=1,
                                  top_k=min(settings.top_k, 8))
        report["plan_config"] = {"samples": 8, "iterations": 1, "top_k": cem.top_k, "horizon": cem.horizon,
                                 "anchor_to_observation": cem.anchor_to_observation}
        with steps.step("plan_8x1") as record:
            result = CEMPlanner(model, cem).plan(tokens[0], states[0], goal[0])
            record.update(action=result.action.tolist(), energy=result.energy,
                          samples_evaluated=result.samples_evaluated, finite=bool(np.isfinite(result.action).all()))
        reference_tokens = tokens.float()
        del model, tokens, goal
        gc.collect()
        for name, source, kwargs in (("official_encoder_file", encoder_file, {"num_heads": config.num_heads,
                                                                                 "image_size": config.image_size}),
                                     ("hugging_face_encoder", hf_dir, {})):
            with steps.step(f"load_{name}") as record:
                encoder = load_encoder(source, dtype=DTYPES[settings.dtype], **kwargs)
                record["config"] = encoder.config.to_dict()
            with steps.step(f"encode_frame_{name}") as record:
                wrapped = encoder_only_world_model(encoder)
                same = wrapped.encode(frames[:1]).float()
                record["max_abs_diff_vs_ac_file_tokens"] = float((same - reference_tokens).abs().max())
            del encoder, wrapped
            gc.collect()
    finally:
        with steps.step("delete_files"):
            shutil.rmtree(workdir, ignore_errors=True)
            report["files_deleted"] = not workdir.exists()
    report["peak_rss_gib_max"] = max(s.get("peak_rss_gib", 0.0) for s in report["steps"].values())
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


# -- command line -------------------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "gpu_check"), help="output folder")
    parser.add_argument("--size", choices=sorted(SIZES), default="official")
    parser.add_argument("--tiny", action="store_true", help="--size tiny on CPU: the test's run")
    parser.add_argument("--cpu-official-smoke", action="store_true",
                        help="official-size checkpoint files written, loaded as the node does, planned on CPU")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="default: bfloat16 on cuda, float32 on cpu")
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--encoder-frames", type=int, default=None, help="frames for encoder throughput")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=None, help="run only these (environment and build always run)")
    parser.add_argument("--budget-s", type=float, default=None, help="seconds the whole run may take")
    parser.add_argument("--compile-backend", default=None, help="default: inductor on cuda, eager on cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=100000, help="development seeds only (100000-149999)")
    parser.add_argument("--tmpdir", default=None, help="where --cpu-official-smoke writes its files")
    parser.add_argument("--smoke-encoder", choices=sorted(SMOKE_PREDICTORS), default="vit_giant",
                        help="--cpu-official-smoke size (vit_micro: the same steps in seconds)")
    parser.add_argument("--franka-clip", default=None, help="npz with observations/states (default: shared data)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.size, args.device = "tiny", args.device or "cpu"
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    size = SIZES[args.size]
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    args.samples = args.samples or size["samples"]
    args.iterations = args.iterations or size["iterations"]
    args.top_k = args.top_k or size["top_k"]
    args.budget_s = args.budget_s or size["budget_s"]
    args.compile_backend = args.compile_backend or ("inductor" if args.device.startswith("cuda") else "eager")
    return args, size


def main(argv=None) -> int:
    args, size = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cpu_official_smoke:
        report = cpu_official_smoke(args)
        failed = [n for n, s in report["steps"].items() if s["status"] != "ok"]
        print(f"[cpu_official_smoke] peak RSS {report['peak_rss_gib_max']:.2f} GiB; failed steps: {failed or 'none'}")
        return 1 if failed else 0
    parts = list(PARTS) if args.parts is None else ["environment", "build"] + [p for p in args.parts
                                                                              if p not in ("environment", "build")]
    check = Check(args, size)
    summary = check.run(parts)["summary"]
    print(json.dumps(summary, indent=2))
    print(f"[gpu_check] wrote {check.path}")
    return 1 if summary["failed_parts"] or summary["failed_checks"] else 0


if __name__ == "__main__":
    sys.exit(main())

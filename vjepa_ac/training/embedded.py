"""`vjepa-ac-train-embedded`: the one command that reproduces the shipped embedded model.

Stages (each resumable, each skipped when its output exists):
  1. collect   MuJoCo episodes (seeds < 100000): planner-like random exploration + expert demonstrations
  2. pretrain  small RoPE ViT encoder with the V-JEPA mask-denoising objective
  3. predictor V-JEPA 2-AC post-training on the frozen encoder (teacher forcing + 2-step rollout L1)
  4. readout   the goal-image gripper readout (a small CNN on the same episodes; vjepa-ac-train-gripper-readout)
  5. package   our safetensors format + training metadata, with the readout next to it
               (model card: docs/embedded_model.md)

The defaults are the recipe of the shipped model; the size flags exist for smoke tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import NamedTuple

# Planner-like exploration: steps up to the planner's L1 radius, no yaw, rare gripper toggles, so the
# model sees the actions CEM will ask it about (the planner freezes rotation by default).
EXPLORE_EPISODES = 400
MIXED_EPISODES = 250
GRASP_PLAY_EPISODES = 300
GRASP_PLAY_STEPS = 16
# grasp_lift episodes are off in the shipped recipe: 400 of them (with --interaction-repeats) moved the
# predictor's grasp margin from +0.3 % to +1.3 % but did not raise grasp or pick-and-place success
# (docs/embedded_model.md, "Tried after this model").
GRASP_LIFT_EPISODES = 0
GRASP_LIFT_STEPS = 12
EXPLORE_STEPS = 20
MIXED_STEPS = 40
CAMERA_SIZE = 128
EXPLORATION = {"max_step": 0.075, "smoothing": 0.5, "toggle_probability": 0.05, "yaw_step": 0.0}


class EpisodeSpec(NamedTuple):
    seed: int
    kind: str
    steps: int
    start_near_cube: bool
    close_while_lifting: bool


def episode_plan(first_seed: int, explore_episodes: int, mixed_episodes: int,
                 grasp_play_episodes: int = 0, grasp_lift_episodes: int = 0) -> list[EpisodeSpec]:
    """What to record, episode by episode.

    Half the exploration and 3 in 5 demonstrations start just above the cube, where grasps happen; half the
    demonstrations grasp with a single close-and-lift action, the grasp a one-step planner finds. Grasp
    play (all near the cube) shows what every gripper change does there.
    """
    from vjepa_ac.training.collect import check_training_seeds

    plan = [EpisodeSpec(s, "explore", EXPLORE_STEPS, i % 2 == 1, False)
            for i, s in enumerate(check_training_seeds(first_seed, explore_episodes))]
    plan += [EpisodeSpec(s, "mixed", MIXED_STEPS, i % 5 < 3, i % 2 == 0)
             for i, s in enumerate(check_training_seeds(first_seed + explore_episodes, mixed_episodes))]
    if grasp_play_episodes:
        plan += [EpisodeSpec(s, "grasp_play", GRASP_PLAY_STEPS, True, False)
                 for s in check_training_seeds(first_seed + explore_episodes + mixed_episodes, grasp_play_episodes)]
    if grasp_lift_episodes:
        first = first_seed + explore_episodes + mixed_episodes + grasp_play_episodes
        plan += [EpisodeSpec(s, "grasp_lift", GRASP_LIFT_STEPS, True, False)
                 for s in check_training_seeds(first, grasp_lift_episodes)]
    return plan


def _collect_shard(out: Path, engine: str, camera_size: int, plan: list[EpisodeSpec], shard: int = 0) -> int:
    from tqdm.auto import tqdm

    from vjepa_ac.simulation import make_sim
    from vjepa_ac.training.collect import record_episode
    from vjepa_ac.training.episodes import save_episode
    from vjepa_ac.training.exploration import ExplorationConfig

    exploration = ExplorationConfig(**EXPLORATION)
    sim = make_sim(engine, image_size=camera_size)
    frames_total = 0
    try:
        for spec in tqdm(plan, desc=f"collect (worker {shard})", unit="episode", position=shard):
            path = out / f"episode_{spec.seed:05d}.npz"
            if path.exists():
                continue
            frames, states, record = record_episode(sim, spec.seed, spec.kind, spec.steps, exploration,
                                                     start_near_cube=spec.start_near_cube,
                                                     close_while_lifting=spec.close_while_lifting)
            save_episode(path, frames, states, seed=spec.seed, engine=engine,
                         cube_positions=record["cube_positions"])
            frames_total += len(frames)
    finally:
        sim.close()
    return frames_total


def collect(out: Path, engine: str = "mujoco", explore_episodes: int = EXPLORE_EPISODES,
            mixed_episodes: int = MIXED_EPISODES, first_seed: int = 0, camera_size: int = CAMERA_SIZE,
            workers: int = 1, grasp_play_episodes: int = GRASP_PLAY_EPISODES,
            grasp_lift_episodes: int = GRASP_LIFT_EPISODES) -> dict:
    """Record the training episodes; `workers` processes each take every workers-th episode."""
    import concurrent.futures
    import multiprocessing

    out.mkdir(parents=True, exist_ok=True)
    plan = episode_plan(first_seed, explore_episodes, mixed_episodes, grasp_play_episodes, grasp_lift_episodes)
    started = time.perf_counter()
    shards = [plan[i::workers] for i in range(max(1, workers))]
    if len(shards) == 1:
        frames_total = _collect_shard(out, engine, camera_size, shards[0])
    else:
        context = multiprocessing.get_context("spawn")  # no forked OpenGL/MuJoCo state
        with concurrent.futures.ProcessPoolExecutor(len(shards), mp_context=context) as pool:
            frames_total = sum(pool.map(_collect_shard, [out] * len(shards), [engine] * len(shards),
                                        [camera_size] * len(shards), shards, range(len(shards))))
    summary = {"episodes": len(plan), "explore_episodes": explore_episodes, "mixed_episodes": mixed_episodes,
               "grasp_play_episodes": grasp_play_episodes, "grasp_lift_episodes": grasp_lift_episodes,
               "near_cube_starts": sum(p.start_near_cube for p in plan),
               "close_while_lifting": sum(p.close_while_lifting for p in plan),
               "exploration": EXPLORATION, "seeds": [first_seed, first_seed + len(plan) - 1],
               "camera_size": camera_size, "workers": workers,
               "new_frames": frames_total, "seconds": round(time.perf_counter() - started, 1)}
    (out / "collection_summary.json").write_text(json.dumps(summary, indent=1))
    return summary


ENCODER_PRESET = "vit_embedded"
PREDICTOR_PRESET = "ac_embedded"
PRETRAIN_ARGS = ["--frames-per-clip", "4", "--stride", "1", "--steps", "1200", "--batch-size", "32",
                 "--collapse-every", "100", "--log-every", "20", "--checkpoint-every", "200", "--seed", "0"]
# 6000 steps: at 2000 the held-out loss was still falling (0.148 -> 0.103 at 6000) and reach success
# rose with it (84 % -> see docs/embedded_model.md).
PREDICTOR_ARGS = ["--frames-per-clip", "4", "--stride", "1", "--steps", "6000", "--batch-size", "32",
                  "--lr", "1e-3", "--rollout-steps", "2", "--val-fraction", "0.05", "--eval-every", "0",
                  "--log-every", "20", "--checkpoint-every", "1000", "--seed", "0"]
# 12 epochs with 4 px shifts (held-out balanced accuracy 0.94, no sub-goal image of 60 unseen scenes read
# wrongly). Without shifts the readout fit its training frames (0.96) far better than held-out ones (0.78) and
# read 3 of 60 open-hand images as closed; 8 epochs with shifts left 6 of 60 placed-cube images undecided
# (docs/embedded_model.md).
READOUT_ARGS = ["--epochs", "12", "--max-shift", "4", "--batch-size", "128", "--lr", "1e-3", "--weight-decay", "0.01",
                "--val-fraction", "0.1", "--seed", "0"]
DEFAULT_ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "embedded_model"


def _run_stage(main, argv: list[str], out: Path, steps: int, what: str) -> Path:
    """Run a training CLI to `steps`, resuming an interrupted run; returns its final checkpoint."""
    from vjepa_ac.training.training_state import latest_checkpoint

    latest = latest_checkpoint(out)
    if latest is None or latest.name != f"step_{steps:08d}":
        if main(argv + (["--resume"] if latest is not None else [])) != 0:
            raise SystemExit(f"{what} failed")
        latest = latest_checkpoint(out)
    return latest


def _steps(args: list[str]) -> int:
    return int(args[args.index("--steps") + 1])


def _with_value(args: list[str], flag: str, value) -> list[str]:
    args = list(args)
    if flag in args:
        args[args.index(flag) + 1] = str(value)
    else:
        args += [flag, str(value)]
    return args


def _with_steps(args: list[str], steps: int | None) -> list[str]:
    if steps is None:
        return list(args)
    args = _with_value(args, "--steps", steps)
    for flag in ("--checkpoint-every", "--eval-every"):
        if flag in args:
            args[args.index(flag) + 1] = "0"
    return args


def pretrain_args(steps: int | None = None, gripper_probe_weight: float | None = None,
                  ema_momentum: tuple[float, float] | None = None) -> list[str]:
    """The recipe's encoder pre-training arguments with this run's overrides."""
    stage_args = _with_steps(PRETRAIN_ARGS, steps)
    if gripper_probe_weight is not None:
        stage_args = _with_value(stage_args, "--gripper-probe-weight", gripper_probe_weight)
    if ema_momentum is not None:
        stage_args = _with_value(stage_args, "--ema-start", ema_momentum[0])
        stage_args = _with_value(stage_args, "--ema-end", ema_momentum[1])
    return stage_args


def predictor_args(steps: int | None = None, interaction_repeats: int | None = None) -> list[str]:
    """The recipe's predictor post-training arguments with this run's overrides."""
    stage_args = _with_steps(PREDICTOR_ARGS, steps)
    if interaction_repeats is not None:
        stage_args = _with_value(stage_args, "--interaction-repeats", interaction_repeats)
    return stage_args


def pretrain(work: Path, encoder_preset: str = ENCODER_PRESET, steps: int | None = None,
             gripper_probe_weight: float | None = None, ema_momentum: tuple[float, float] | None = None) -> Path:
    from vjepa_ac.training import pretrain_encoder

    out = work / "encoder"
    stage_args = pretrain_args(steps, gripper_probe_weight, ema_momentum)
    argv = ["--data", str(work / "episodes"), "--encoder-preset", encoder_preset, "--out", str(out), *stage_args]
    return _run_stage(pretrain_encoder.main, argv, out, _steps(stage_args), "encoder pre-training")


def train_predictor(work: Path, encoder_checkpoint: Path, steps: int | None = None,
                    predictor_preset: str = PREDICTOR_PRESET, interaction_repeats: int | None = None) -> Path:
    from vjepa_ac.training import train_predictor as trainer_cli

    out = work / "predictor"
    stage_args = predictor_args(steps, interaction_repeats)
    argv = ["--encoder", str(encoder_checkpoint), "--predictor-preset", predictor_preset,
            "--data", str(work / "episodes"), "--token-cache", str(work / "tokens.safetensors"),
            "--out", str(out), *stage_args]
    return _run_stage(trainer_cli.main, argv, out, _steps(stage_args), "predictor post-training")


def readout_args(epochs: int | None = None) -> list[str]:
    """The readout stage's arguments: the recipe's, with an epoch override (smoke tests)."""
    return READOUT_ARGS if epochs is None else _with_value(READOUT_ARGS, "--epochs", epochs)


def train_readout(work: Path, epochs: int | None = None) -> Path:
    """Train the goal-image gripper readout on the collected episodes (skipped when it exists)."""
    from vjepa_ac.models.gripper_readout import GRIPPER_READOUT_FILE
    from vjepa_ac.training import gripper_readout

    out = work / "readout" / GRIPPER_READOUT_FILE
    if not out.is_file():
        argv = ["--episodes", str(work / "episodes"), "--out", str(out), "--json", str(work / "readout" / "scores.json"),
                *readout_args(epochs)]
        if gripper_readout.main(argv) != 0:
            raise SystemExit("gripper readout training failed")
    return out


def package(work: Path, checkpoint: Path, destination: Path, encoder_preset: str = ENCODER_PRESET,
            predictor_preset: str = PREDICTOR_PRESET, encoder_args: list[str] | None = None,
            predictor_stage_args: list[str] | None = None) -> Path:
    """Copy the trained world model (and the gripper readout, when trained) into the package with the facts a
    model card needs."""
    import shutil

    from vjepa_ac.models import load_world_model, save_world_model
    from vjepa_ac.models.gripper_readout import GRIPPER_READOUT_FILE, load_gripper_readout

    world_model = load_world_model(checkpoint)
    collection = json.loads((work / "episodes" / "collection_summary.json").read_text())
    metadata = {
        "name": "vjepa_ac embedded V-JEPA 2-AC (MuJoCo)",
        "encoder_preset": encoder_preset,
        "predictor_preset": predictor_preset,
        "data": collection,
        "pretrain_args": PRETRAIN_ARGS if encoder_args is None else encoder_args,
        "predictor_args": PREDICTOR_ARGS if predictor_stage_args is None else predictor_stage_args,
        "source_checkpoint": str(checkpoint),
    }
    readout = work / "readout" / GRIPPER_READOUT_FILE
    if readout.is_file():
        load_gripper_readout(readout, required=True)  # a torn file fails here, not in the planner
        metadata["gripper_readout"] = GRIPPER_READOUT_FILE
    save_world_model(world_model, destination, metadata=metadata)
    if readout.is_file():
        shutil.copyfile(readout, destination / GRIPPER_READOUT_FILE)
    return destination


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vjepa-ac-train-embedded", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("runs/embedded"), help="data + intermediate outputs")
    p.add_argument("--stages", default="collect,pretrain,predictor,readout,package",
                   help="comma list of: collect, pretrain, predictor, readout, package")
    p.add_argument("--encoder-preset", default=ENCODER_PRESET, help="models encoder preset to pre-train")
    p.add_argument("--predictor-preset", default=PREDICTOR_PRESET, help="models predictor preset to post-train")
    p.add_argument("--explore-episodes", type=int, default=EXPLORE_EPISODES)
    p.add_argument("--mixed-episodes", type=int, default=MIXED_EPISODES)
    p.add_argument("--grasp-play-episodes", type=int, default=GRASP_PLAY_EPISODES)
    p.add_argument("--grasp-lift-episodes", type=int, default=GRASP_LIFT_EPISODES)
    p.add_argument("--collect-workers", type=int, default=1, help="parallel simulator processes for collect")
    p.add_argument("--camera-size", type=int, default=None,
                   help="render size of the collected frames (default: the encoder preset's image size)")
    p.add_argument("--pretrain-steps", type=int, default=None,
                   help="override the recipe's steps (intermediate checkpoints off)")
    p.add_argument("--gripper-probe-weight", type=float, default=None,
                   help="override the recipe's gripper-probe weight in encoder pre-training (0: pure V-JEPA)")
    p.add_argument("--ema-momentum", type=float, nargs=2, default=None, metavar=("START", "END"),
                   help="override the target encoder's EMA momentum ramp (recipe: V-JEPA's 0.998 -> 1.0)")
    p.add_argument("--predictor-steps", type=int, default=None,
                   help="override the recipe's steps (intermediate checkpoints off)")
    p.add_argument("--interaction-repeats", type=int, default=None,
                   help="override: training clips where the cube rises or falls appear this many times")
    p.add_argument("--readout-epochs", type=int, default=None, help="override the gripper readout's epochs")
    p.add_argument("--destination", type=Path, default=DEFAULT_ASSET_DIR,
                   help="where `package` writes the model (default: the package's embedded model)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - {"collect", "pretrain", "predictor", "readout", "package"}
    if unknown:
        raise SystemExit(f"unknown stages: {sorted(unknown)}")
    started = time.perf_counter()
    if args.camera_size is None:  # frames the encoder takes as they are, never rescaled
        from vjepa_ac.models.presets import encoder_preset

        args.camera_size = encoder_preset(args.encoder_preset).image_size
    if "collect" in stages:
        print(json.dumps(collect(args.work / "episodes", explore_episodes=args.explore_episodes,
                                 mixed_episodes=args.mixed_episodes, workers=args.collect_workers,
                                 grasp_play_episodes=args.grasp_play_episodes,
                                 grasp_lift_episodes=args.grasp_lift_episodes, camera_size=args.camera_size)))
    checkpoint = None
    if "pretrain" in stages or "predictor" in stages:
        encoder_checkpoint = pretrain(args.work, args.encoder_preset, args.pretrain_steps, args.gripper_probe_weight,
                                      args.ema_momentum)
        if "predictor" in stages:
            checkpoint = train_predictor(args.work, encoder_checkpoint, args.predictor_steps, args.predictor_preset,
                                         args.interaction_repeats)
    if "readout" in stages:
        print(f"gripper readout: {train_readout(args.work, args.readout_epochs)}")
    if "package" in stages:
        from vjepa_ac.training.training_state import latest_checkpoint

        checkpoint = checkpoint or latest_checkpoint(args.work / "predictor")
        if checkpoint is None:
            raise SystemExit(f"no predictor checkpoint under {args.work / 'predictor'}")
        packaged = package(args.work, checkpoint, args.destination, args.encoder_preset, args.predictor_preset,
                           pretrain_args(args.pretrain_steps, args.gripper_probe_weight, args.ema_momentum),
                           predictor_args(args.predictor_steps, args.interaction_repeats))
        print(f"packaged {packaged}")
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

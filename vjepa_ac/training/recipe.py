"""The recipe of the shipped embedded model (`vjepa-ac-train-embedded`) and the code that runs it.

Stages (each resumable, each skipped when its output exists):
  1. collect   MuJoCo and PyBullet episodes (seeds < 100000) under randomised appearance, through the droid
               camera: planner-like random exploration (with yaw) + expert demonstrations + grasp play
  2. pretrain  small RoPE ViT encoder with the V-JEPA mask-denoising objective
  3. predictor V-JEPA 2-AC post-training on the frozen encoder (teacher forcing + 2-step rollout L1)
  4. readout   the goal-image gripper readout (a small CNN on the same episodes)
  5. package   our safetensors format + training metadata, with the readout next to it
               (model card: docs/embedded_model.md)

`Recipe()` is the v2 recipe (both engines; its model is not the default yet, docs/embedded_model.md);
`Recipe.first_model()` reproduces the shipped model. Smaller steps and episode counts exist for smoke tests.
Each training stage runs its command (`vjepa-ac-pretrain-encoder`, `vjepa-ac-train-predictor`,
`vjepa-ac-train-gripper-readout`) with the stage's fields as flags, so a stage is reproducible by hand.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from vjepa_ac.training.data.collect import EpisodeSpec, check_training_seeds
from vjepa_ac.training.data.exploration import ExplorationConfig

STAGES = ("collect", "pretrain", "predictor", "readout", "package")
DEFAULT_ASSET_DIR = Path(__file__).resolve().parents[1] / "assets" / "embedded_model"


def _flags(stage) -> list[str]:
    """A stage's fields as command-line flags (None: the command's default)."""
    return [item for f in dataclasses.fields(stage) if getattr(stage, f.name) is not None
            for item in ("--" + f.name.replace("_", "-"), str(getattr(stage, f.name)))]


@dataclass(frozen=True)
class CollectStage:
    explore_episodes: int = 400  # per engine
    mixed_episodes: int = 250
    grasp_play_episodes: int = 300
    explore_steps: int = 20
    mixed_steps: int = 40
    grasp_play_steps: int = 16
    first_seed: int = 0
    camera_size: int | None = None  # None: the encoder preset's image size, so frames are never rescaled
    # Planner-like exploration: steps up to the planner's L1 radius, rare gripper toggles, so the model sees the
    # actions CEM will ask it about.
    exploration: ExplorationConfig = ExplorationConfig(max_step=0.075, smoothing=0.5, toggle_probability=0.05,
                                                       yaw_step=0.0)
    # Yaw actions in the exploration, uniform in +-this (rad; 0.2 = the planner's rotation_radius): reach-rotate.
    exploration_yaw_range: float = 0.2
    # One model for both renderers: the same plan is recorded in each engine, on its own seeds.
    engines: tuple[str, ...] = ("mujoco", "pybullet")
    # TaskOptions.appearance ("train": light, colours, backdrop, camera jitter per seed) and .camera ("droid":
    # front left of the robot, where the hand's motion shows along every axis; scene_layout.CAMERAS).
    appearance: str = "train"
    camera: str = "droid"
    # Every n-th episode of each kind keeps the fixed default look that evaluations render by default (0: none);
    # without it the default looks (black MuJoCo sky, white PyBullet sky) lay outside every training look.
    default_look_every: int = 4
    # Starts: True adds protocol v2's (hand 20-35 cm high, 12-25 cm from the cube) to home and near-cube ones.
    away_starts: bool = True

    def exploration_config(self) -> ExplorationConfig:
        """The exploration settings the collection runs with (`exploration` plus the yaw range)."""
        if not self.exploration_yaw_range:
            return self.exploration
        return dataclasses.replace(self.exploration, yaw_range=self.exploration_yaw_range)

    def _look(self, i: int) -> str | None:
        """The i-th episode's appearance when it is not the collection's (None: the collection's)."""
        every = self.default_look_every
        return "default" if every and self.appearance != "default" and i % every == every - 1 else None

    def _start(self, i: int, near_in_v1: bool) -> tuple[bool, bool]:
        """(near the cube, away from it) of the i-th episode of a kind; without away starts, `near_in_v1`."""
        if not self.away_starts:
            return near_in_v1, False
        return i % 3 == 0, i % 3 == 1  # near, away, home in turn

    def plan(self) -> list[EpisodeSpec]:
        """What to record, episode by episode, engine after engine, each engine on its own seeds.

        Exploration and demonstrations start at home, just above the cube (where grasps happen) and, with
        `away_starts`, where protocol v2 starts; half the demonstrations grasp with a single close-and-lift
        action, the grasp a one-step planner finds. Grasp play (all near the cube) shows what every gripper
        change does there.
        """
        plan, first = [], self.first_seed
        for engine in self.engines:
            for i, s in enumerate(check_training_seeds(first, self.explore_episodes)):
                near, away = self._start(i, i % 2 == 1)
                plan.append(EpisodeSpec(s, "explore", self.explore_steps, near, False, away, engine, self._look(i)))
            first += self.explore_episodes
            for i, s in enumerate(check_training_seeds(first, self.mixed_episodes)):
                near, away = self._start(i, i % 5 < 3)
                plan.append(EpisodeSpec(s, "mixed", self.mixed_steps, near, i % 2 == 0, away, engine, self._look(i)))
            first += self.mixed_episodes
            if self.grasp_play_episodes:
                plan += [EpisodeSpec(s, "grasp_play", self.grasp_play_steps, True, False, False, engine, self._look(i))
                         for i, s in enumerate(check_training_seeds(first, self.grasp_play_episodes))]
                first += self.grasp_play_episodes
        return plan

    @classmethod
    def first_model(cls) -> CollectStage:
        """The collection of the first embedded model (MuJoCo only, fixed look, default camera, no yaw)."""
        return cls(exploration_yaw_range=0.0, engines=("mujoco",), appearance="default", camera="default",
                   away_starts=False, default_look_every=0)


@dataclass(frozen=True)
class PretrainStage:
    """vjepa-ac-pretrain-encoder settings (None: the command's default)."""

    frames_per_clip: int = 4
    stride: int = 1
    steps: int = 2400  # twice the first model's 1200: twice the frames, two renderers, randomised looks
    batch_size: int = 32
    collapse_every: int = 100
    log_every: int = 20
    checkpoint_every: int = 200
    seed: int = 0
    ema_start: float | None = None  # V-JEPA's 0.998 -> 1.0
    ema_end: float | None = None

    def flags(self) -> list[str]:
        return _flags(self)


@dataclass(frozen=True)
class PredictorStage:
    """vjepa-ac-train-predictor settings. For the first model the held-out loss was still falling at 6000 steps
    (0.148 at 2000 -> 0.103) and reach success rose with it (docs/embedded_model.md); this data is twice as large."""

    frames_per_clip: int = 4
    stride: int = 1
    steps: int = 12000
    batch_size: int = 32
    lr: float = 1e-3
    rollout_steps: int = 2
    val_fraction: float = 0.05
    eval_every: int = 0
    log_every: int = 20
    checkpoint_every: int = 1000
    seed: int = 0

    def flags(self) -> list[str]:
        return _flags(self)


@dataclass(frozen=True)
class ReadoutStage:
    """vjepa-ac-train-gripper-readout settings. 12 epochs with 4 px shifts (held-out balanced accuracy 0.94, no
    sub-goal image of 60 unseen scenes read wrongly). Without shifts the readout fit its training frames (0.96)
    far better than held-out ones (0.78) and read 3 of 60 open-hand images as closed; 8 epochs with shifts
    left 6 of 60 placed-cube images undecided (docs/embedded_model.md)."""

    epochs: int = 12
    max_shift: int = 4
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    val_fraction: float = 0.1
    seed: int = 0

    def flags(self) -> list[str]:
        return _flags(self)


@dataclass(frozen=True)
class Recipe:
    encoder_preset: str = "vit_embedded"
    predictor_preset: str = "ac_embedded"
    collect: CollectStage = field(default_factory=CollectStage)
    pretrain: PretrainStage = field(default_factory=PretrainStage)
    predictor: PredictorStage = field(default_factory=PredictorStage)
    readout: ReadoutStage = field(default_factory=ReadoutStage)

    @classmethod
    def first_model(cls) -> Recipe:
        """The recipe of the shipped (first) embedded model: MuJoCo only, 1200 encoder and 6000 predictor steps."""
        return cls(collect=CollectStage.first_model(), pretrain=PretrainStage(steps=1200),
                   predictor=PredictorStage(steps=6000))

    @property
    def camera_size(self) -> int:
        if self.collect.camera_size is not None:
            return self.collect.camera_size
        from vjepa_ac.models.presets import encoder_preset

        return encoder_preset(self.encoder_preset).image_size


def with_steps(stage, steps: int | None):
    """`stage` run to `steps` with intermediate checkpoints and evaluations off (smoke tests); None: unchanged."""
    if steps is None:
        return stage
    off = {name: 0 for name in ("checkpoint_every", "eval_every") if hasattr(stage, name)}
    return dataclasses.replace(stage, steps=steps, **off)


# -- stages ---------------------------------------------------------------------------------------------
def _collect_shard(out: Path, engine: str, camera_size: int, plan: list[EpisodeSpec], stage: CollectStage,
                   shard: int = 0) -> int:
    from vjepa_ac.training.data.collect import collect_episodes

    records = collect_episodes(out, engine, camera_size, plan, stage.exploration_config(),
                               desc=f"collect {engine} (worker {shard})", position=shard,
                               appearance=stage.appearance, camera=stage.camera)
    return sum(r["steps"] + 1 for r in records)


def collect(out: Path, stage: CollectStage, camera_size: int, workers: int = 1) -> dict:
    """Record the training episodes; per engine, `workers` processes each take every workers-th episode."""
    import concurrent.futures
    import multiprocessing

    out.mkdir(parents=True, exist_ok=True)
    plan = stage.plan()
    started = time.perf_counter()
    shards = max(1, workers)
    per_engine = {engine: [p for p in plan if p.engine == engine] for engine in stage.engines}
    jobs = [(engine, episodes[i::shards]) for engine, episodes in per_engine.items() for i in range(shards)]
    if workers <= 1:
        frames_total = sum(_collect_shard(out, engine, camera_size, shard, stage) for engine, shard in jobs)
    else:
        context = multiprocessing.get_context("spawn")  # no forked OpenGL/MuJoCo state
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            frames_total = sum(pool.map(_collect_shard, [out] * len(jobs), [e for e, _ in jobs],
                                        [camera_size] * len(jobs), [s for _, s in jobs], [stage] * len(jobs),
                                        [i % workers for i in range(len(jobs))]))
    summary = {"episodes": len(plan), "engines": list(stage.engines), "appearance": stage.appearance,
               "camera": stage.camera, "explore_episodes": stage.explore_episodes,
               "mixed_episodes": stage.mixed_episodes, "grasp_play_episodes": stage.grasp_play_episodes,
               "near_cube_starts": sum(p.start_near_cube for p in plan),
               "away_starts": sum(p.start_away_from_cube for p in plan),
               "close_while_lifting": sum(p.close_while_lifting for p in plan),
               "default_look_episodes": sum(p.appearance == "default" for p in plan),
               "exploration": dataclasses.asdict(stage.exploration_config()),
               "seeds": [stage.first_seed, stage.first_seed + len(plan) - 1],
               "camera_size": camera_size, "workers": workers,
               "new_frames": frames_total, "seconds": round(time.perf_counter() - started, 1)}
    # A resumed run adds to the summary of the data already there (its frames and time), so the packaged model's
    # record describes the whole dataset, not the last invocation.
    path = out / "collection_summary.json"
    run_fields = ("new_frames", "seconds", "workers")  # what differs between invocations on the same data
    if path.is_file():
        earlier = json.loads(path.read_text())
        same_data = [{k: v for k, v in d.items() if k not in run_fields} for d in (earlier, summary)]
        if same_data[0] == same_data[1]:
            if not frames_total:  # nothing was missing: the record stands as it was
                return earlier
            summary["new_frames"] += earlier["new_frames"]
            summary["seconds"] = round(summary["seconds"] + earlier["seconds"], 1)
    path.write_text(json.dumps(summary, indent=1))
    return summary


def _run_stage(main, argv: list[str], out: Path, steps: int, what: str) -> Path:
    """Run a training command to `steps`, resuming an interrupted run; returns its final checkpoint."""
    from vjepa_ac.training.loop import latest_checkpoint

    latest = latest_checkpoint(out)
    if latest is None or latest.name != f"step_{steps:08d}":
        if main(argv + (["--resume"] if latest is not None else [])) != 0:
            raise SystemExit(f"{what} failed")
        latest = latest_checkpoint(out)
    return latest


def pretrain(work: Path, recipe: Recipe) -> Path:
    from vjepa_ac.cli import pretrain_encoder

    out = work / "encoder"
    argv = ["--data", str(work / "episodes"), "--encoder-preset", recipe.encoder_preset, "--out", str(out),
            *recipe.pretrain.flags()]
    return _run_stage(pretrain_encoder.main, argv, out, recipe.pretrain.steps, "encoder pre-training")


def train_predictor(work: Path, recipe: Recipe, encoder_checkpoint: Path) -> Path:
    from vjepa_ac.cli import train_predictor as trainer_cli

    out = work / "predictor"
    argv = ["--encoder", str(encoder_checkpoint), "--predictor-preset", recipe.predictor_preset,
            "--data", str(work / "episodes"), "--token-cache", str(work / "tokens.safetensors"),
            "--out", str(out), *recipe.predictor.flags()]
    return _run_stage(trainer_cli.main, argv, out, recipe.predictor.steps, "predictor post-training")


def train_readout(work: Path, stage: ReadoutStage) -> Path:
    """Train the goal-image gripper readout on the collected episodes (skipped when it exists)."""
    from vjepa_ac.cli import train_gripper_readout
    from vjepa_ac.models.gripper_readout import GRIPPER_READOUT_FILE

    out = work / "readout" / GRIPPER_READOUT_FILE
    if not out.is_file():
        argv = ["--episodes", str(work / "episodes"), "--out", str(out), "--json", str(work / "readout" / "scores.json"),
                *stage.flags()]
        if train_gripper_readout.main(argv) != 0:
            raise SystemExit("gripper readout training failed")
    return out


def _portable_paths(value, work: Path):
    """`value` (parsed JSON) with every absolute path made relative to the (absolute) work directory, else its
    name."""
    if isinstance(value, dict):
        return {k: _portable_paths(v, work) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable_paths(v, work) for v in value]
    if isinstance(value, str) and value.startswith("/") and len(Path(value).parts) > 2:
        path = Path(value)
        return str(path.relative_to(work)) if path.is_relative_to(work) else path.name
    return value


def package(work: Path, checkpoint: Path, destination: Path, recipe: Recipe) -> Path:
    """Copy the trained world model (and the gripper readout, when trained) into the package with the facts a
    model card needs."""
    import shutil

    from vjepa_ac.models import load_world_model, save_world_model
    from vjepa_ac.models.gripper_readout import GRIPPER_READOUT_FILE, load_gripper_readout

    world_model = load_world_model(checkpoint)
    collection = json.loads((work / "episodes" / "collection_summary.json").read_text())
    metadata = {
        "name": f"vjepa_ac embedded V-JEPA 2-AC ({' + '.join(recipe.collect.engines)})",
        "camera": recipe.collect.camera,  # the scene camera it was trained on (TaskOptions.camera)
        "encoder_preset": recipe.encoder_preset,
        "predictor_preset": recipe.predictor_preset,
        "data": collection,
        "pretrain_args": recipe.pretrain.flags(),
        "predictor_args": recipe.predictor.flags(),
        "source_checkpoint": str(checkpoint),
    }
    readout = work / "readout" / GRIPPER_READOUT_FILE
    if readout.is_file():
        load_gripper_readout(readout, required=True)  # a torn file fails here, not in the planner
        metadata["gripper_readout"] = GRIPPER_READOUT_FILE
    # Shipped files name no path of the machine that trained them (the inherited metadata holds such paths too).
    save_world_model(world_model, destination, metadata=_portable_paths({**world_model.metadata, **metadata},
                                                                           work.resolve()))  # --work may be relative
    if readout.is_file():
        shutil.copyfile(readout, destination / GRIPPER_READOUT_FILE)
    return destination


def run(recipe: Recipe, work: Path, stages=STAGES, destination: Path = DEFAULT_ASSET_DIR,
        collect_workers: int = 1) -> None:
    """Run `stages` of `recipe` in `work` (data + intermediate outputs); finished stages are skipped."""
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages: {sorted(unknown)}")
    if "collect" in stages:
        print(json.dumps(collect(work / "episodes", recipe.collect, recipe.camera_size, collect_workers)))
    checkpoint = None
    if "pretrain" in stages or "predictor" in stages:
        encoder_checkpoint = pretrain(work, recipe)
        if "predictor" in stages:
            checkpoint = train_predictor(work, recipe, encoder_checkpoint)
    if "readout" in stages:
        print(f"gripper readout: {train_readout(work, recipe.readout)}")
    if "package" in stages:
        from vjepa_ac.training.loop import latest_checkpoint

        checkpoint = checkpoint or latest_checkpoint(work / "predictor")
        if checkpoint is None:
            raise SystemExit(f"no predictor checkpoint under {work / 'predictor'}")
        print(f"packaged {package(work, checkpoint, destination, recipe)}")

"""`vjepa-ac-train-embedded`: the one command that trains an embedded model (collection, encoder, predictor,
gripper readout, package).

Stages (each resumable, each skipped when its output exists): collect, pretrain, predictor, readout, package
(`vjepa_ac.training.recipe`). `--recipe v2` (default): both engines, randomised appearance, the droid camera;
`--recipe first`: the shipped model's recipe. The size flags exist for smoke tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from vjepa_ac.training.recipe import DEFAULT_ASSET_DIR, STAGES, Recipe, run, with_steps

RECIPES = {"v2": Recipe, "first": Recipe.first_model}


def build_parser() -> argparse.ArgumentParser:
    recipe = Recipe()
    p = argparse.ArgumentParser(prog="vjepa-ac-train-embedded", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("runs/embedded"), help="data + intermediate outputs")
    p.add_argument("--stages", default=",".join(STAGES), help=f"comma list of: {', '.join(STAGES)}")
    p.add_argument("--recipe", choices=tuple(RECIPES), default="v2",
                   help="v2: MuJoCo + PyBullet, train appearance, droid camera; first: the shipped model's")
    p.add_argument("--encoder-preset", default=recipe.encoder_preset, help="models encoder preset to pre-train")
    p.add_argument("--predictor-preset", default=recipe.predictor_preset, help="models predictor preset to post-train")
    p.add_argument("--explore-episodes", type=int, default=None, help=f"per engine (recipe: {recipe.collect.explore_episodes})")
    p.add_argument("--mixed-episodes", type=int, default=None, help=f"(recipe: {recipe.collect.mixed_episodes})")
    p.add_argument("--grasp-play-episodes", type=int, default=None,
                   help=f"(recipe: {recipe.collect.grasp_play_episodes})")
    p.add_argument("--collect-workers", type=int, default=1, help="parallel simulator processes for collect")
    p.add_argument("--camera-size", type=int, default=None,
                   help="render size of the collected frames (default: the encoder preset's image size)")
    p.add_argument("--pretrain-steps", type=int, default=None,
                   help="override the recipe's steps (intermediate checkpoints off)")
    p.add_argument("--ema-momentum", type=float, nargs=2, default=None, metavar=("START", "END"),
                   help="override the target encoder's EMA momentum ramp (recipe: V-JEPA's 0.998 -> 1.0)")
    p.add_argument("--predictor-steps", type=int, default=None,
                   help="override the recipe's steps (intermediate checkpoints off)")
    p.add_argument("--readout-epochs", type=int, default=None, help="override the gripper readout's epochs")
    p.add_argument("--destination", type=Path, default=None,
                   help="where `package` writes the model (default: --recipe first: the package's embedded model; "
                        "v2: WORK/package, so the shipped model is not replaced)")
    return p


def recipe_from_args(args) -> Recipe:
    """The shipped recipe with this run's overrides."""
    recipe = dataclasses.replace(RECIPES[args.recipe](), encoder_preset=args.encoder_preset,
                                 predictor_preset=args.predictor_preset)
    pretrain = with_steps(recipe.pretrain, args.pretrain_steps)
    if args.ema_momentum is not None:
        pretrain = dataclasses.replace(pretrain, ema_start=args.ema_momentum[0], ema_end=args.ema_momentum[1])
    readout = recipe.readout if args.readout_epochs is None else dataclasses.replace(recipe.readout,
                                                                                      epochs=args.readout_epochs)
    sizes = {"explore_episodes": args.explore_episodes, "mixed_episodes": args.mixed_episodes,
             "grasp_play_episodes": args.grasp_play_episodes}
    collect = dataclasses.replace(recipe.collect, camera_size=args.camera_size,
                                  **{k: v for k, v in sizes.items() if v is not None})
    return dataclasses.replace(recipe, collect=collect, pretrain=pretrain, readout=readout,
                               predictor=with_steps(recipe.predictor, args.predictor_steps))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise SystemExit(f"unknown stages: {sorted(unknown)}")
    started = time.perf_counter()
    destination = args.destination or (DEFAULT_ASSET_DIR if args.recipe == "first" else args.work / "package")
    run(recipe_from_args(args), args.work, stages, destination, args.collect_workers)
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

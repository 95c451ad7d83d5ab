"""Check this implementation against tensors the reference V-JEPA 2 code produced (parity fixtures).

    vjepa-ac-parity FIXTURE.pt [FIXTURE.pt | DIR …] [--tolerance 1e-5] [--json]

Each fixture is checked by its `kind`: `encoder` and `ac_predictor` files are rebuilt from the
reference constructor arguments in their `config` and run on their stored inputs (the predictor
also through the key/value-cached path); `pose_and_step` files check the pose math and one full
world-model step (with the predictor fixture they name); a file in the official training-checkpoint
layout (`encoder` + `predictor` dicts) goes through `load_world_model` and is run on the inputs of
the encoder/predictor fixtures beside it whose weights it holds. A directory means every `*.pt` in
it; no argument means $VJEPA_AC_FIXTURES or `shared/fixtures/vjepa2` beside the repository.
Prints the max abs error per output; exit status 1 if any exceeds the tolerance or a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from vjepa_ac.models.ac_predictor import ActionConditionedPredictor
from vjepa_ac.models.checkpoints import (
    CheckpointError,
    load_state_dict_strict,
    load_world_model,
    safe_torch_load,
)
from vjepa_ac.models.presets import EncoderConfig, PredictorConfig
from vjepa_ac.models.vision_encoder import VisionEncoder
from vjepa_ac.models.world_model import predict_next_step
from vjepa_ac.poses import integrate_actions, poses_to_actions

__all__ = ["CheckResult", "default_fixture_dir", "check_fixture", "main", "TOLERANCE"]

TOLERANCE = 1e-5
FIXTURE_ENV = "VJEPA_AC_FIXTURES"


@dataclass
class CheckResult:
    fixture: str
    output: str
    max_abs_error: float | None
    passed: bool
    detail: str = ""


def default_fixture_dir() -> Path:
    """$VJEPA_AC_FIXTURES, else `shared/fixtures/vjepa2` beside the repository (CI keeps shared/ beside
    the clone), else beside the working directory."""
    if os.environ.get(FIXTURE_ENV):
        return Path(os.environ[FIXTURE_ENV])
    relative = Path("shared") / "fixtures" / "vjepa2"
    for base in (Path(__file__).resolve().parents[2].parent, Path.cwd().parent, Path.cwd()):
        if (base / relative).is_dir():
            return base / relative
    return Path(__file__).resolve().parents[2].parent / relative


def _max_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    if tuple(actual.shape) != tuple(expected.shape):
        raise ValueError(f"shape {tuple(actual.shape)} differs from the reference {tuple(expected.shape)}")
    return (actual.detach().double() - expected.double()).abs().max().item()


def _result(fixture: str, output: str, actual: torch.Tensor, expected: torch.Tensor, tolerance: float) -> CheckResult:
    try:
        error = _max_error(actual, expected)
    except ValueError as problem:
        return CheckResult(fixture, output, None, False, str(problem))
    return CheckResult(fixture, output, error, error <= tolerance)


def build_encoder(fixture: dict) -> VisionEncoder:
    encoder = VisionEncoder(EncoderConfig.from_reference(fixture["config"]))
    load_state_dict_strict(encoder, fixture["state_dict"], "fixture encoder state dict", "encoder")
    return encoder.eval()


def build_predictor(fixture: dict) -> ActionConditionedPredictor:
    predictor = ActionConditionedPredictor(PredictorConfig.from_reference(fixture["config"]))
    load_state_dict_strict(predictor, fixture["state_dict"], "fixture predictor state dict", "predictor")
    return predictor.eval()


def _run_encoder(encoder: VisionEncoder, fixture: dict) -> torch.Tensor:
    return encoder(fixture["inputs"]["clip"])


def _predictor_args(fixture: dict) -> tuple:
    inputs = fixture["inputs"]
    return inputs["x"], inputs["actions"], inputs["states"], inputs.get("extrinsics")


def _run_predictor_cached(predictor: ActionConditionedPredictor, fixture: dict) -> torch.Tensor:
    tokens, actions, states, extrinsics = _predictor_args(fixture)
    per_frame = predictor.config.tokens_per_frame
    cache, outputs = None, []
    for step in range(actions.shape[1]):
        frame = tokens[:, step * per_frame : (step + 1) * per_frame]
        step_extrinsics = None if extrinsics is None else extrinsics[:, step]
        output, cache = predictor.forward_step(frame, actions[:, step], states[:, step], cache, step_extrinsics)
        outputs.append(output)
    return torch.cat(outputs, dim=1)


def _check_encoder(name: str, fixture: dict, tolerance: float) -> list[CheckResult]:
    encoder = build_encoder(fixture)
    return [_result(name, "tokens", _run_encoder(encoder, fixture), fixture["outputs"]["tokens"], tolerance)]


def _check_predictor(name: str, fixture: dict, tolerance: float) -> list[CheckResult]:
    predictor = build_predictor(fixture)
    expected = fixture["outputs"]["pred"]
    return [
        _result(name, "pred", predictor(*_predictor_args(fixture)), expected, tolerance),
        _result(name, "pred (kv-cached steps)", _run_predictor_cached(predictor, fixture), expected, tolerance),
    ]


def _check_pose_and_step(name: str, fixture: dict, directory: Path, tolerance: float) -> list[CheckResult]:
    results = []
    pose = fixture.get("compute_new_pose")
    if pose is not None:
        new = integrate_actions(pose["poses"], pose["actions"])
        results.append(_result(name, "compute_new_pose", new, pose["new_poses"], tolerance))
    diff = fixture.get("poses_to_diff")
    if diff is not None:
        results.append(_result(name, "poses_to_diff", poses_to_actions(diff["start"], diff["end"]), diff["diff"], tolerance))
    step = fixture.get("world_model_step")
    if step is not None:
        predictor_file = directory / str(step["predictor_fixture"])
        if not predictor_file.is_file():
            return results + [CheckResult(name, "world_model_step", None, False, f"missing {predictor_file}")]
        predictor = build_predictor(safe_torch_load(predictor_file))
        next_rep, next_pose = predict_next_step(predictor, step["reps"], step["actions"], step["poses"])
        results.append(_result(name, "world_model_step next_rep", next_rep, step["next_rep"], tolerance))
        results.append(_result(name, "world_model_step next_pose", next_pose, step["next_pose"], tolerance))
    return results


def _same_weights(module: torch.nn.Module, state_dict: dict) -> bool:
    own = module.state_dict()
    return set(own) == set(state_dict) and all(
        own[k].shape == state_dict[k].shape and torch.equal(own[k].to(state_dict[k].dtype), state_dict[k]) for k in own
    )


def _check_official_layout(name: str, path: Path, tolerance: float) -> list[CheckResult]:
    world_model = load_world_model(path)
    results = []
    for sibling in sorted(path.parent.glob("*.pt")):
        if sibling == path:
            continue
        try:
            fixture = safe_torch_load(sibling)
        except CheckpointError:
            continue
        if not isinstance(fixture, dict):
            continue
        kind = fixture.get("kind")
        label = f"via loader, inputs of {sibling.name}"
        if kind == "encoder" and _same_weights(world_model.encoder, fixture["state_dict"]):
            actual = _run_encoder(world_model.encoder, fixture)
            results.append(_result(name, f"tokens ({label})", actual, fixture["outputs"]["tokens"], tolerance))
        elif kind == "ac_predictor" and _same_weights(world_model.predictor, fixture["state_dict"]):
            actual = world_model.predictor(*_predictor_args(fixture))
            results.append(_result(name, f"pred ({label})", actual, fixture["outputs"]["pred"], tolerance))
    if not results:
        results.append(
            CheckResult(name, "load_world_model", None, True, "loaded; no sibling fixture with the same weights to run")
        )
    return results


@torch.no_grad()
def check_fixture(path: str | os.PathLike, tolerance: float = TOLERANCE) -> list[CheckResult]:
    """All checks one fixture file supports; failures to load/run become failed results."""
    path = Path(path)
    name = path.name
    try:
        fixture = safe_torch_load(path)
        if not isinstance(fixture, dict):
            raise ValueError(f"holds a {type(fixture).__name__}, not a fixture dict")
        kind = fixture.get("kind")
        if kind == "encoder":
            return _check_encoder(name, fixture, tolerance)
        if kind == "ac_predictor":
            return _check_predictor(name, fixture, tolerance)
        if kind == "pose_and_step":
            return _check_pose_and_step(name, fixture, path.parent, tolerance)
        if kind is None and "encoder" in fixture and "predictor" in fixture:
            return _check_official_layout(name, path, tolerance)
        raise ValueError(f"unknown fixture kind {kind!r}")
    except (CheckpointError, ValueError, KeyError, TypeError, RuntimeError) as error:
        return [CheckResult(name, "(load/run)", None, False, f"{type(error).__name__}: {error}")]


def _expand(paths: list[str]) -> list[Path]:
    if not paths:
        paths = [str(default_fixture_dir())]
    files: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files.extend(sorted(entry.glob("*.pt")))
        else:
            files.append(entry)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vjepa-ac-parity", description=__doc__.split("\n\n")[0])
    parser.add_argument("fixtures", nargs="*", help="fixture .pt files or directories (default: the shared fixtures)")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="max abs error allowed (default 1e-5)")
    parser.add_argument("--json", action="store_true", help="print results as JSON lines")
    args = parser.parse_args(argv)
    files = _expand(args.fixtures)
    if not files:
        print("error: no fixture files found", file=sys.stderr)
        return 2
    with torch.no_grad():  # scoped: main() is also called in-process (tests), grad mode must not leak
        results = [result for file in files for result in check_fixture(file, args.tolerance)]
    for result in results:
        if args.json:
            print(json.dumps(asdict(result)))
        else:
            error = "n/a" if result.max_abs_error is None else f"{result.max_abs_error:.3e}"
            status = "ok  " if result.passed else "FAIL"
            detail = f"  ({result.detail})" if result.detail else ""
            print(f"{status} {result.fixture:28s} {result.output:48s} max abs error {error}{detail}")
    failed = [r for r in results if not r.passed]
    print(f"{len(results) - len(failed)}/{len(results)} checks within {args.tolerance:g}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

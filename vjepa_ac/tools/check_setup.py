"""vjepa-ac-check-setup: before a real arm moves, check recorded episodes against a world model.

    vjepa-ac-check-setup --episodes recorded/ [--checkpoint model] [--planner-config config/franka_real.yaml]
                         [--json report.json]

Checks, each with its reasons:
- axes: for steps of the episodes that moved at least --min-shift along x, y or z, the energy of one-step
  actions is swept along that axis (the other action dimensions at their true values); the minimum must
  lie on the side of the true displacement. "wrong sign" (mostly on the other side) means the recorded frame or
  axis directions differ from the model's (another base frame, a mirrored camera); "inconsistent" (mixed) that
  the model does not see the scene well or another axis is wrong (the predictor reads the whole state).
- Euler convention: recorded quaternions (episode_recorder stores them) against the 7-D states, read as
  "xyz" extrinsic radians and as the usual mistakes ("XYZ" intrinsic, degrees); without quaternions,
  angles beyond 2 pi mean degrees.
- gripper: closedness must lie in 0..1.
- crop and resize: the camera image, the crop, the stored size and the model's input size; frames
  stored smaller than the model's input are upscaled, a crop different from the planner's is a mismatch.
Verdict GO only without a reason for NO-GO. Exit status 0 GO, 1 NO-GO, 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["check_axes", "check_euler", "check_images", "check_gripper", "run_checks", "main"]

AXES = ("x", "y", "z")
# Conventions a state's angles may have been written in, as (scipy sequence, degrees?).
CONVENTIONS = {"xyz radians (extrinsic)": ("xyz", False), "XYZ radians (intrinsic)": ("XYZ", False),
               "xyz degrees": ("xyz", True), "XYZ degrees": ("XYZ", True), "zyx radians": ("zyx", False),
               "ZYX radians": ("ZYX", False)}
EXPECTED_CONVENTION = "xyz radians (extrinsic)"
MATCH_DEG = 1.0  # median angle between two rotations below which they are the same


def _load(paths, image_size: int, max_episodes: int):
    """[(name, frames resized to the model, states, orientations or None, metadata or None)]."""
    from vjepa_ac.training.data.episodes import list_episode_files, load_episodes
    from vjepa_ac.training.data.recording import read_metadata

    files = []
    for path in paths:
        path = Path(path)
        files.extend(list_episode_files(path) if path.is_dir() else [path])
    if not files:
        raise ValueError(f"no episode files in {', '.join(map(str, paths))}")
    episodes = []
    for file in files[:max_episodes]:
        trajectory = load_episodes(file, image_size)[0]
        with np.load(file, allow_pickle=False) as data:
            orientations = data["orientations_xyzw"] if "orientations_xyzw" in data.files else None
            stored_size = tuple(data["frames"].shape[1:3]) if "frames" in data.files else None
        episodes.append({"name": file.name, "frames": trajectory.frames, "states": np.asarray(trajectory.states),
                         "orientations": orientations, "metadata": read_metadata(file), "stored_size": stored_size})
    return episodes


def _angle_deg(a, b) -> np.ndarray:
    return np.degrees((a.inv() * b).magnitude())


def check_euler(episodes) -> dict:
    from scipy.spatial.transform import Rotation

    result = {"expected": EXPECTED_CONVENTION, "reasons": [], "warnings": []}
    with_quaternions = [e for e in episodes if e["orientations"] is not None]
    angles = np.concatenate([e["states"][:, 3:6] for e in episodes])
    if with_quaternions:
        truth = Rotation.from_quat(np.concatenate([e["orientations"] for e in with_quaternions]))
        states = np.concatenate([e["states"][:, 3:6] for e in with_quaternions]).astype(np.float64)
        errors = {name: float(np.median(_angle_deg(Rotation.from_euler(seq, states, degrees=deg), truth)))
                  for name, (seq, deg) in CONVENTIONS.items()}
        matching = [name for name, error in errors.items() if error < MATCH_DEG]
        best = EXPECTED_CONVENTION if EXPECTED_CONVENTION in matching else min(errors, key=errors.get)
        result.update({"method": "recorded quaternions", "median_error_deg": {k: round(v, 3) for k, v in errors.items()},
                       "detected": best if errors[best] < MATCH_DEG else "none of the known conventions"})
        if len(matching) > 1:
            result["warnings"].append(f"the recorded orientations vary too little to tell {' from '.join(matching)}; "
                                      "record some wrist rotation to check the convention")
        if errors[EXPECTED_CONVENTION] >= MATCH_DEG:
            result["reasons"].append(
                f"Euler angles are not 'xyz' extrinsic radians: read that way they are "
                f"{errors[EXPECTED_CONVENTION]:.1f} deg (median) from the recorded orientation; they match "
                f"{result['detected']}. Convert with scipy Rotation.from_quat(q).as_euler('xyz')")
    else:
        result["method"] = "angle range (no recorded quaternions)"
        conventions = {(e["metadata"] or {}).get("euler_convention") for e in episodes} - {None}
        if np.abs(angles).max() > 2 * np.pi + 0.01:
            result["detected"] = "degrees"
            result["reasons"].append(f"Euler angles reach {np.abs(angles).max():.1f}: degrees, not radians")
        elif conventions - {"xyz"}:
            result["detected"] = ", ".join(sorted(conventions))
            result["reasons"].append(f"episode metadata says Euler convention {sorted(conventions)}, not 'xyz'")
        else:
            result["detected"] = "unverified"
            result["warnings"].append("no recorded quaternions: 'xyz' vs 'XYZ' cannot be told from the states; "
                                      "record with episode_recorder, which stores them")
    return result


def check_gripper(episodes) -> dict:
    values = np.concatenate([e["states"][:, 6] for e in episodes])
    result = {"min": float(values.min()), "max": float(values.max()), "reasons": []}
    if values.min() < -1e-6 or values.max() > 1 + 1e-6:
        result["reasons"].append(f"gripper closedness spans {values.min():.3f}..{values.max():.3f}; it must be "
                                 "0 (open) .. 1 (closed)")
    return result


def check_images(episodes, model_size: int, planner_crop: str | None) -> dict:
    result = {"model_input": model_size, "episodes": {}, "reasons": [], "warnings": []}
    seen = set()
    for e in episodes:
        meta = e["metadata"] or {}
        stored = e["stored_size"]
        source = meta.get("source_image_size")
        crop = meta.get("image_crop", "center")
        row = {"stored_hw": list(stored), "source_wh": source, "crop": crop}
        result["episodes"][e["name"]] = row
        if min(stored) < model_size and "upscaled" not in seen:
            seen.add("upscaled")
            result["reasons"].append(f"{e['name']}: frames stored at {stored[1]}x{stored[0]} px are upscaled to the "
                                     f"model's {model_size} px; record with image_size {model_size}")
        if source:
            width, height = source
            kept = min(width, height) / max(width, height) if crop == "center" else 1.0
            row["kept_fraction_of_long_side"] = round(kept, 3)
            if min(width, height) < model_size and "small camera" not in seen:
                seen.add("small camera")
                result["reasons"].append(f"{e['name']}: camera images {width}x{height} are smaller than the model's "
                                         f"{model_size} px input")
            if kept < 0.6 and "narrow" not in seen:
                seen.add("narrow")
                result["warnings"].append(f"{e['name']}: the center crop keeps {kept:.0%} of the {width} px side; "
                                          "keep the gripper and the objects in the middle of the image")
        if planner_crop is not None and crop != planner_crop and "crop" not in seen:
            seen.add("crop")
            result["reasons"].append(f"{e['name']}: recorded with image_crop '{crop}', the planner uses "
                                     f"'{planner_crop}': live frames would not look like the training frames")
    if stored and stored[0] != stored[1]:
        result["warnings"].append("frames are not square: training center-crops them")
    return result


def _axis_pairs(episodes, axis: int, min_shift: float, extent: float, max_gap: int, limit: int):
    candidates = []
    for k, e in enumerate(episodes):
        states = e["states"]
        for i in range(len(states)):
            for j in range(i + 1, min(len(states), i + max_gap + 1)):
                d = states[j, :3] - states[i, :3]
                if min_shift <= abs(d[axis]) <= 0.8 * extent:
                    candidates.append((abs(d[axis]), k, i, j))
    candidates.sort(reverse=True)
    chosen, used = [], set()
    for _, k, i, j in candidates:  # the largest moves, one pair per start step
        if (k, i) not in used:
            used.add((k, i))
            chosen.append((k, i, j))
        if len(chosen) == limit:
            break
    return chosen


def check_axes(world_model, episodes, min_shift: float = 0.02, extent: float = 0.1, steps: int = 21,
               max_gap: int = 3, pairs_per_axis: int = 8, min_agreement: float = 0.75) -> dict:
    """Per axis: in how many recorded moves the energy minimum along that axis has the true move's sign."""
    import torch

    from vjepa_ac.planning.cem import rollout_energies
    from vjepa_ac.poses import poses_to_actions

    world_model.eval()
    tokens = {}
    result = {"min_shift_m": min_shift, "extent_m": extent, "reasons": []}
    sweep = np.linspace(-extent, extent, steps)
    for axis, name in enumerate(AXES):
        pairs = _axis_pairs(episodes, axis, min_shift, extent, max_gap, pairs_per_axis)
        rows = []
        for k, i, j in pairs:
            e = episodes[k]
            if k not in tokens:
                with torch.inference_mode():
                    tokens[k] = world_model.encode(e["frames"])
            start = torch.as_tensor(e["states"][i], dtype=torch.float64)
            true = poses_to_actions(start, torch.as_tensor(e["states"][j], dtype=torch.float64)).float()
            actions = true.repeat(steps, 1)
            actions[:, axis] = torch.as_tensor(sweep, dtype=torch.float32)
            with torch.inference_mode():
                energies, _ = rollout_energies(world_model.rollout, tokens[k][i].unsqueeze(0), start.float()[None],
                                               tokens[k][j], actions.unsqueeze(1), None, None)
            best = float(sweep[int(torch.argmin(energies))])
            rows.append({"episode": e["name"], "from": i, "to": j, "true_m": round(float(true[axis]), 4),
                         "argmin_m": round(best, 4), "same_sign": bool(np.sign(best) == np.sign(float(true[axis])))})
        agree = sum(r["same_sign"] for r in rows)
        entry = {"pairs": len(rows), "same_sign": agree, "moves": rows,
                 "median_error_m": round(float(np.median([abs(r["argmin_m"] - r["true_m"]) for r in rows])), 4)
                 if rows else None}
        if len(rows) < 3:
            entry["verdict"] = "not checked"
            result["reasons"].append(f"axis {name}: only {len(rows)} recorded moves of >= {min_shift * 100:.0f} cm "
                                     f"along {name}; record motion along every axis")
        elif agree <= (1 - min_agreement) * len(rows):  # mostly on the other side: this axis is flipped
            entry["verdict"] = "wrong sign"
            result["reasons"].append(
                f"axis {name}: the energy minimum lies against the true move in {len(rows) - agree} of {len(rows)} "
                f"moves: the recorded {name} direction differs from the model's (base frame? mirrored camera?)")
        elif agree < min_agreement * len(rows):  # mixed: the states disagree with the images somewhere
            entry["verdict"] = "inconsistent"
            result["reasons"].append(
                f"axis {name}: the energy minimum lies on the true move's side in only {agree} of {len(rows)} moves: "
                "the model does not see this scene well, or another axis is wrong (the predictor reads the whole "
                "recorded state)")
        else:
            entry["verdict"] = "ok"
        result[name] = entry
    return result


def _planner_crop(path) -> str | None:
    if path is None:
        return None
    import yaml

    with open(path) as f:
        config = yaml.safe_load(f) or {}
    for section in config.values():
        params = (section or {}).get("ros__parameters", {}) if isinstance(section, dict) else {}
        if "image_crop" in params:
            return str(params["image_crop"])
    return "center"  # the planner's default


def run_checks(episode_paths, checkpoint=None, planner_config=None, max_episodes: int = 6,
               min_shift: float = 0.02, extent: float = 0.1, steps: int = 21) -> dict:
    from vjepa_ac.models import load_world_model

    world_model = load_world_model(checkpoint)
    episodes = _load(episode_paths, world_model.image_size, max_episodes)
    report = {"checkpoint": str(checkpoint) if checkpoint else "embedded",
              "episodes": [e["name"] for e in episodes],
              "axes": check_axes(world_model, episodes, min_shift, extent, steps),
              "euler": check_euler(episodes),
              "gripper": check_gripper(episodes),
              "images": check_images(episodes, world_model.image_size, _planner_crop(planner_config))}
    reasons = [r for key in ("axes", "euler", "gripper", "images") for r in report[key]["reasons"]]
    warnings = [w for key in ("euler", "images") for w in report[key].get("warnings", [])]
    report.update({"verdict": "NO-GO" if reasons else "GO", "reasons": reasons, "warnings": warnings})
    return report


def _print(report: dict) -> None:
    axes = report["axes"]
    print(f"checkpoint: {report['checkpoint']}; episodes: {len(report['episodes'])}")
    for name in AXES:
        a = axes[name]
        print(f"axis {name}: {a['verdict']}: minimum on the true side in {a['same_sign']}/{a['pairs']} moves"
              + (f", median error {a['median_error_m'] * 100:.1f} cm" if a["median_error_m"] is not None else ""))
    print(f"Euler: {report['euler']['detected']} ({report['euler']['method']})")
    g = report["gripper"]
    print(f"gripper closedness: {g['min']:.2f}..{g['max']:.2f}")
    first = next(iter(report["images"]["episodes"].values()))
    print(f"images: camera {first['source_wh']} (w, h), crop {first['crop']}, stored {first['stored_hw']}, "
          f"model {report['images']['model_input']} px")
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    for reason in report["reasons"]:
        print(f"NO-GO: {reason}")
    print(report["verdict"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="vjepa-ac-check-setup", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", nargs="+", required=True, help="recorded episode files or directories")
    parser.add_argument("--checkpoint", default=None, help="world model (default: the embedded model)")
    parser.add_argument("--planner-config", default=None, help="planner YAML whose image_crop must match")
    parser.add_argument("--max-episodes", type=int, default=6)
    parser.add_argument("--min-shift", type=float, default=0.02, help="smallest move along an axis checked (m)")
    parser.add_argument("--extent", type=float, default=0.1, help="swept action range along an axis (m)")
    parser.add_argument("--steps", type=int, default=21, help="actions per sweep")
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args(argv)
    try:
        report = run_checks(args.episodes, args.checkpoint, args.planner_config, args.max_episodes, args.min_shift,
                            args.extent, args.steps)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"vjepa-ac-check-setup: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    _print(report)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if report["verdict"] == "GO" else 1


if __name__ == "__main__":
    sys.exit(main())

"""The own-robot path end to end in simulation, measured: record over ROS, check, fine-tune, check, reach.

1. vjepa-ac-record-sim: sim node + expert driver + episode recorder over DDS; the camera renders at
   256 px and the recorder stores 128 px frames (a camera the embedded model was not trained on).
2. vjepa-ac-check-setup on the recordings with the embedded model.
3. vjepa-ac-train-predictor --init-from the embedded model --episodes the recordings (held-out 20 %).
4. vjepa-ac-check-setup with the fine-tuned model.
5. Reach (the evaluation's task and CEM, 800 x 10, anchored energy) with the 256 px camera, with the
   embedded and the fine-tuned model, on development seeds.
Prints and saves a JSON summary (times, peak memory of the fine-tuning process, losses, reach results).

    python bench/own_robot_pipeline.py [--episodes 10] [--steps 6] [--finetune-steps 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run(args: list[str], lines_out: list | None = None) -> tuple[dict, float, float]:
    """(last JSON line of stdout, seconds, peak resident memory of the child in MiB, polled from /proc);
    every JSON line goes to `lines_out` if given."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=err, text=True, cwd=ROOT)
        peak_kib = 0
        while child.poll() is None:
            try:
                status = Path(f"/proc/{child.pid}/status").read_text()
                peak_kib = max(peak_kib, int(status.split("VmHWM:")[1].split()[0]))
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode not in (0, 1):
        raise SystemExit(f"{args[0]} failed:\n{stderr[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if lines_out is not None:
        lines_out.extend(json.loads(line) for line in lines)
    return (json.loads(lines[-1]) if lines else {}), seconds, peak_kib / 1024


def _check(episodes: Path, checkpoint: str | None, out: Path) -> dict:
    args = ["vjepa_ac.tools.check_setup", "--episodes", str(episodes), "--json", str(out)]
    if checkpoint:
        args += ["--checkpoint", checkpoint]
    _run(args)
    report = json.loads(out.read_text())
    return {"verdict": report["verdict"], "reasons": report["reasons"],
            "axes": {a: f"{report['axes'][a]['same_sign']}/{report['axes'][a]['pairs']}" for a in "xyz"},
            "median_axis_error_cm": {a: round(100 * report["axes"][a]["median_error_m"], 2)
                                     for a in "xyz" if report["axes"][a]["median_error_m"] is not None}}


def _reach(checkpoint: str | None, seeds: list[int], camera_size: int) -> list[dict]:
    from vjepa_ac.evaluation import make_task, run_episode
    from vjepa_ac.models import load_world_model
    from vjepa_ac.planning import CEMConfig, CEMPlanner, GoalImageController
    from vjepa_ac.simulation import make_sim

    model = load_world_model(checkpoint)
    controller = GoalImageController(model, CEMPlanner(model, CEMConfig()))  # reach: no gripper readout
    rows = []
    with make_sim("mujoco", image_size=camera_size) as sim:
        for seed in seeds:
            started = time.perf_counter()
            record = run_episode(sim, controller, make_task("reach", protocol="near-cube"), seed)
            rows.append({"seed": seed, "success": record.success, "final_distance_cm":
                         round(100 * record.final_distance_m, 2), "seconds": round(time.perf_counter() - started, 1)})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--steps", type=int, default=6, help="driver actions per episode")
    p.add_argument("--first-seed", type=int, default=90500, help="scene seed of the first episode (training range)")
    p.add_argument("--attempts", type=int, default=5, help="recordings of a scene before giving up on it")
    p.add_argument("--rate-hz", type=float, default=4.0, help="recording rate (the real robot's 4 Hz)")
    p.add_argument("--finetune-steps", type=int, default=200)
    p.add_argument("--reach-seeds", type=int, nargs="+", default=[100000, 100001, 100002])
    p.add_argument("--camera-size", type=int, default=256)
    p.add_argument("--work", type=Path, default=None, help="work directory (default: a temporary one)")
    p.add_argument("--json", type=Path, default=ROOT / "docs/results/bench/own_robot_pipeline.json")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    work = args.work or Path(tempfile.mkdtemp(prefix="own_robot_"))
    episodes = work / "episodes"
    from vjepa_ac.evaluation.provenance import run_provenance

    summary = {"provenance": run_provenance(None), "episodes": args.episodes, "steps_per_episode": args.steps, "rate_hz": args.rate_hz,
               "camera_size": args.camera_size,
               "stored_size": 128}
    attempts = []
    record, seconds, _ = _run(["vjepa_ac.ros.record_sim", "--out", str(episodes), "--episodes", str(args.episodes),
                               "--steps", str(args.steps), "--camera-size", str(args.camera_size), "--image-size",
                               "128", "--first-seed", str(args.first_seed), "--attempts", str(args.attempts),
                               "--rate-hz", str(args.rate_hz)],
                              attempts)
    refusals = [a["message"].split("(the episode")[0] for a in attempts if "saved" in a and not a["saved"]]
    summary["record"] = {**record, "seconds": round(seconds, 1), "attempts": len(refusals) + record["episodes_saved"],
                         "refusals": refusals}
    summary["check_embedded"] = _check(episodes, None, work / "check_embedded.json")
    finetune, seconds, peak_mib = _run(["vjepa_ac.cli.train_predictor", "--init-from",
                                        str(ROOT / "vjepa_ac/assets/embedded_model"), "--episodes", str(episodes),
                                        "--token-cache", str(work / "tokens.cache"), "--frames-per-clip", "4",
                                        "--steps", str(args.finetune_steps), "--batch-size", "16", "--lr", "1e-4",
                                        "--val-fraction", "0.2", "--seed", "100000", "--out", str(work / "finetune"),
                                        "--no-progress"])
    summary["finetune"] = {key: finetune.get(key) for key in ("step", "clips", "clips_per_s", "val_loss_before",
                                                             "val_loss_after", "landscape_before", "landscape_after")}
    summary["finetune"].update({"seconds": round(seconds, 1), "peak_rss_mib": round(peak_mib)})
    checkpoint = finetune["checkpoint"]
    summary["check_finetuned"] = _check(episodes, checkpoint, work / "check_finetuned.json")
    summary["reach_embedded"] = _reach(None, args.reach_seeds, args.camera_size)
    summary["reach_finetuned"] = _reach(checkpoint, args.reach_seeds, args.camera_size)
    summary["work"] = str(work)
    text = json.dumps(summary, indent=2)
    print(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

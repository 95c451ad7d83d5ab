"""Combine `vjepa-ac-eval --json` outputs into a side-by-side success table (one column per policy) with
chosen episode GIFs.

Runs of one configuration are often split over seed ranges (or machines); runs that share task, engine,
protocol, policy and settings are merged, so the table shows one success rate per configuration rather than
per shard. Runs whose provenance differs (code version, uncommitted changes, model or readout file hashes) are
not merged or set side by side unless --allow-mixed-provenance is given, and then the table says so.

    python -m vjepa_ac.evaluation.summary_report runs/eval/*.json --out runs/eval/summary
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from vjepa_ac.evaluation.reports import markdown_table
from vjepa_ac.evaluation.tasks import PROTOCOLS, TASKS, make_task

REQUIRED_KEYS = ("task", "engine", "episodes", "successes", "success_rate", "mean_final_distance_m",
                 "seconds_per_action")
# Settings that differ between shards of one configuration and so do not separate rows.
SHARD_SETTINGS = ("first_seed", "wall_seconds")
PLANNER_COLUMN, IMAGE_ENERGY_COLUMN = "planner", "planner, image energy alone"
COLUMNS = (PLANNER_COLUMN, IMAGE_ENERGY_COLUMN, "blind", "random", "oracle")
COLUMN_NOTES = {
    PLANNER_COLUMN: "CEM on the anchored energy plus the goal-image gripper readout (the default)",
    IMAGE_ENERGY_COLUMN: "the same planner with `--gripper-goal-weight 0` (the paper's image energy decides the "
                         "gripper)",
    "blind": "no camera, no goal images: proprioception and the protocol's layout distribution only",
    "random": "uniform actions within the planner's action bounds",
    "oracle": "greedy oracle: one step ahead on the ground-truth sub-goal poses (the protocol's ceiling)",
}


def load_summary(path: str | Path) -> dict:
    path = Path(path)
    try:
        summary = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable JSON file ({error})") from error
    missing = [k for k in REQUIRED_KEYS if not isinstance(summary, dict) or k not in summary]
    if missing:
        raise ValueError(f"{path}: not a vjepa-ac-eval --json summary (missing {missing})")
    summary["source"] = str(path)
    return summary


def _config_key(summary: dict) -> str:
    settings = {k: v for k, v in (summary.get("settings") or {}).items() if k not in SHARD_SETTINGS}
    return json.dumps([summary["task"], summary["engine"], settings], sort_keys=True)


def provenance_key(summary: dict) -> str | None:
    """What must agree for two runs to be merged or compared: code version (core tree, uncommitted changes) and
    model files; None for a JSON written before provenance was recorded."""
    provenance = summary.get("provenance")
    if not provenance:
        return None
    return json.dumps({k: provenance.get(k) for k in ("core_tree", "dirty", "dirty_paths", "model_files")},
                      sort_keys=True)


def _code_key(summary: dict) -> str | None:
    provenance = summary.get("provenance")
    if not provenance:
        return None
    return json.dumps({k: provenance.get(k) for k in ("core_tree", "dirty", "dirty_paths")}, sort_keys=True)


def check_provenance(summaries: list[dict]) -> list[str]:
    """Problems that make these runs incomparable: missing provenance, several code versions, or planner runs
    with different model files. Empty when they may share one table."""
    problems = [f"{s['source']}: no provenance recorded" for s in summaries if provenance_key(s) is None]
    codes = {_code_key(s) for s in summaries if _code_key(s) is not None}
    if len(codes) > 1:
        problems.append(f"{len(codes)} code versions: " + "; ".join(
            sorted({f"{s['provenance'].get('commit')} (dirty: {s['provenance'].get('dirty')})" for s in summaries
                    if s.get("provenance")})))
    planners = [s for s in summaries
                if s.get("provenance") and (s.get("settings") or {}).get("policy", "planner") == "planner"]
    models = {json.dumps(s["provenance"].get("model_files", {}).get("model"), sort_keys=True) for s in planners}
    if len(models) > 1:
        problems.append(f"planner runs with {len(models)} different sets of model files")
    # Runs with the image energy alone use no readout; those that use one must use the same.
    readouts = {json.dumps(s["provenance"]["model_files"]["readout"], sort_keys=True) for s in planners
                if s["provenance"].get("model_files", {}).get("readout")}
    if len(readouts) > 1:
        problems.append(f"planner runs with {len(readouts)} different gripper readout files")
    return problems


def merge_summaries(summaries: list[dict], allow_mixed_provenance: bool = False) -> list[dict]:
    """One summary per configuration, recomputed from the per-episode records; overlapping seeds are an error,
    and so are shards whose provenance differs (unless `allow_mixed_provenance`)."""
    groups: dict[str, list[dict]] = {}
    for summary in summaries:
        groups.setdefault(_config_key(summary), []).append(summary)
    merged = []
    for group in groups.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        if any("records" not in s for s in group):
            raise ValueError(f"cannot merge {[s['source'] for s in group]}: per-episode records are missing")
        if len({provenance_key(s) for s in group}) > 1 and not allow_mixed_provenance:
            raise ValueError(f"cannot merge {[s['source'] for s in group]}: their provenance differs (code version "
                             "or model files); pass --allow-mixed-provenance to merge them anyway")
        records = [r for s in group for r in s["records"]]
        seeds = [r["seed"] for r in records]
        if len(set(seeds)) != len(seeds):
            duplicated = sorted({s for s in seeds if seeds.count(s) > 1})
            raise ValueError(f"{[s['source'] for s in group]} repeat seeds {duplicated[:10]}: the same "
                             "configuration was evaluated twice on these episodes")
        records.sort(key=lambda r: r["seed"])
        successes = sum(bool(r["success"]) for r in records)
        latencies = [t for r in records for t in r.get("plan_seconds", [])]
        settings = dict(group[0].get("settings") or {})
        settings["first_seed"] = min(seeds)
        settings["wall_seconds"] = sum((s.get("settings") or {}).get("wall_seconds", 0.0) for s in group)
        merged.append({
            "task": group[0]["task"], "engine": group[0]["engine"], "episodes": len(records),
            "successes": successes, "success_rate": successes / len(records),
            "mean_final_distance_m": float(np.mean([r["final_distance_m"] for r in records])),
            "seconds_per_action": float(np.mean(latencies)) if latencies else 0.0,
            "settings": settings, "provenance": group[0].get("provenance"),
            "mixed_provenance": len({provenance_key(s) for s in group}) > 1,
            "records": records, "source": ", ".join(s["source"] for s in group),
        })
    merged.sort(key=lambda s: (list(TASKS).index(s["task"]) if s["task"] in TASKS else len(TASKS), s["task"],
                               s["engine"]))
    return merged


def column_of(summary: dict) -> str:
    """The side-by-side column a run belongs in."""
    settings = summary.get("settings") or {}
    policy = settings.get("policy", "planner")
    if policy != "planner":
        return policy
    weight = (settings.get("planner") or {}).get("gripper_goal_weight", settings.get("gripper_goal_weight"))
    return IMAGE_ENERGY_COLUMN if weight == 0 else PLANNER_COLUMN


def _row_of(summary: dict) -> tuple[str, str, str, str]:
    settings = summary.get("settings") or {}
    appearance = settings.get("appearance", "default")
    engine = summary["engine"] if appearance == "default" else f"{summary['engine']}, {appearance} appearance"
    return (settings.get("protocol", "pre-v2"), summary["task"], engine, settings.get("seed_range", "?"))


def side_by_side(summaries: list[dict]) -> str:
    """Markdown: one row per (protocol, task, engine, seed range), one column per policy; "not run" where no
    run exists. Two configurations for one cell are an error (the column would not say which)."""
    cells: dict[tuple, dict] = {}
    for s in summaries:
        key = (*_row_of(s), column_of(s))
        if key in cells:
            raise ValueError(f"two configurations for one table cell {key}: {cells[key]['source']} and {s['source']}")
        cells[key] = s
    protocol_order = {"v2": 0, "near-cube": 1}
    rows = sorted({key[:4] for key in cells}, key=lambda r: (protocol_order.get(r[0], 2), r[0],
                                                              list(TASKS).index(r[1]) if r[1] in TASKS else 99,
                                                              r[2], r[3]))
    lines = ["| protocol | task | engine | seeds | " + " | ".join(COLUMNS) + " |",
             "| --- | --- | --- | --- | " + " | ".join("---:" for _ in COLUMNS) + " |"]
    for row in rows:
        seeds = next((_seed_range(cells[(*row, c)]) for c in COLUMNS if (*row, c) in cells), "?")
        values = []
        for column in COLUMNS:
            s = cells.get((*row, column))
            values.append("not run" if s is None else
                          f"{100 * s['success_rate']:.0f}% ({s['successes']}/{s['episodes']})")
        lines.append(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} {seeds} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def gif_name(task: str, engine: str, seed: int) -> str:
    """The file name `vjepa-ac-eval --out` gives an episode GIF."""
    return f"{task}_{engine}_seed{seed}.gif"


def choose_gifs(summary: dict, search_dirs: list[Path], per_row: int) -> list[tuple[Path, dict]]:
    """Existing GIFs of this row: first success, first failure, then further episodes, at most `per_row`."""
    found = []
    for record in summary.get("records", []):
        name = gif_name(summary["task"], summary["engine"], record["seed"])
        for directory in search_dirs:
            if (directory / name).is_file():
                found.append((directory / name, record))
                break
    first = [next((f for f in found if f[1]["success"] == verdict), None) for verdict in (True, False)]
    chosen = [f for f in first if f is not None]
    chosen += [f for f in found if f not in chosen]
    return chosen[:per_row]


def _seed_range(summary: dict) -> str:
    seeds = sorted(r["seed"] for r in summary.get("records", []))
    if not seeds:
        first = (summary.get("settings") or {}).get("first_seed")
        return "?" if first is None else f"{first}–{first + summary['episodes'] - 1}"
    if len(seeds) == 1:
        return str(seeds[0])
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds[:6])) + (" …" if len(seeds) > 6 else "")


def _criterion(task: str, protocol: str) -> str:
    if task not in TASKS:
        return "(task unknown to this version)"
    if protocol not in PROTOCOLS:
        return f"(protocol {protocol!r}: written before protocols were recorded; see that run's documentation)"
    return make_task(task, protocol=protocol).criterion


def build_markdown(summaries: list[dict], gifs: list[tuple[Path, dict, dict]], title: str,
                   problems: list[str] | None = None) -> str:
    """gifs: (path relative to the Markdown file, record, summary); problems: provenance warnings to print."""
    lines = [f"# {title}", ""]
    if problems:
        lines += ["**Mixed provenance (merged with --allow-mixed-provenance):**", ""]
        lines += [f"- {p}" for p in problems] + [""]
    lines += [side_by_side(summaries), "Columns: " + "; ".join(f"{c}: {n}" for c, n in COLUMN_NOTES.items()) + ".",
              "", "## Runs", "", markdown_table(summaries), "## Success criteria", ""]
    for protocol, task in dict.fromkeys(((s.get("settings") or {}).get("protocol", "pre-v2"), s["task"])
                                        for s in summaries):
        lines.append(f"- `{task}` ({protocol}): {_criterion(task, protocol)}")
    lines += ["", "## Provenance", ""]
    for provenance in {json.dumps(s.get("provenance"), sort_keys=True): s.get("provenance")
                       for s in summaries}.values():
        if not provenance:
            lines.append("- (runs without recorded provenance)")
            continue
        files = {**provenance.get("model_files", {}).get("model", {}),
                 **provenance.get("model_files", {}).get("readout", {})}
        lines.append(f"- commit {provenance.get('commit')}, core tree {str(provenance.get('core_tree'))[:16]}, "
                     f"uncommitted changes: {provenance.get('dirty_paths') or 'none'}"
                     + ("; files: " + ", ".join(f"`{k}` sha256 {v[:16]}…" for k, v in files.items()) if files else ""))
    lines += ["", "## Settings", "", "| task | protocol | policy | engine | checkpoint | CEM samples × iterations | "
              "horizon | gripper goal weight | camera (px) | budgets | seeds | sources |",
              "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | --- | --- | --- |"]
    for s in summaries:
        st = s.get("settings") or {}
        planner = st.get("planner") or {}
        budgets = st.get("budgets") or "task default"
        cem = (f"{planner.get('samples', st.get('samples', '?'))} × {planner.get('iterations', st.get('iterations', '?'))}"
               if st.get("policy", "planner") == "planner" else "–")
        lines.append(f"| {s['task']} | {st.get('protocol', 'pre-v2')} | {column_of(s)} | {s['engine']} | "
                     f"{st.get('checkpoint') or '–'} | {cem} | {planner.get('horizon', st.get('horizon', '–'))} | "
                     f"{planner.get('gripper_goal_weight', st.get('gripper_goal_weight', '–'))} | "
                     f"{st.get('camera_size', '?')} | {budgets} | {_seed_range(s)} | {s['source']} |")
    if gifs:
        lines += ["", "## Episodes", "", "Left: camera; right: current sub-goal image; below: CEM energy.", ""]
        for path, record, summary in gifs:
            verdict = "success" if record["success"] else "failure"
            caption = (f"{summary['task']} / {summary['engine']}, seed {record['seed']}: {verdict}, final "
                       f"distance {record['final_distance_m']:.3f} m")
            lines += [f"**{caption}**", "", f"![{caption}]({path.as_posix()})", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(json_paths: list[Path], out: Path, gif_dirs: list[Path] | None = None, gifs_per_row: int = 2,
                 explicit_gifs: list[Path] | None = None, title: str = "Simulated evaluation",
                 allow_mixed_provenance: bool = False) -> Path:
    """Write `out/summary.md` (+ `out/gifs/`); returns the Markdown path.

    Raises ValueError when the runs' provenance differs (see `check_provenance`) unless allowed; allowed
    differences are listed at the top of the report.
    """
    summaries = merge_summaries([load_summary(p) for p in json_paths], allow_mixed_provenance)
    problems = check_provenance(summaries)
    if problems and not allow_mixed_provenance:
        raise ValueError("these runs' provenance differs or is missing, so they are not one table: "
                         + "; ".join(problems) + " (pass --allow-mixed-provenance to show them anyway, marked)")
    out.mkdir(parents=True, exist_ok=True)
    picked: list[tuple[Path, dict, dict]] = []
    if explicit_gifs:
        by_name = {gif_name(s["task"], s["engine"], r["seed"]): (r, s) for s in summaries
                   for r in s.get("records", [])}
        for path in explicit_gifs:
            if not path.is_file():
                raise FileNotFoundError(f"--gif {path} does not exist")
            if path.name not in by_name:
                raise ValueError(f"--gif {path}: no episode of the given runs is called {path.name}")
            picked.append((path, *by_name[path.name]))
    elif gifs_per_row > 0:
        for s in summaries:
            dirs = [Path(src.strip()).parent for src in s["source"].split(",")] + list(gif_dirs or [])
            picked += [(path, record, s) for path, record in choose_gifs(s, dirs, gifs_per_row)]
    copied = []
    for path, record, summary in picked:
        target = out / "gifs" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        copied.append((target.relative_to(out), record, summary))
    markdown = out / "summary.md"
    markdown.write_text(build_markdown(summaries, copied, title, problems))
    return markdown


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vjepa_ac.evaluation.summary_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("json", nargs="+", type=Path, help="vjepa-ac-eval --json outputs")
    p.add_argument("--out", type=Path, required=True, help="directory for summary.md and gifs/")
    p.add_argument("--gif-dir", type=Path, action="append", default=[],
                   help="where vjepa-ac-eval --out wrote GIFs (besides each JSON's own directory); repeatable")
    p.add_argument("--gifs-per-row", type=int, default=2, help="GIFs picked per table row (success first)")
    p.add_argument("--gif", type=Path, action="append", default=[],
                   help="copy exactly these GIFs instead of picking; repeatable")
    p.add_argument("--title", default="Simulated evaluation")
    p.add_argument("--allow-mixed-provenance", action="store_true",
                   help="merge and tabulate runs whose provenance differs or is missing (the report lists how)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        path = write_report(args.json, args.out, args.gif_dir, args.gifs_per_row, args.gif, args.title,
                            args.allow_mixed_provenance)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"summary_report: {error}") from error
    print(path.read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Combine several `vjepa-ac-eval --json` outputs into one Markdown success table with chosen episode GIFs.

Runs of one configuration are often split over seed ranges (or machines); rows that share task, engine and
settings are merged, so the table shows one success rate per configuration rather than per shard.

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
from vjepa_ac.evaluation.tasks import TASKS

REQUIRED_KEYS = ("task", "engine", "episodes", "successes", "success_rate", "mean_final_distance_m",
                 "seconds_per_action")
# Settings that differ between shards of one configuration and so do not separate rows.
SHARD_SETTINGS = ("first_seed", "wall_seconds")


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


def merge_summaries(summaries: list[dict]) -> list[dict]:
    """One summary per configuration, recomputed from the per-episode records; overlapping seeds are an error."""
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
            "settings": settings, "records": records, "source": ", ".join(s["source"] for s in group),
        })
    merged.sort(key=lambda s: (list(TASKS).index(s["task"]) if s["task"] in TASKS else len(TASKS), s["task"],
                               s["engine"]))
    return merged


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


def build_markdown(summaries: list[dict], gifs: list[tuple[Path, dict, dict]], title: str) -> str:
    """gifs: (path relative to the Markdown file, record, summary)."""
    lines = [f"# {title}", "", markdown_table(summaries), "## Success criteria", ""]
    for task in dict.fromkeys(s["task"] for s in summaries):
        criterion = TASKS[task].criterion if task in TASKS else "(task unknown to this version)"
        lines.append(f"- `{task}`: {criterion}")
    lines += ["", "## Settings", "", "| task | engine | checkpoint | CEM samples × iterations | horizon | camera (px) "
              "| budgets | seeds | sources |", "| --- | --- | --- | --- | ---: | ---: | --- | --- | --- |"]
    for s in summaries:
        st = s.get("settings") or {}
        budgets = st.get("budgets") or "task default"
        lines.append(f"| {s['task']} | {s['engine']} | {st.get('checkpoint', '?')} | {st.get('samples', '?')} × "
                     f"{st.get('iterations', '?')} | {st.get('horizon', '?')} | {st.get('camera_size', '?')} | "
                     f"{budgets} | {_seed_range(s)} | {s['source']} |")
    if gifs:
        lines += ["", "## Episodes", "", "Left: camera; right: current sub-goal image; below: CEM energy.", ""]
        for path, record, summary in gifs:
            verdict = "success" if record["success"] else "failure"
            caption = (f"{summary['task']} / {summary['engine']}, seed {record['seed']}: {verdict}, final "
                       f"distance {record['final_distance_m']:.3f} m")
            lines += [f"**{caption}**", "", f"![{caption}]({path.as_posix()})", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_report(json_paths: list[Path], out: Path, gif_dirs: list[Path] | None = None, gifs_per_row: int = 2,
                 explicit_gifs: list[Path] | None = None, title: str = "Simulated evaluation") -> Path:
    """Write `out/summary.md` (+ `out/gifs/`); returns the Markdown path."""
    summaries = merge_summaries([load_summary(p) for p in json_paths])
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
    markdown.write_text(build_markdown(summaries, copied, title))
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
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        path = write_report(args.json, args.out, args.gif_dir, args.gifs_per_row, args.gif, args.title)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"summary_report: {error}") from error
    print(path.read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

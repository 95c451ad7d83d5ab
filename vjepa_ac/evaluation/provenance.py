"""Where an evaluation number comes from: seed ranges, the code's git state and the model files' hashes.

Seed ranges (docs/evaluation.md): below 100000 the training data; 100000-149999 development (tuning,
diagnostics, benches, tests); 150000-199999 test (release tables only; nothing is chosen by looking at them);
200000 and above "other".
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

SEED_RANGES = {"training": (0, 99_999), "development": (100_000, 149_999), "test": (150_000, 199_999)}
REPO_ROOT = Path(__file__).resolve().parents[2]
# The code and model files an evaluation runs: what vjepa-ac-eval imports (not the ROS layer, training or tools).
CORE_PATHS = ("vjepa_ac/__init__.py", "vjepa_ac/poses.py", "vjepa_ac/framing.py", "vjepa_ac/evaluation", "vjepa_ac/models",
              "vjepa_ac/planning", "vjepa_ac/simulation", "vjepa_ac/assets", "setup.py")


def seed_range(seed: int) -> str:
    """'training', 'development', 'test' or 'other' (>= 200000); negative seeds are an error."""
    if seed < 0:
        raise ValueError(f"seeds are >= 0, got {seed}")
    for name, (low, high) in SEED_RANGES.items():
        if low <= seed <= high:
            return name
    return "other"


def run_seed_range(first_seed: int, episodes: int) -> str:
    """The one range seeds first_seed .. first_seed + episodes - 1 lie in; a run may not straddle two."""
    first, last = seed_range(first_seed), seed_range(first_seed + episodes - 1)
    if first != last:
        raise ValueError(f"seeds {first_seed}-{first_seed + episodes - 1} straddle the {first} and {last} ranges; "
                         "run each range separately")
    return first


def require_development_seeds(first_seed: int, count: int) -> None:
    """Diagnostics, benches and experiments: refuse seeds outside the development range (SystemExit)."""
    try:
        inside = run_seed_range(first_seed, count) == "development"
    except ValueError:
        inside = False
    if not inside:
        low, high = SEED_RANGES["development"]
        raise SystemExit(f"development seeds only ({low}-{high}); got {first_seed}-{first_seed + count - 1}")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state() -> dict:
    """The commit, a hash of the core code at that commit, and whether the working tree's core code differs.

    `core_tree` names the code the numbers come from independently of commits that touch only docs, tests or
    code evaluations do not import, so runs of one code version can be merged across such commits. Untracked files under the core
    paths count as changes (a new module not yet committed is code the commit does not have).
    """
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "core_tree": None, "dirty": True, "dirty_paths": ["(not a git checkout)"]}
    listing = _git("ls-tree", "-r", "HEAD", "--", *CORE_PATHS) or ""
    status = _git("status", "--porcelain", "--untracked-files=all", "--", *CORE_PATHS) or ""
    dirty_paths = sorted(line[3:] for line in status.splitlines()
                         if line.strip() and not line.rstrip().endswith((".pyc", "/")))
    return {"commit": commit.strip(), "core_tree": hashlib.sha256(listing.encode()).hexdigest(),
            "dirty": bool(dirty_paths), "dirty_paths": dirty_paths}


def model_file_hashes(checkpoint: str | Path | None, readout_path: str | Path | None = None) -> dict:
    """{"model": {file: sha256}, "readout": {file: sha256} or {}} for a checkpoint (None: the embedded model)."""
    from vjepa_ac.models import EMBEDDED_MODEL_DIR
    from vjepa_ac.models.gripper_readout import GRIPPER_READOUT_FILE

    location = Path(checkpoint).expanduser() if checkpoint else EMBEDDED_MODEL_DIR
    if location.is_dir():
        files = sorted(p for p in location.iterdir() if p.is_file() and p.name != GRIPPER_READOUT_FILE)
    else:
        files = [location]
    model = {str(display_path(p)): sha256_file(p) for p in files}
    readout = {} if readout_path is None else {str(display_path(Path(readout_path))): sha256_file(readout_path)}
    return {"model": model, "readout": readout}


def run_provenance(checkpoint: str | Path | None, readout_path: str | Path | None = None) -> dict:
    """What a result JSON records about its origin: `git_state()` plus the model files' hashes (`model_files`)."""
    return {**git_state(), "model_files": model_file_hashes(checkpoint, readout_path)}


def display_path(path: Path) -> Path:
    """Repository-relative where possible, so the JSON does not depend on where the checkout lives."""
    try:
        return path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        return path.resolve()

"""Load a bench or experiment script (not part of the package) as a module, to test its functions."""

import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_script(path: str):
    """`path` relative to the repository root, e.g. "experiments/yaw_visibility.py"."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, REPO_ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""Shared test set-up: deterministic, single-threaded torch and offscreen rendering."""

import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("VJEPA_AC_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.fail(f"shared reference material not found at {SHARED_DIR} (set VJEPA_AC_SHARED)")
    return SHARED_DIR


@pytest.fixture(autouse=True)
def _grad_mode_is_restored():
    """A test (or the code it calls) must not leave autograd switched off for the tests after it."""
    yield
    assert torch.is_grad_enabled(), "autograd was left disabled (torch.set_grad_enabled(False) leaked)"

# The README's two commands: `make demo` (main job) and `make test` (lint + tests). Both set up first.
VENV := .venv
PY := $(VENV)/bin/python
export MUJOCO_GL ?= osmesa
export PYOPENGL_PLATFORM ?= osmesa

.PHONY: setup test demo lint regression soak clean

setup:
	@bash scripts/setup_env.sh

lint: setup
	$(VENV)/bin/ruff check vjepa_ac tests bench experiments launch scripts

test: lint
	bash scripts/run_tests.sh

demo: setup
	$(PY) -m vjepa_ac.demo

regression: setup
	$(PY) -m pytest -q -m regression tests

clean:
	rm -rf $(VENV) build install log .pytest_cache .ruff_cache

soak: setup
	VJEPA_AC_SOAK_SECONDS=$${VJEPA_AC_SOAK_SECONDS:-600} $(PY) -m pytest -q -s -m soak tests

"""The release suites: every planner row has its three baselines on the same seeds, one JSON per cell."""

import pytest

from vjepa_ac.evaluation.release import BASELINES, SUITES, TEST_SEED, cells


@pytest.mark.parametrize("suite", SUITES)
def test_every_planner_row_stands_beside_its_baselines_on_the_test_seeds(suite):
    todo = cells(suite)
    assert len({c.name for c in todo}) == len({c.json_path for c in todo}) == len(todo)
    rows = {(c.protocol, c.task, c.engine, c.appearance) for c in todo}
    for row in rows:
        policies = {c.policy for c in todo if (c.protocol, c.task, c.engine, c.appearance) == row}
        assert set(BASELINES) <= policies and policies & {"planner", "planner-image-energy"}, row
        assert len({c.episodes for c in todo if (c.protocol, c.task, c.engine, c.appearance) == row}) == 1
    for cell in todo:
        command = cell.command()
        assert command[command.index("--seed") + 1] == str(TEST_SEED) == "150000"
        assert command[command.index("--engine") + 1] == cell.engine
        assert not command[command.index("--json") + 1].startswith("/")


def test_model_v2_covers_what_the_model_issue_asks_for():
    names = {c.name for c in cells("model-v2")}
    for name in ("pybullet/reach/planner", "mujoco/reach/planner", "mujoco-unseen/reach/planner",
                 "pybullet-unseen/reach/planner", "mujoco/reach-rotate/planner", "mujoco/grasp/planner-image-energy",
                 "pybullet/grasp/planner", "pybullet/pick-and-place/planner"):
        assert name in names
    assert {c.episodes for c in cells("model-v2") if c.appearance == "unseen"} == {20}
    with pytest.raises(ValueError, match="unknown suite"):
        cells("v3")

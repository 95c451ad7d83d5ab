"""Sub-goal schedule: budgets, early switching on an energy threshold, bad input."""

import pytest
import torch

from vjepa_ac.planning import SubgoalSchedule


def goals(n, hw=4, d=8):
    return [torch.full((hw, d), float(i)) for i in range(n)]


def test_switching_follows_the_budgets():
    schedule = SubgoalSchedule(goals(3), [4, 10, 4])
    visited = []
    switches = []
    while not schedule.done:
        visited.append(int(schedule.current_goal()[0, 0]))
        if schedule.advance(energy=1.0):
            switches.append(schedule.total_steps)
    assert visited == [0] * 4 + [1] * 10 + [2] * 4
    assert switches == [4, 14, 18]
    assert schedule.remaining_steps == 0
    with pytest.raises(IndexError):
        schedule.current_goal()
    with pytest.raises(IndexError):
        schedule.advance()


def test_energy_threshold_ends_a_subgoal_early():
    schedule = SubgoalSchedule(goals(2), [5, 5], energy_threshold=0.1)
    assert not schedule.advance(energy=0.5)
    assert schedule.remaining_steps == 4
    assert schedule.advance(energy=0.05)  # reached: next goal after 2 steps
    assert schedule.index == 1 and schedule.steps_in_goal == 0
    assert not schedule.advance()  # no energy given: only the budget counts
    schedule.reset()
    assert schedule.index == 0 and schedule.total_steps == 0 and not schedule.done


@pytest.mark.parametrize(
    "goal_list, budgets, threshold",
    [
        ([], [], None),
        (goals(2), [3], None),
        (goals(2), [3, 0], None),
        ([torch.zeros(4, 8), torch.zeros(4, 7)], [1, 1], None),
        ([torch.zeros(2, 4, 8)], [1], None),
        (goals(1), [1], -1.0),
    ],
)
def test_bad_schedules_raise(goal_list, budgets, threshold):
    with pytest.raises(ValueError):
        SubgoalSchedule(goal_list, budgets, energy_threshold=threshold)

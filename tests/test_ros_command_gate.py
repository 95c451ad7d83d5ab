"""CommandGate: the planner node's rule for sending a finished plan, without ROS (docs/safety.md)."""

from types import SimpleNamespace

import numpy as np
import pytest

from vjepa_ac.ros.command_gate import CommandGate
from vjepa_ac.ros.image_limits import ImageLimits
from vjepa_ac.ros.params import PLANNER_PARAMETERS
from vjepa_ac.ros.plausibility import PlausibilityLimits
from vjepa_ac.ros.sensor_inputs import SensorInputs
from vjepa_ac.sensing import SensorSample

NOW = 1_000_000_000_000


@pytest.fixture
def gate():
    settings = SimpleNamespace(**{spec.name: spec.default for spec in PLANNER_PARAMETERS})
    inputs = SensorInputs(settings, PlausibilityLimits.from_settings(settings), ImageLimits(64, 64))
    stops = []
    gate = CommandGate(inputs, enabled=True, on_stop=lambda: stops.append(gate.invalidated_by))
    for key, value in (("camera", np.zeros((16, 16, 3), np.uint8)), ("ee_pose", np.zeros(6)), ("gripper", 0.0)):
        gate.accept(key, SensorSample(value, NOW / 1e9, NOW / 1e9))
    gate.stops = stops
    return gate


def send(gate, ticket, now=NOW):
    sent = []
    problem = gate.send(ticket, lambda: now, lambda: sent.append(True))
    return problem, bool(sent)


def test_a_fresh_plan_is_sent_and_the_send_time_recorded(gate):
    view = gate.snapshot(NOW)
    assert view.stale is None and view.enabled and view.state.shape == (7,)
    assert send(gate, view.ticket) == (None, True)
    assert gate.last_command_ns == NOW


@pytest.mark.parametrize("stop", [lambda g: g.set_enabled(False), lambda g: g.request_reset(),
                                  lambda g: g.put_goal(SimpleNamespace(source="topic")),
                                  lambda g: g.reject("camera", "camera image rejected: too large"),
                                  lambda g: g.stop("lost in transport")])
def test_any_stop_between_planning_and_sending_drops_the_plan(gate, stop):
    ticket = gate.snapshot(NOW).ticket
    stop(gate)
    problem, sent = send(gate, ticket)
    assert problem and not sent and gate.stops  # the twist motion is stopped too
    assert gate.last_command_ns == 0


def test_a_sensor_stale_at_the_send_time_drops_the_plan(gate):
    ticket = gate.snapshot(NOW).ticket
    late = NOW + int(2e9)  # max_sensor_age_s is 1 s by default
    problem, sent = send(gate, ticket, late)
    assert "stale" in problem and not sent
    assert gate.went_stale(NOW) is None  # fresh so far
    assert gate.went_stale(late) is not None and gate.went_stale(late) is None  # reported once, when it happens


def test_a_rejected_goal_drops_the_goal_and_requests_are_taken_once(gate):
    gate.put_goal(SimpleNamespace(source="file"))
    gate.reject("goal", "goal files rejected: too large", drop_goal=True)
    assert gate.goal_changed
    reset, drop, request = gate.take_requests()
    assert (reset, drop, request) == (False, True, None) and not gate.goal_changed
    assert gate.snapshot(NOW).errors == {"goal": "goal files rejected: too large"}
    gate.set_enabled(True)
    assert gate.take_requests()[0] and not gate.take_requests()[0]

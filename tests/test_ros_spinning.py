"""How the nodes are spun: one single-threaded executor per node, planning in the planner's own thread."""

from __future__ import annotations

import threading
import time

import pytest
import rclpy
from rclpy.node import Node
from ros_test_support import TinyWorldModel, parameter_overrides, wait_for

from vjepa_ac.ros.planner_node import PlannerNode
from vjepa_ac.ros.spinning import NodeSpinners, spin_nodes


@pytest.fixture(autouse=True)
def ros():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def test_each_node_spins_in_its_own_thread_and_a_slow_callback_does_not_stall_the_others():
    slow, fast = Node("slow_node"), Node("fast_node")
    ticks = {"fast": 0}
    slow.create_timer(0.05, lambda: time.sleep(1.0))  # e.g. a simulator step
    fast.create_timer(0.05, lambda: ticks.__setitem__("fast", ticks["fast"] + 1))
    with NodeSpinners(slow, fast):
        time.sleep(1.0)
    assert ticks["fast"] >= 10  # ~20 expected; a shared single thread would give at most 1-2
    slow.destroy_node()
    fast.destroy_node()


def test_spin_nodes_reraises_a_callback_error_and_stops():
    node = Node("failing_node")

    def fail():
        raise RuntimeError("callback failed")

    node.create_timer(0.05, fail)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="callback failed"):
        spin_nodes([node], duration_s=30.0)
    assert time.monotonic() - started < 10.0


def test_planner_plans_in_its_own_thread_which_destroy_node_stops():
    node = PlannerNode(world_model=TinyWorldModel(), parameter_overrides=parameter_overrides({"rate_hz": 20.0}))
    planning = [t for t in threading.enumerate() if t.name.endswith(":planning")]
    assert len(planning) == 1 and planning[0].is_alive()
    ticks = []
    tick = node._on_tick
    node._on_tick = lambda: (ticks.append(time.monotonic()), tick())
    assert wait_for(lambda: len(ticks) >= 5, 3.0)  # at rate_hz, with no executor spinning the node
    node.destroy_node()
    assert not planning[0].is_alive()
    count = len(ticks)
    time.sleep(0.3)
    assert len(ticks) == count  # no tick after destroy_node

"""Spin nodes with a MultiThreadedExecutor and stop it cleanly.

In rclpy 7.1 `Executor.shutdown()` does not wait for callbacks still running in the thread pool
(its wait is skipped once the shutdown flag is set) and destroys the guard condition those callbacks
trigger when they finish, so they fail with "cannot use Destroyable". Stop spinning first, drain
the pool, then shut the executor down.
"""

from __future__ import annotations

import time

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

__all__ = ["stop_executor", "spin_nodes"]


def stop_executor(executor, timeout_sec: float = 10.0) -> None:
    """Call only after the thread that spins `executor` has stopped calling spin_once."""
    pool = getattr(executor, "_executor", None)  # MultiThreadedExecutor's ThreadPoolExecutor
    if pool is not None:
        pool.shutdown(wait=True)
    executor.shutdown(timeout_sec=timeout_sec)


def spin_nodes(nodes, duration_s: float | None = None, threads: int = 4, until=None, destroy: bool = True) -> None:
    """Spin until Ctrl-C, ROS shutdown, `duration_s` or `until()` is true; then stop the executor and
    (unless `destroy` is False, for callers that still read node state) destroy the nodes and shut down."""
    executor = MultiThreadedExecutor(num_threads=threads)
    for node in nodes:
        executor.add_node(node)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    try:
        while rclpy.ok() and (deadline is None or time.monotonic() < deadline):
            executor.spin_once(timeout_sec=0.1)
            if until is not None and until():
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        stop_executor(executor)
        if destroy:
            for node in nodes:
                node.destroy_node()
            rclpy.try_shutdown()

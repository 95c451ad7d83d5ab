"""Spin nodes, each with a SingleThreadedExecutor in a thread of its own, and stop them cleanly.

Not rclpy's MultiThreadedExecutor: in rclpy 7.1 its spin loop hands every ready callback to a thread
pool and, until a pool thread has started it, yields the same task again at once. With a busy GIL
(the planner's CEM in another thread) the pool starts tasks late, so the spin thread re-submits them in
a busy loop, which takes the GIL from the pool and the planner in turn. In the ROS soak test that loop
used 81 % of a core; the planner then received 39 % of the camera frames and planned at 162 ms
instead of 105 ms, and the state persisted once entered (it appeared on most idle runs, rarely under
load). A single-threaded executor runs each callback inline, so nothing waits in a queue; one per node
keeps one node's slow callback (the simulator's step) from delaying another node's sensors, and the
planner plans in its own thread, outside any executor.
"""

from __future__ import annotations

import threading
import time

import rclpy
from rclpy.executors import ExternalShutdownException, ShutdownException, SingleThreadedExecutor

__all__ = ["NodeSpinners", "spin_nodes"]


class NodeSpinners:
    """One SingleThreadedExecutor per node, each spinning in a daemon thread until `stop()`."""

    def __init__(self, *nodes, poll_s: float = 0.05):
        self.nodes = list(nodes)
        self.poll_s = poll_s
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._executors = []
        self._threads = []
        for node in self.nodes:
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            self._executors.append(executor)
            self._threads.append(threading.Thread(target=self._spin, args=(executor,), daemon=True,
                                                  name=f"spin:{node.get_name()}"))

    def _spin(self, executor) -> None:
        try:
            while not self._stop.is_set():
                executor.spin_once(timeout_sec=self.poll_s)
        except (ExternalShutdownException, ShutdownException):
            pass
        except BaseException as error:  # a callback raised: stop everything and let the caller see it
            self.error = self.error or error
            self._stop.set()

    @property
    def running(self) -> bool:
        return not self._stop.is_set()

    def start(self) -> NodeSpinners:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=timeout_s)
        for executor in self._executors:
            executor.shutdown(timeout_sec=timeout_s)

    def __enter__(self) -> NodeSpinners:
        return self.start()

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False


def spin_nodes(nodes, duration_s: float | None = None, until=None, destroy: bool = True) -> None:
    """Spin until Ctrl-C, ROS shutdown, `duration_s` or `until()` is true; then stop the executors and
    (unless `destroy` is False, for callers that still read node state) destroy the nodes and shut down.
    Re-raises an exception that escaped a callback."""
    deadline = None if duration_s is None else time.monotonic() + duration_s
    spinners = NodeSpinners(*nodes).start()
    try:
        while rclpy.ok() and spinners.running and (deadline is None or time.monotonic() < deadline):
            if until is not None and until():
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        spinners.stop()
        if destroy:
            for node in nodes:
                node.destroy_node()
            rclpy.try_shutdown()
    if spinners.error is not None:
        raise spinners.error


def run_node(make_node, logger_name: str, what: str, errors=(ValueError,), args=None) -> int:
    """A console entry point: a node whose configuration is refused exits 2 with one fatal line, not a
    traceback; otherwise it spins until shut down."""
    rclpy.init(args=args)
    try:
        node = make_node()
    except errors as exc:
        rclpy.logging.get_logger(logger_name).fatal(f"cannot start {what}: {exc}")
        rclpy.try_shutdown()
        return 2
    spin_nodes([node])
    return 0


class PeriodicThread:
    """Calls `tick()` every `period` s in a thread of its own (at once after an overrun, never in a burst).

    For work that takes seconds, such as a plan: as an executor callback it would either block the sensor
    callbacks (single-threaded) or send rclpy's MultiThreadedExecutor into busy re-submission (see above).
    An exception from `tick` goes to `on_error`; the thread ends when `stop` is called or `alive()` is False.
    """

    def __init__(self, period: float, tick, on_error, alive, name: str):
        self._period, self._tick, self._on_error, self._alive = period, tick, on_error, alive
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def _run(self) -> None:
        next_tick = time.monotonic() + self._period
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            next_tick = max(next_tick + self._period, time.monotonic())
            try:
                self._tick()
            except Exception as exc:  # e.g. publishing after rclpy shut down: stop quietly then
                if not self._alive():
                    return
                self._on_error(exc)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 120.0) -> None:
        """Let a running tick finish, then end the thread (no-op from the thread itself)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=timeout)

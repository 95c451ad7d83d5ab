"""Wrap ROS callbacks so that no exception (MemoryError included) leaves them and ends the node.

rclpy re-raises an exception from a callback out of the executor's spin, which stops the node. One bad
message or request must instead be logged, reported and answered, and the node goes on.
"""

from __future__ import annotations

import functools

__all__ = ["guard_subscription", "guard_service"]


def _describe(callback, exc: BaseException) -> str:
    return f"{callback.__name__} failed: {type(exc).__name__}: {exc}"


def guard_subscription(callback, on_error):
    """`callback(msg)` (or a timer's `callback()`) that hands any exception to `on_error(reason)` instead of
    raising it."""

    @functools.wraps(callback)
    def guarded(*msg):
        try:
            return callback(*msg)
        except Exception as exc:  # MemoryError is an Exception too
            on_error(_describe(callback, exc))
            return None

    return guarded


def guard_service(callback, on_error):
    """`callback(request, response)` that answers success=False with the reason instead of raising."""

    @functools.wraps(callback)
    def guarded(request, response):
        try:
            return callback(request, response)
        except Exception as exc:
            reason = _describe(callback, exc)
            on_error(reason)
            if hasattr(response, "success"):
                response.success = False
            if hasattr(response, "message"):
                response.message = f"request not carried out: {reason}"
            return response

    return guarded

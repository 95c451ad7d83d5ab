"""Freshness of sensor messages: the newest sample of each input, its age, and stamps that cannot be right.

Shared by the nodes that act on sensor data (the planner; a recorder can use the same rules): a sample is
judged by both its header stamp and its arrival time, so a clock-skewed or replayed stream is stale too,
and a stamp from the future beyond a tolerance is refused instead of giving a negative latency.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Sample", "stamp_ns", "future_stamp_problem", "freshness_problem"]


@dataclass
class Sample:
    """Newest valid message of one input, already converted."""

    value: object
    stamp_ns: int  # header stamp; 0 when the sender left it empty or its clock is not trusted
    received_ns: int
    frame_id: str = ""

    @property
    def taken_ns(self) -> int:
        return self.stamp_ns if self.stamp_ns > 0 else self.received_ns

    def age_s(self, now_ns: int) -> float:
        """The larger of the age by stamp and by arrival (never negative)."""
        ages = [now_ns - self.received_ns]
        if self.stamp_ns > 0:
            ages.append(now_ns - self.stamp_ns)
        return max(0, *ages) / 1e9


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def future_stamp_problem(stamp: int, now_ns: int, max_future_s: float) -> str | None:
    """Why a header stamp cannot be trusted (more than `max_future_s` ahead of this clock), else None."""
    if stamp > 0 and stamp - now_ns > max_future_s * 1e9:
        return (f"header stamp is {(stamp - now_ns) / 1e9:.3f} s in the future (tolerance {max_future_s:g} s): "
                "wrong clock or a bad stamp")
    return None


def freshness_problem(name: str, sample: Sample | None, now_ns: int, max_age_s: float) -> str | None:
    """'waiting for X' / 'X is stale: ...' when `sample` cannot be acted on at `now_ns`, else None."""
    if sample is None:
        return f"waiting for {name}"
    age = sample.age_s(now_ns)
    if age > max_age_s:
        return f"{name} is stale: {age:.2f} s old (max_sensor_age_s {max_age_s:g})"
    return None

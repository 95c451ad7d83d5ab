"""Sensor samples and their freshness, shared by the planner node and the episode recorder (times in seconds).

A sample is judged by both its header stamp and its arrival time, so a clock-skewed or replayed stream is stale
too; a stamp from the future beyond a tolerance is refused instead of giving a negative latency.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SensorSample", "stamp_seconds", "future_stamp_problem", "freshness_problem"]


@dataclass(frozen=True)
class SensorSample:
    """One valid, converted sensor message. `stamp_s` is 0 when the sender left the header empty or its clock is
    not trusted; the sample is then judged by its arrival time alone."""

    value: object
    stamp_s: float
    received_s: float
    frame_id: str = ""

    @property
    def taken_s(self) -> float:
        return self.stamp_s if self.stamp_s > 0 else self.received_s

    def age_s(self, now_s: float) -> float:
        """The larger of the age by stamp and by arrival (never negative)."""
        ages = [now_s - self.received_s]
        if self.stamp_s > 0:
            ages.append(now_s - self.stamp_s)
        return max(0.0, *ages)


def stamp_seconds(header) -> float:
    """A ROS header's stamp in seconds (0 when the sender left it empty)."""
    return int(header.stamp.sec) + int(header.stamp.nanosec) * 1e-9


def future_stamp_problem(stamp_s: float, now_s: float, max_future_s: float) -> str | None:
    """Why a header stamp cannot be trusted (more than `max_future_s` ahead of this clock), else None."""
    if stamp_s > 0 and stamp_s - now_s > max_future_s:
        return (f"header stamp is {stamp_s - now_s:.3f} s in the future (tolerance {max_future_s:g} s): "
                "wrong clock or a bad stamp")
    return None


def freshness_problem(name: str, sample: SensorSample | None, now_s: float, max_age_s: float) -> str | None:
    """'waiting for X' / 'X is stale: ...' when `sample` cannot be acted on at `now_s`, else None."""
    if sample is None:
        return f"waiting for {name}"
    age = sample.age_s(now_s)
    if age > max_age_s:
        return f"{name} is stale: {age:.2f} s old (max_sensor_age_s {max_age_s:g})"
    return None

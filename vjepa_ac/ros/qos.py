"""QoS profiles shared by the nodes, the goal sender and the tests (publishers and subscribers must agree)."""

from __future__ import annotations

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

__all__ = ["SENSOR_QOS", "LATEST_SENSOR_QOS", "GOAL_QOS", "COMMAND_QOS", "STATE_QOS", "VISUALIZATION_QOS",
           "SERVICE_QOS", "SERVICE_QUEUE_DEPTH"]

# Camera frames and robot state as drivers publish them: best effort, keep last 5 (SensorDataQoS).
SENSOR_QOS = qos_profile_sensor_data

# What the planner subscribes with: it only ever uses the newest frame and pose, so a reader that falls
# behind drops the older ones in DDS instead of running a callback for each (SensorDataQoS-compatible).
LATEST_SENSOR_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)

# Goal images: a late-joining planner still receives the last goal that was sent.
GOAL_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

# Motion commands: reliable, never replayed to late joiners (a stale command must not move the arm).
COMMAND_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

# Published robot state when reliability matters more than latency (franka_ros2 uses the default QoS).
STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

VISUALIZATION_QOS = STATE_QOS

# Services (requests in, responses out): rclpy's default keeps 10, so a burst of calls beyond that was
# dropped without an answer. Each service keeps up to SERVICE_QUEUE_DEPTH requests; a client sending more
# at once than that loses the oldest, and a client must keep as many responses (use this profile).
SERVICE_QUEUE_DEPTH = 256
SERVICE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=SERVICE_QUEUE_DEPTH,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

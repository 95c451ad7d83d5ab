"""The planned path as RViz sees it: a nav_msgs/Path and a MarkerArray (line, end point, energy label)."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point, PoseStamped
from nav_msgs.msg import Path as PathMsg
from std_msgs.msg import Float64
from visualization_msgs.msg import Marker, MarkerArray

from vjepa_ac.ros.qos import VISUALIZATION_QOS
from vjepa_ac.ros.state_conversion import state_to_pose_msg

__all__ = ["PlanDisplay", "plan_messages"]

NAMESPACE = "vjepa_ac_plan"


def _stamped(msg, frame: str, stamp):
    msg.header.stamp = stamp
    msg.header.frame_id = frame
    return msg


def _marker(marker_id: int, kind: int, frame: str, stamp, rgba) -> Marker:
    marker = _stamped(Marker(), frame, stamp)
    marker.ns, marker.id, marker.type, marker.action = NAMESPACE, marker_id, kind, Marker.ADD
    marker.color.r, marker.color.g, marker.color.b, marker.color.a = rgba
    return marker


def plan_messages(state: np.ndarray, predicted: np.ndarray, frame: str, stamp, energy: float):
    """(Path from the current state through the predicted states, MarkerArray of the same plan)."""
    rows = [state, *predicted]
    path = _stamped(PathMsg(), frame, stamp)
    for row in rows:
        waypoint = _stamped(PoseStamped(), frame, stamp)
        waypoint.pose = state_to_pose_msg(row)
        path.poses.append(waypoint)

    line = _marker(0, Marker.LINE_STRIP, frame, stamp, (0.1, 0.6, 1.0, 1.0))
    line.scale.x = 0.005
    line.pose.orientation.w = 1.0
    line.points = [Point(x=float(r[0]), y=float(r[1]), z=float(r[2])) for r in rows]
    end = _marker(1, Marker.SPHERE, frame, stamp, (1.0, 0.5, 0.0, 1.0))
    end.pose = state_to_pose_msg(predicted[-1])
    end.scale.x = end.scale.y = end.scale.z = 0.02
    label = _marker(2, Marker.TEXT_VIEW_FACING, frame, stamp, (1.0, 1.0, 1.0, 1.0))
    label.pose = state_to_pose_msg(predicted[-1])
    label.pose.position.z += 0.05
    label.scale.z = 0.03
    label.text = f"energy {energy:.4f}"
    return path, MarkerArray(markers=[line, end, label])


class PlanDisplay:
    """planned_path, planned_path_markers and energy, published after each command."""

    def __init__(self, node):
        self._node = node
        self._path_pub = node.create_publisher(PathMsg, "planned_path", VISUALIZATION_QOS)
        self._marker_pub = node.create_publisher(MarkerArray, "planned_path_markers", VISUALIZATION_QOS)
        self._energy_pub = node.create_publisher(Float64, "energy", VISUALIZATION_QOS)

    def publish(self, state: np.ndarray, predicted, frame: str, energy: float) -> None:
        predicted = np.asarray(predicted, dtype=np.float64)
        path, markers = plan_messages(state, predicted, frame, self._node.get_clock().now().to_msg(), energy)
        self._path_pub.publish(path)
        self._marker_pub.publish(markers)
        self._energy_pub.publish(Float64(data=float(energy)))

"""send_goal_image: publish a PNG/JPG file as the planner's goal image.

The topic is transient-local (depth 1), so a planner that starts later still receives the goal as
long as this process is alive: it waits for a first subscriber (up to --wait), then stays for
--linger seconds. Usage:

    ros2 run vjepa_ac send_goal_image goal.png [--topic goal_image] [--linger 2] [--ros-args ...]
"""

from __future__ import annotations

import argparse
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.utilities import remove_ros_args
from sensor_msgs.msg import Image

from vjepa_ac.framing import read_image_file
from vjepa_ac.ros.image_conversion import rgb_to_image_msg
from vjepa_ac.ros.qos import GOAL_QOS

__all__ = ["main", "parse_args"]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="send_goal_image", description=__doc__.splitlines()[0])
    parser.add_argument("image", help="goal image file (PNG, JPG, ...)")
    parser.add_argument("--topic", default="goal_image", help="goal topic (default: goal_image)")
    parser.add_argument("--frame-id", default="camera", help="header.frame_id of the goal image")
    parser.add_argument("--wait", type=float, default=10.0,
                        help="seconds to wait for a subscriber before giving up waiting (default 10)")
    parser.add_argument("--linger", type=float, default=2.0,
                        help="seconds to stay alive after a subscriber appeared (default 2)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = list(sys.argv if argv is None else ["send_goal_image", *argv])
    args = parse_args(remove_ros_args(argv)[1:])
    try:
        rgb = read_image_file(args.image)
    except ValueError as exc:
        print(f"send_goal_image: {exc}", file=sys.stderr)
        return 2
    rclpy.init(args=argv)
    node = Node("send_goal_image")
    try:
        publisher = node.create_publisher(Image, args.topic, GOAL_QOS)
        msg = rgb_to_image_msg(rgb, args.frame_id, node.get_clock().now().to_msg())
        publisher.publish(msg)
        topic = publisher.topic_name
        node.get_logger().info(f"published {args.image} ({rgb.shape[1]}x{rgb.shape[0]}) on {topic}")
        deadline = time.monotonic() + args.wait
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        subscribers = publisher.get_subscription_count()
        if subscribers == 0:
            node.get_logger().warning(f"no subscriber on {topic} after {args.wait:g} s")
        end = time.monotonic() + args.linger
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        return 0 if subscribers else 1
    except KeyboardInterrupt:
        return 130
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())

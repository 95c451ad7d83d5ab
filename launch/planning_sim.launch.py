"""Simulated Panda + V-JEPA 2-AC planner.

    ros2 launch vjepa_ac planning_sim.launch.py [goal_image_path:=/abs/goal.png] [engine:=pybullet]
        [checkpoint:=/path/model] [device:=cuda] [rviz:=true]

Parameters come from config/sim.yaml and config/planner.yaml (the same files `vjepa-ac-run` reads).
Send a goal later with `ros2 run vjepa_ac send_goal_image goal.png`, or with RViz's "2D Goal Pose"
tool (the simulation node renders the goal view and publishes it on goal_image).
"""

from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def _text(name):
    """A launch argument as a string parameter (empty strings stay strings, not YAML null)."""
    return ParameterValue(LaunchConfiguration(name), value_type=str)


def generate_launch_description():
    config = PathJoinSubstitution([FindPackageShare("vjepa_ac"), "config"])
    arguments = [
        DeclareLaunchArgument("engine", default_value="mujoco", description="simulator: mujoco or pybullet"),
        DeclareLaunchArgument("goal_image_path", default_value="", description="goal image file (optional)"),
        DeclareLaunchArgument("checkpoint", default_value="", description="world model; empty = embedded model"),
        DeclareLaunchArgument("device", default_value="cpu", description="torch device of the planner"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with config/vjepa_ac.rviz"),
    ]
    sim = Node(
        package="vjepa_ac",
        executable="sim_node",
        name="vjepa_ac_sim",
        output="screen",
        parameters=[PathJoinSubstitution([config, "sim.yaml"]), {"engine": _text("engine")}],
    )
    planner = Node(
        package="vjepa_ac",
        executable="planner_node",
        name="vjepa_ac_planner",
        output="screen",
        parameters=[
            PathJoinSubstitution([config, "planner.yaml"]),
            {
                "goal_image_path": _text("goal_image_path"),
                "checkpoint": _text("checkpoint"),
                "device": _text("device"),
            },
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", PathJoinSubstitution([config, "vjepa_ac.rviz"])],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*arguments, sim, planner, rviz])

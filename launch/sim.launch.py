"""Simulated Panda only (camera, EE pose, joint states; executes command/delta).

    ros2 launch vjepa_ac sim.launch.py [engine:=pybullet] [seed:=3]
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description():
    config = PathJoinSubstitution([FindPackageShare("vjepa_ac"), "config"])
    return LaunchDescription([
        DeclareLaunchArgument("engine", default_value="mujoco", description="simulator: mujoco or pybullet"),
        DeclareLaunchArgument("seed", default_value="0", description="episode seed"),
        Node(
            package="vjepa_ac",
            executable="sim_node",
            name="vjepa_ac_sim",
            output="screen",
            parameters=[
                PathJoinSubstitution([config, "sim.yaml"]),
                {
                    "engine": ParameterValue(LaunchConfiguration("engine"), value_type=str),
                    "seed": ParameterValue(LaunchConfiguration("seed"), value_type=int),
                },
            ],
        ),
    ])

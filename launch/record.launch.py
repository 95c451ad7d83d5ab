"""Episode recorder for a real Franka driven by franka_ros2: record training episodes over ROS.

    ros2 launch vjepa_ac record.launch.py output_dir:=/data/episodes \
        [camera_topic:=/camera/camera/color/image_raw] [image_size:=256]

Then, per episode: `ros2 service call /vjepa_ac/vjepa_ac_episode_recorder/start std_srvs/srv/Trigger`,
move the arm (teleoperation, a script), and `.../stop_and_save` (or `.../discard`). A refused episode
is answered with the reasons (gap, stale frame, rejected message).
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def generate_launch_description():
    default_config = PathJoinSubstitution([FindPackageShare("vjepa_ac"), "config", "recorder.yaml"])
    arguments = [
        DeclareLaunchArgument("config", default_value=default_config, description="recorder parameter file"),
        DeclareLaunchArgument("output_dir", default_value="~/vjepa_ac_episodes", description="episode directory"),
        DeclareLaunchArgument("image_size", default_value="256", description="stored frame size (the model's input)"),
        DeclareLaunchArgument("camera_topic", default_value="/camera/camera/color/image_raw",
                              description="sensor_msgs/Image of the scene camera"),
        DeclareLaunchArgument("pose_topic", default_value="/franka_robot_state_broadcaster/current_pose",
                              description="geometry_msgs/PoseStamped of the end effector in the base frame"),
        DeclareLaunchArgument("gripper_topic", default_value="/franka_gripper/joint_states",
                              description="sensor_msgs/JointState of the gripper fingers"),
        DeclareLaunchArgument("namespace", default_value="vjepa_ac", description="namespace of the node"),
    ]
    recorder = Node(
        package="vjepa_ac",
        executable="episode_recorder",
        name="vjepa_ac_episode_recorder",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("config"),
            {
                "output_dir": ParameterValue(LaunchConfiguration("output_dir"), value_type=str),
                "image_size": ParameterValue(LaunchConfiguration("image_size"), value_type=int),
            },
        ],
        remappings=[
            ("camera/image", LaunchConfiguration("camera_topic")),
            ("ee_pose", LaunchConfiguration("pose_topic")),
            ("gripper/joint_states", LaunchConfiguration("gripper_topic")),
        ],
    )
    return LaunchDescription([*arguments, recorder])

"""V-JEPA 2-AC planner for a real Franka driven by franka_ros2.

    ros2 launch vjepa_ac planner.launch.py checkpoint:=/path/vjepa2-ac-vitg.pt \
        [camera_topic:=/camera/camera/color/image_raw] [goal_image_path:=/abs/goal.png] [device:=cuda]

Inputs are remapped to franka_ros2 (/franka_robot_state_broadcaster/current_pose,
/franka_gripper/joint_states) and the camera driver; outputs stay in the vjepa_ac namespace
(/vjepa_ac/command/target_pose, /vjepa_ac/command/delta, /vjepa_ac/command/gripper, ...) for the
robot-side Cartesian controller / gripper client. Planning starts disabled
(config/franka_real.yaml): `ros2 service call /vjepa_ac/vjepa_ac_planner/enable std_srvs/srv/SetBool "{data: true}"`.
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription


def _text(name):
    return ParameterValue(LaunchConfiguration(name), value_type=str)


def generate_launch_description():
    default_config = PathJoinSubstitution([FindPackageShare("vjepa_ac"), "config", "franka_real.yaml"])
    arguments = [
        DeclareLaunchArgument("config", default_value=default_config, description="planner parameter file"),
        DeclareLaunchArgument("checkpoint", default_value="/opt/vjepa_ac/checkpoints/vjepa2-ac-vitg.pt",
                              description="official V-JEPA 2-AC checkpoint or our model directory"),
        DeclareLaunchArgument("device", default_value="cuda", description="torch device"),
        DeclareLaunchArgument("goal_image_path", default_value="", description="goal image file (optional)"),
        DeclareLaunchArgument("camera_topic", default_value="/camera/camera/color/image_raw",
                              description="sensor_msgs/Image of the scene camera"),
        DeclareLaunchArgument("pose_topic", default_value="/franka_robot_state_broadcaster/current_pose",
                              description="geometry_msgs/PoseStamped of the end effector in the base frame"),
        DeclareLaunchArgument("gripper_topic", default_value="/franka_gripper/joint_states",
                              description="sensor_msgs/JointState of the gripper fingers"),
        DeclareLaunchArgument("namespace", default_value="vjepa_ac", description="namespace of the node's outputs"),
    ]
    planner = Node(
        package="vjepa_ac",
        executable="planner_node",
        name="vjepa_ac_planner",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[
            LaunchConfiguration("config"),
            {
                "checkpoint": _text("checkpoint"),
                "device": _text("device"),
                "goal_image_path": _text("goal_image_path"),
            },
        ],
        remappings=[
            ("camera/image", LaunchConfiguration("camera_topic")),
            ("ee_pose", LaunchConfiguration("pose_topic")),
            ("gripper/joint_states", LaunchConfiguration("gripper_topic")),
        ],
    )
    return LaunchDescription([*arguments, planner])

"""ROS 2 layer: planner node, simulation node, goal-image sender and an in-process runner.

A thin shell over the core: the encoder, predictor and CEM planner run inside the planner node's
process, so latent tokens never cross DDS. Importing this package does not import rclpy.

Planner node (`ros2 run vjepa_ac planner_node`, node name vjepa_ac_planner; parameters in
config/planner.yaml, all listed in `params.PLANNER_PARAMETERS`):
  subscribes  camera/image            sensor_msgs/Image (SensorDataQoS; rgb8/bgr8/rgba8/bgra8/mono8)
              ee_pose                 geometry_msgs/PoseStamped (franka: /franka_robot_state_broadcaster/current_pose)
              gripper/joint_states    sensor_msgs/JointState (franka: /franka_gripper/joint_states)
              goal_image              sensor_msgs/Image (reliable, transient local, depth 1)
  publishes   command/target_pose     geometry_msgs/PoseStamped: current pose ∘ planned delta, base frame
              command/delta           std_msgs/Float64MultiArray: the 7-D action (dx dy dz droll dpitch dyaw dgripper)
              command/gripper         std_msgs/Float64: target closedness (0 open .. 1 closed)
              planned_path            nav_msgs/Path, planned_path_markers visualization_msgs/MarkerArray
              energy                  std_msgs/Float64
              /diagnostics            diagnostic_msgs/DiagnosticArray (OK/WARN/ERROR + reason, plan latency,
                                      energy, goal/camera/state ages)
  services    ~/capture_goal          std_srvs/Trigger: current camera view becomes the goal
              ~/load_goal_from_file   std_srvs/Trigger: std_srvs has no string request, so set the parameter
                                      first: `ros2 param set /vjepa_ac_planner goal_image_path /abs/goal.png`
                                      (or subgoal_image_paths + subgoal_budgets), then call this
              ~/enable                std_srvs/SetBool: start / stop planning
              ~/reset                 std_srvs/Trigger: drop warm start, restart the sub-goal sequence

Simulation node (`ros2 run vjepa_ac sim_node`, node name vjepa_ac_sim; config/sim.yaml) publishes
camera/image, camera/camera_info, ee_pose, joint_states, gripper/joint_states; executes command/delta
(or command/target_pose + command/gripper); renders a goal view for a PoseStamped on
~/render_goal_pose (RViz "2D Goal Pose") or a PointStamped on ~/render_goal_point (RViz "Publish
Point") and publishes it on goal_image; ~/reset (Trigger) starts a new episode.

`send_goal_image goal.png` publishes a goal file; `vjepa-ac-run` runs both nodes from the same YAML
files when `ros2 launch` is not available.
"""

"""vjepa_ac: drive a Franka arm toward a goal image by planning in V-JEPA 2-AC latent space.

The core (models, planning, simulation, training, evaluation) never imports rclpy; ROS 2 nodes live
in `vjepa_ac.ros`.
"""

__version__ = "0.1.0"

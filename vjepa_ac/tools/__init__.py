"""Command-line tools that need no ROS."""

"""The core must import and work on machines without ROS 2."""

import subprocess
import sys
import textwrap

CORE_MODULES = [
    "vjepa_ac.poses",
    "vjepa_ac.models",
    "vjepa_ac.planning",
    "vjepa_ac.simulation",
    "vjepa_ac.training",
    "vjepa_ac.evaluation",
]


def test_core_imports_without_rclpy():
    # A meta-path finder makes any import of rclpy (or ROS message packages) fail in the child.
    code = textwrap.dedent(
        f"""
        import importlib, sys

        class BlockRos:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"rclpy", "sensor_msgs", "geometry_msgs", "std_msgs"}}:
                    raise ImportError("ROS is blocked in this test: " + name)
                return None

        sys.meta_path.insert(0, BlockRos())
        for module in {CORE_MODULES!r}:
            importlib.import_module(module)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] == "rclpy")
        assert not leaked, leaked
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")

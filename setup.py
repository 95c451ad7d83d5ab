"""ament_python build of vjepa_ac: also a plain pip-installable package (no ROS needed for the core)."""

import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "vjepa_ac"


def tree(folder):
    """data_files entries installing `folder` recursively under share/vjepa_ac/."""
    entries = []
    for root, _dirs, files in os.walk(folder):
        paths = [os.path.join(root, f) for f in files if not f.endswith((".pyc", "~"))]
        if paths:
            entries.append((os.path.join("share", PACKAGE, root), paths))
    return entries


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["tests", "tests.*"]),
    package_data={PACKAGE: ["assets/**/*"]},
    include_package_data=True,
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ]
    + tree("sim"),
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="vjepa_ac maintainers",
    maintainer_email="maintainers@vjepa-ac.invalid",
    description="Goal-image planning for a Franka arm in the latent space of V-JEPA 2-AC (ROS 2).",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            # ROS 2 nodes and tools (ros2 run vjepa_ac <name>)
            "planner_node = vjepa_ac.ros.planner_node:main",
            "sim_node = vjepa_ac.ros.sim_node:main",
            "send_goal_image = vjepa_ac.ros.send_goal_image:main",
            "episode_recorder = vjepa_ac.ros.episode_recorder:main",
            "expert_driver = vjepa_ac.ros.expert_driver:main",
            "vjepa-ac-record-sim = vjepa_ac.ros.record_sim:main",
            "vjepa-ac-run = vjepa_ac.ros.runner:main",
            # ROS-free tools
            "vjepa-ac-parity = vjepa_ac.tools.parity:main",
            "vjepa-ac-expert = vjepa_ac.simulation.expert_cli:main",
            "vjepa-ac-collect = vjepa_ac.cli.collect:main",
            "vjepa-ac-pretrain-encoder = vjepa_ac.cli.pretrain_encoder:main",
            "vjepa-ac-train-predictor = vjepa_ac.cli.train_predictor:main",
            "vjepa-ac-train-embedded = vjepa_ac.cli.train_embedded:main",
            "vjepa-ac-train-gripper-readout = vjepa_ac.cli.train_gripper_readout:main",
            "vjepa-ac-energy-landscape = vjepa_ac.planning.energy_landscape:main",
            "vjepa-ac-check-setup = vjepa_ac.tools.check_setup:main",
            "vjepa-ac-eval = vjepa_ac.evaluation.cli:main",
            "vjepa-ac-demo = vjepa_ac.demo:main",
        ],
    },
)

"""experiments/yaw_visibility.py on the shipped model: the encoder's energies grow with the turn and the move, and
the predictor's response sits beside the real change it should match."""


import numpy as np
import pytest
from script_support import load_script

from vjepa_ac.models import load_world_model, world_model_camera
from vjepa_ac.simulation import make_sim
from vjepa_ac.simulation.goals import sample_reach_goal

SEED = 100000  # development range


@pytest.fixture(scope="module")
def yaw_visibility():
    return load_script("experiments/yaw_visibility.py")


def test_energies_grow_with_the_turn_and_the_move(yaw_visibility):
    model = load_world_model(None)
    camera = world_model_camera(None)
    with make_sim("mujoco", image_size=model.image_size) as sim:
        sim.reset(SEED, {} if camera == "default" else {"camera": camera})
        goal = sample_reach_goal(sim, np.random.default_rng([SEED, 7]), 0.10, 0.25)
        encoder = yaw_visibility.encoder_energies(model, sim, goal)
        predictor = yaw_visibility.predictor_response(model, sim)
    yaw = [encoder["yaw_deg"][f"{d:g}"] for d in yaw_visibility.YAWS_DEG]
    move = [encoder["move_cm"][f"{d * 100:g}"] for d in yaw_visibility.MOVES_M]
    assert yaw[-1] > yaw[0] > 0 and move == sorted(move) and move[0] > 0, encoder
    # The real renders of a 4 cm move differ; the shipped predictor follows a move (it learned translation).
    assert predictor["real_move_4cm"] > predictor["real_yaw_0.2rad"] > 0, predictor
    assert predictor["move_4cm"] > 0.25 * predictor["real_move_4cm"], predictor

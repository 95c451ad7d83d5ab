"""V-JEPA 2-AC post-training of the action-conditioned predictor, and the goal-image gripper readout."""

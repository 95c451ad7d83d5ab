"""Command-line entry points of the training pipeline: parse arguments, build configs, call `vjepa_ac.training`."""

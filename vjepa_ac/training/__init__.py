"""Training pipelines: datasets, data collection, V-JEPA encoder pre-training and AC post-training.

Submodules are imported on demand so that `import vjepa_ac.training` stays cheap.
"""

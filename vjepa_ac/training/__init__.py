"""Training pipelines: `data/` (episodes, clips, token cache, collection), `encoder/` (V-JEPA pre-training),
`predictor/` (AC post-training, gripper readout), `loop` (the fit/checkpoint/resume both trainers share)
and `recipe` (the shipped model's recipe). Command-line entry points live in `vjepa_ac.cli`.

Submodules are imported on demand so that `import vjepa_ac.training` stays cheap.
"""

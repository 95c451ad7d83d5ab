"""V-JEPA 2 encoder, V-JEPA 2-AC predictor and the `WorldModel` wrapper planners use.

Only `WorldModel` (and `load_world_model` to get one) is meant for planners, nodes and evaluation;
the modules underneath keep the reference parameter names so official weights load unchanged.
"""

from vjepa_ac.models.ac_predictor import ActionConditionedPredictor, PredictorCache, block_causal_mask
from vjepa_ac.models.checkpoints import (
    EMBEDDED_MODEL_DIR,
    CheckpointError,
    infer_encoder_config,
    infer_predictor_config,
    load_encoder,
    load_predictor,
    load_world_model,
    save_encoder,
    save_world_model,
    world_model_camera,
    world_model_image_size,
)
from vjepa_ac.models.image_preprocessing import decode_image_bytes, images_to_clips, images_to_frames, to_rgb
from vjepa_ac.models.initialization import initialize_weights
from vjepa_ac.models.presets import (
    ENCODER_PRESETS,
    PREDICTOR_PRESETS,
    WORLD_MODEL_PRESETS,
    EncoderConfig,
    PredictorConfig,
    encoder_preset,
    predictor_config_for,
    predictor_preset,
)
from vjepa_ac.models.vision_encoder import VisionEncoder
from vjepa_ac.models.world_model import WorldModel, WorldModelConfig, normalize_tokens

__all__ = [
    "ActionConditionedPredictor",
    "CheckpointError",
    "EMBEDDED_MODEL_DIR",
    "ENCODER_PRESETS",
    "EncoderConfig",
    "PREDICTOR_PRESETS",
    "PredictorCache",
    "PredictorConfig",
    "VisionEncoder",
    "WORLD_MODEL_PRESETS",
    "WorldModel",
    "WorldModelConfig",
    "block_causal_mask",
    "decode_image_bytes",
    "encoder_preset",
    "images_to_clips",
    "images_to_frames",
    "infer_encoder_config",
    "infer_predictor_config",
    "initialize_weights",
    "load_encoder",
    "load_predictor",
    "load_world_model",
    "normalize_tokens",
    "predictor_config_for",
    "predictor_preset",
    "save_encoder",
    "save_world_model",
    "world_model_camera",
    "world_model_image_size",
    "to_rgb",
]

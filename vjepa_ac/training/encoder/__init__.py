"""V-JEPA mask-denoising pre-training of a small video encoder."""

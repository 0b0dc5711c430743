"""Inference: from a frame or a photo to labelled faces (detection, the model card, the classifier,
the pipeline, smoothing, the live processor, video)."""

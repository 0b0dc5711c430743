"""What a webcam does to a face, as a training-only augmentation layer.

Why: FER2013's faces are clean, centred 48x48 crops, while the live and upload paths feed the network
faces cut from webcam frames and phone photos: softer (focus, motion), smaller (a face across the room
is 30 px wide before resizing), darker or brighter than the lab photos, and grainy. Showing the network
such faces in training is the cheap way to make it hold up on them. Each degradation is applied to a
random share of the batch, with ``keras.ops`` only, so the layer runs on TensorFlow and PyTorch alike.
JPEG blocking is left out: ``keras.ops`` has no codec, and the resolution loss covers most of its blur.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _gauss_kernel(channels: int, sigma: float = 0.9) -> np.ndarray:
    """A 3x3 Gaussian per channel, shaped for ``depthwise_conv`` (3, 3, C, 1)."""
    ax = np.array([-1.0, 0.0, 1.0])
    g = np.exp(-(ax**2) / (2 * sigma**2))
    k = np.outer(g, g)
    k /= k.sum()
    return np.repeat(k[:, :, None, None], channels, axis=2).astype("float32")


def build_degrade(p: float = 0.3, max_noise: float = 8.0, max_log_gamma: float = 0.35, seed: int | None = None) -> Any:
    """A Keras layer degrading raw 0-255 pixels in training (identity at inference).

    Each of blur, half resolution, gamma and sensor noise hits a share ``p`` of the faces independently.
    """
    import keras
    from keras import ops

    class WebcamDegrade(keras.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.gen = keras.random.SeedGenerator(seed)

        def _mask(self, n: Any, dtype: str) -> Any:
            return ops.cast(keras.random.uniform((n, 1, 1, 1), seed=self.gen) < p, dtype)

        def call(self, x: Any, training: bool | None = None) -> Any:
            if not training:
                return x
            n, h, w, c = ops.shape(x)[0], x.shape[1], x.shape[2], x.shape[3]
            blurred = ops.depthwise_conv(x, ops.convert_to_tensor(_gauss_kernel(c)), 1, padding="same")
            m = self._mask(n, x.dtype)
            x = m * blurred + (1 - m) * x
            low = ops.image.resize(ops.average_pool(x, 2, 2, padding="valid"), (h, w), interpolation="bilinear")
            m = self._mask(n, x.dtype)
            x = m * low + (1 - m) * x
            gamma = ops.exp(keras.random.uniform((n, 1, 1, 1), -max_log_gamma, max_log_gamma, seed=self.gen))
            m = self._mask(n, x.dtype)
            x = m * (255.0 * ops.power(ops.clip(x, 0.0, 255.0) / 255.0 + 1e-6, gamma)) + (1 - m) * x
            sigma = keras.random.uniform((n, 1, 1, 1), 0.0, max_noise, seed=self.gen) * self._mask(n, x.dtype)
            x = x + sigma * keras.random.normal(ops.shape(x), seed=self.gen)
            return ops.clip(x, 0.0, 255.0)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    return WebcamDegrade(name="aug_webcam")


__all__ = ["build_degrade"]

"""Training-only augmentation as one layer: a random flip, rotation, shift and zoom in a single warp, then contrast.

Why one layer and not Keras's ``RandomFlip``/``RandomRotation``/``RandomTranslation``/``RandomZoom``: under
Keras on PyTorch (the lent GPU machine's backend) each of those warps loops over the batch in Python, one
image at a time, thousands of tiny GPU kernels a step: a width-32 network ran at 145 s an epoch on an H100,
no faster than 16 CPU cores. Here the four moves are composed into one affine matrix per image and applied
in one batched call: ``grid_sample`` on PyTorch, ``keras.ops.image.affine_transform`` (one TensorFlow op)
elsewhere. One warp also means one interpolation instead of three. The layer has the same variables on
every backend (a seed), so a checkpoint cut short on the GPU resumes here under TensorFlow.
"""

from __future__ import annotations

from typing import Any

# Parameter columns drawn per image: flip, angle, shift x, shift y, zoom x, zoom y, contrast.
_N_DRAWS = 7


def build_augmentation(flip: bool = True, rotation_deg: float = 10.0, shift: float = 0.1, zoom: float = 0.1,
                       contrast: float = 0.2, seed: int | None = None) -> Any:
    """A Keras layer augmenting raw 0-255 pixels (NHWC) in training; identity at inference.

    ``rotation_deg`` is the largest turn either way; ``shift`` and ``zoom`` are fractions of the side;
    ``contrast`` scales each face's deviation from its mean by up to that fraction either way.
    """
    import keras
    from keras import ops

    class RandomAffineContrast(keras.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.gen = keras.random.SeedGenerator(seed)

        def _draws(self, n: Any) -> Any:
            """(N, 7) uniform draws in [-1, 1], one row per image."""
            return keras.random.uniform((n, _N_DRAWS), -1.0, 1.0, seed=self.gen)

        def _matrix(self, d: Any) -> tuple[Any, Any, Any, Any, Any, Any]:
            """Output-to-input map ``in - c = A (out - c) + t`` as A's four entries and t, in side fractions."""
            sign = ops.where(d[:, 0] > 0, -1.0, 1.0) if flip else ops.ones_like(d[:, 0])
            angle = d[:, 1] * (rotation_deg * 3.141592653589793 / 180.0)
            zx, zy = 1.0 + zoom * d[:, 4], 1.0 + zoom * d[:, 5]
            cos, sin = ops.cos(angle), ops.sin(angle)
            a00, a01 = cos * zx * sign, -sin * zy
            a10, a11 = sin * zx * sign, cos * zy
            return a00, a01, a10, a11, shift * d[:, 2], shift * d[:, 3]

        def _warp(self, x: Any, m: tuple[Any, ...]) -> Any:
            a00, a01, a10, a11, tx, ty = m
            h, w = x.shape[1], x.shape[2]
            warp = _torch_warp if keras.backend.backend() == "torch" else _keras_warp
            return warp(x, a00, a01, a10, a11, tx, ty, h, w)

        def _contrast(self, x: Any, d: Any) -> Any:
            factor = ops.reshape(1.0 + contrast * d[:, 6], (-1, 1, 1, 1))
            mean = ops.mean(x, axis=(1, 2), keepdims=True)
            return ops.clip((x - mean) * factor + mean, 0.0, 255.0)

        def call(self, x: Any, training: bool | None = None) -> Any:
            if not training:
                return x
            d = self._draws(ops.shape(x)[0])
            if flip or rotation_deg > 0 or shift > 0 or zoom > 0:
                x = self._warp(x, self._matrix(d))
            return self._contrast(x, d) if contrast > 0 else x

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    return RandomAffineContrast(name="augment", dtype="float32")


def _keras_warp(x: Any, a00: Any, a01: Any, a10: Any, a11: Any, tx: Any, ty: Any, h: int, w: int) -> Any:
    """The warp as one ``affine_transform`` (one op on TensorFlow): output pixel to input pixel, about the centre."""
    from keras import ops

    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    bx = cx + tx * w - a00 * cx - a01 * cy
    by = cy + ty * h - a10 * cx - a11 * cy
    zero = ops.zeros_like(a00)
    transform = ops.stack([a00, a01, bx, a10, a11, by, zero, zero], axis=1)
    return ops.image.affine_transform(x, transform, interpolation="bilinear", fill_mode="reflect")


def _torch_warp(x: Any, a00: Any, a01: Any, a10: Any, a11: Any, tx: Any, ty: Any, h: int, w: int) -> Any:
    """The warp as one ``affine_grid`` + ``grid_sample`` on NHWC pixels (grid coordinates run -1..1).

    With ``u = (out - c) / half-side``, the sampled point is ``A' u + 2 t`` where A' rescales A's
    off-diagonal terms by the aspect; on square faces A' is A.
    """
    import torch
    import torch.nn.functional as F

    r = (w - 1) / max(h - 1, 1)
    theta = torch.stack([torch.stack([a00, a01 / r, 2.0 * tx], 1), torch.stack([a10 * r, a11, 2.0 * ty], 1)], 1)
    img = x.permute(0, 3, 1, 2)
    grid = F.affine_grid(theta.to(img.dtype), list(img.shape), align_corners=True)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="reflection", align_corners=True)
    return out.permute(0, 2, 3, 1)

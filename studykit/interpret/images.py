"""Images as interpretation code handles them: float arrays ``(H, W, C)`` in [0, 1], written as PNG.

Model inputs can be tiny (28 x 28 for the default CNN), so :func:`save_png` enlarges by an integer
factor with nearest-neighbour sampling until the shorter side reaches ``min_side``: pixels stay
sharp and nothing is invented.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from studykit.features import FeatureStore

#: Shorter side, in pixels, that written PNGs are enlarged to (by an integer factor) at least.
MIN_SIDE = 112


def to_uint8(image: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` floats in [0, 1] (clipped) -> uint8 ``(H, W)`` for one channel, else ``(H, W, 3)``."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"expected an (H, W, 1) or (H, W, 3) image, got shape {image.shape}")
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return pixels[:, :, 0] if pixels.shape[2] == 1 else pixels


def upscale_factor(shape: Sequence[int], min_side: int = MIN_SIDE) -> int:
    """The smallest integer factor that brings the shorter of ``shape[:2]`` to at least ``min_side``."""
    return max(1, -(-min_side // min(shape[:2])))


def enlarge(array: np.ndarray, factor: int) -> np.ndarray:
    """``array`` (``(H, W, ...)``) with every pixel repeated ``factor`` times along both axes."""
    return array.repeat(factor, axis=0).repeat(factor, axis=1)


def save_png(image: np.ndarray, path, min_side: int = MIN_SIDE) -> Path:
    """Write ``image`` (``(H, W, C)`` floats in [0, 1], or uint8 ``(H, W[, 3])``) as a PNG file.

    The image is enlarged by the smallest integer factor that brings its shorter side to at least
    ``min_side`` (nearest neighbour). The file is written under a temporary name and moved into
    place, so a reader never sees half a file. Returns the path.
    """
    from PIL import Image

    pixels = image if np.asarray(image).dtype == np.uint8 else to_uint8(image)
    factor = upscale_factor(pixels.shape, min_side)
    picture = Image.fromarray(pixels)
    if factor > 1:
        picture = picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    picture.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path


def row_array(store: FeatureStore, split: str, row: int, input_shape: Sequence[int]) -> np.ndarray:
    """The image behind row ``row`` of ``split``, preprocessed as for extraction (resize, center crop,
    ``input_shape[0]`` channels), as floats ``(H, W, C)`` in [0, 1]."""
    from studykit.features.default import image_transform
    from studykit.features.images import row_image

    channels, height, width = input_shape
    if height != width:
        raise ValueError(f"input_shape={tuple(input_shape)!r}: only square model inputs are supported")
    with row_image(store, split, row) as picture:
        tensor = image_transform(height, channels)(picture)
    return tensor.permute(1, 2, 0).numpy()

"""Images held in memory as uint8 arrays, with labels and class names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageArrays:
    """A labelled image set held in memory.

    Attributes
    ----------
    images : ndarray of uint8, shape (n_samples, height, width) for gray or (n_samples, height, width, 3)
    labels : ndarray of int64, shape (n_samples,)
    classes : tuple of str, the class names; ``labels`` index into it
    name : str, where the images come from, e.g. ``"fashion-mnist:train"``; stored in feature stores
        so a row can be traced back to its image.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    name: str

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim not in (3, 4):
            raise ValueError(f"{self.name}: images must be uint8 of shape (n, H, W) or (n, H, W, 3), "
                             f"got {self.images.dtype} {self.images.shape}")
        if self.images.ndim == 4 and self.images.shape[-1] != 3:
            raise ValueError(f"{self.name}: colour images need 3 channels last, got shape {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"{self.name}: {len(self.labels)} labels for {len(self.images)} images")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(f"{self.name}: labels outside 0..{len(self.classes) - 1}")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: np.ndarray, name: str | None = None) -> "ImageArrays":
        """The images at ``indices`` (in that order)."""
        indices = np.asarray(indices, dtype=np.int64)
        return ImageArrays(self.images[indices], self.labels[indices], self.classes, name or self.name)

    def image(self, index: int):
        """Image ``index`` as a PIL image (mode ``L`` or ``RGB``)."""
        from PIL import Image

        return Image.fromarray(self.images[index])

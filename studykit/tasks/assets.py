"""Images of a batch: written once each to ``assets/<sha256[:16]>.png``, named by their content.

A file name never reveals what an image is (its class, its feature, whether it is the answer), and the
same image shown by several tasks is stored once. Feature images come through one small interface, a
callable ``feature -> path of a PNG file`` (:data:`FeatureImages`), so a batch can show feature
visualizations, LIME superpixels or any other picture of a deep feature; :func:`folder_feature_images`
makes one from a folder of ``feature_<i>.png`` files.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Callable

__all__ = ["FeatureImages", "folder_feature_images", "as_feature_images", "AssetWriter", "TaskImages"]

#: A callable returning the PNG file that pictures deep feature ``i``.
FeatureImages = Callable[[int], Path]

ASSETS_DIR = "assets"
_MODES = ("L", "RGB", "RGBA")


def folder_feature_images(folder: str | os.PathLike) -> FeatureImages:
    """Feature images from a folder holding ``feature_<i>.png`` (``feature_0.png``, ``feature_1.png``...).

    Raises
    ------
    NotADirectoryError
        When ``folder`` is not a folder. The returned callable raises ``FileNotFoundError`` naming the
        missing file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: no such folder of feature images (feature_<i>.png)")

    def feature_image(feature: int) -> Path:
        path = folder / f"feature_{int(feature)}.png"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (the batch shows feature {feature}; "
                                    f"{folder} must hold an image of every feature shown)")
        return path

    return feature_image


def as_feature_images(source: FeatureImages | str | os.PathLike | None) -> FeatureImages | None:
    """A callable as is, a folder path as :func:`folder_feature_images`, None as None."""
    if source is None or callable(source):
        return source
    return folder_feature_images(source)


class AssetWriter:
    """Writes images as PNG files named by the SHA-256 of their bytes.

    Parameters
    ----------
    directory : Path
        The ``assets`` folder (created when needed).
    max_size : int
        Images with a side longer than this are shrunk (aspect kept); smaller ones are left as they are.

    Every image is re-encoded without metadata (no text chunks, no color profile), so nothing but its
    pixels reaches the worker, and the same pixels always give the same file.
    """

    def __init__(self, directory: Path, *, max_size: int):
        self.directory = Path(directory)
        self.max_size = max_size
        self.names: set[str] = set()

    def add(self, image) -> str:
        """Write a PIL image (once) and return its file name ``<sha256[:16]>.png``."""
        from PIL import Image

        if image.mode not in _MODES:
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        if max(image.size) > self.max_size:
            image = image.copy()
            image.thumbnail((self.max_size, self.max_size), Image.LANCZOS)
        pixels = Image.frombytes(image.mode, image.size, image.tobytes())
        buffer = io.BytesIO()
        pixels.save(buffer, format="PNG")
        data = buffer.getvalue()
        name = hashlib.sha256(data).hexdigest()[:16] + ".png"
        if name not in self.names:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / name).write_bytes(data)
            self.names.add(name)
        return name

    def add_file(self, path: Path) -> str:
        """Write the image in file ``path`` (any format PIL reads); raises ``ValueError`` when unreadable."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                image.load()
                return self.add(image)
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"{path}: not a readable image ({exc})") from None


class TaskImages:
    """The asset names of the images tasks show: rows of a store's split, and deep features.

    Parameters
    ----------
    writer : AssetWriter
    row_image : callable
        ``row -> PIL image`` of the split's rows (:func:`studykit.features.images.row_image` bound to a
        store and split).
    feature_images : FeatureImages, optional
        Needed only by studies that show features.
    """

    def __init__(self, writer: AssetWriter, row_image: Callable[[int], object],
                 feature_images: FeatureImages | None = None):
        self.writer = writer
        self._row_image = row_image
        self._feature_images = feature_images
        self._rows: dict[int, str] = {}
        self._features: dict[int, str] = {}

    def row(self, row: int) -> str:
        """Asset name of the image of row ``row``."""
        row = int(row)
        if row not in self._rows:
            image = self._row_image(row)
            try:
                self._rows[row] = self.writer.add(image)
            finally:
                close = getattr(image, "close", None)
                if close is not None:
                    close()
        return self._rows[row]

    def feature(self, feature: int) -> str:
        """Asset name of the image of deep feature ``feature``."""
        feature = int(feature)
        if self._feature_images is None:
            raise ValueError("this study shows feature images: give a folder of feature_<i>.png files "
                             "(inputs.feature_images) or a callable")
        if feature not in self._features:
            self._features[feature] = self.writer.add_file(Path(self._feature_images(feature)))
        return self._features[feature]

"""Datasets: the embedded default (Fashion-MNIST) and in-memory image arrays.

Folders of image files are read with torchvision's ``ImageFolder`` (see :mod:`studykit.features`).
"""

from .arrays import ImageArrays
from .fashion_mnist import FASHION_MNIST_CLASSES, DatasetNotFound, load_default, load_fashion_mnist

__all__ = ["ImageArrays", "FASHION_MNIST_CLASSES", "DatasetNotFound", "load_default", "load_fashion_mnist"]

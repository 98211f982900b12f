"""Deep features on disk: the feature store (memory-mapped ``.npy`` splits + ``meta.json``).

Importing this package loads numpy only.
"""

from .store import SPLITS, FeatureStore, write_meta, write_split

__all__ = ["SPLITS", "FeatureStore", "write_meta", "write_split"]

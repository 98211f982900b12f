"""Elastic-net regularization paths for dense and sparse decision layers (appendix A).

Entry point: :func:`fit_path` -> :class:`PathResult` -> :class:`DecisionLayer`.
"""

from .config import PathConfig
from .dense import dense_layer, fit_dense, fit_store, store_splits
from .layers import DecisionLayer
from .path import alpha_grid, fit_path, split_rows
from .results import PathResult

__all__ = ["DecisionLayer", "PathConfig", "PathResult", "alpha_grid", "dense_layer", "fit_dense", "fit_path",
           "fit_store", "split_rows", "store_splits"]

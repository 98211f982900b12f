"""Elastic-net regularization paths for dense and sparse decision layers (appendix A).

Entry point: :func:`fit_path` -> :class:`PathResult` -> :class:`DecisionLayer`.
"""

from .config import PathConfig
from .layers import DecisionLayer
from .path import alpha_grid, fit_path, split_rows
from .results import PathResult

__all__ = ["DecisionLayer", "PathConfig", "PathResult", "alpha_grid", "fit_path", "split_rows"]

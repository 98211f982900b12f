"""Interpretations of deep features: the pictures and word lists that HITs and reports show (appendix B).

- :mod:`~studykit.interpret.activations` -- :class:`FeatureModel`: images -> a store's deep features, differentiably.
- :mod:`~studykit.interpret.fv` -- feature visualization, plain (robust models) and Lucid-style (B.1).
- :mod:`~studykit.interpret.lime_features` -- LIME superpixels of a deep feature's prototypes (B.2).
- :mod:`~studykit.interpret.order` -- the order features enter the path, beside their pictures (A.3).
- :mod:`~studykit.interpret.provider` -- ``feature -> PNG path`` for the task builder, cached on disk.
- :mod:`~studykit.interpret.text`, :mod:`~studykit.interpret.wordcloud` -- word clouds (Algorithm 2).
- :mod:`~studykit.interpret.counterfactual` -- language counterfactuals and flip rates (Algorithm 3).
- :mod:`~studykit.interpret.rotten_tomatoes` -- the shipped sentiment corpus.

Importing this package is cheap; the names below load their module (and torch, LIME, ...) on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "FeatureModel": "activations", "load_feature_model": "activations", "feature_statistics": "activations",
    "PixelConfig": "fv", "LucidConfig": "fv", "Visualization": "fv", "visualize": "fv",
    "LimeConfig": "lime_features", "FeatureExplanation": "lime_features", "explain_feature": "lime_features",
    "prototypes": "lime_features",
    "plot_feature_order": "order", "write_feature_order": "order",
    "FeatureImageProvider": "provider", "write_feature_folder": "provider",
    "TextLimeConfig": "text", "explain_sentences": "text", "load_encoder": "text",
    "WordCloud": "wordcloud", "word_weights": "wordcloud", "word_cloud": "wordcloud",
    "write_word_clouds": "wordcloud", "read_word_cloud": "wordcloud",
    "Counterfactual": "counterfactual", "counterfactual_flips": "counterfactual", "flip_rates": "counterfactual",
    "load_rotten_tomatoes": "rotten_tomatoes", "rotten_tomatoes_splits": "rotten_tomatoes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)

"""Feature images for the task builder: ``provider(feature) -> Path`` of a PNG, cached on disk.

:class:`FeatureImageProvider` draws one picture per deep feature of a feature store, of one kind:

``"fv"``
    a feature visualization (:mod:`~studykit.interpret.fv`; :class:`~studykit.interpret.fv.LucidConfig`
    by default, :class:`~studykit.interpret.fv.PixelConfig` for robust models);
``"lime"``
    the feature's most activating image of a split with LIME's top superpixels highlighted
    (:mod:`~studykit.interpret.lime_features`; the superpixel weights are saved beside it as CSV);
``"top"``
    the feature's most activating image of a split, as the model saw it.

Each picture is cached under ``cache_dir`` in a file named by the SHA-256 of everything that
determines it (model spec and weights' SHA-256, layer, feature, kind, configuration, image shape and,
for ``lime`` and ``top``, the split and its size), so a changed setting never returns a stale
picture and the file name reveals nothing about the feature. :meth:`FeatureImageProvider.prefetch`
computes many features at once (one batched optimization for ``fv``).
:func:`write_feature_folder` copies the pictures of a list of features to ``feature_{i}.png`` files,
the other form the task builder accepts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch

from studykit._device import resolve_device
from studykit.features import FeatureStore

from .activations import FeatureModel, load_feature_model, store_input_shape
from .fv import FVConfig, LucidConfig, visualize
from .images import row_array, save_png
from .lime_features import LimeConfig, explain_prototypes, prototypes

#: The kinds of picture a provider draws.
KINDS = ("fv", "lime", "top")
#: Part of every cache key; bump it when a change of code changes the pictures.
RECIPE_VERSION = 1


class FeatureImageProvider:
    """A callable ``feature -> Path`` of a PNG picturing that deep feature of ``store``.

    Parameters
    ----------
    store : FeatureStore
        Extracted by studykit (its ``meta.json`` names the model, weights and layer).
    kind : ``"fv"``, ``"lime"`` or ``"top"``
    cache_dir : path
        Where pictures are kept (created when missing).
    split : str
        The split whose images ``lime`` and ``top`` rank (default ``test``, as in the paper).
    fv_config : PixelConfig or LucidConfig, default ``LucidConfig()``
    lime_config : LimeConfig, default ``LimeConfig()``
    fv_layer : str, optional
        Layer to visualize instead of the store's (``fv`` only), e.g. a pre-activation.
    device : ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or a torch.device
    input_shape : (C, H, W), optional
        Default: :func:`~studykit.interpret.activations.store_input_shape`.
    batch_size : int
        Features visualized together by :meth:`prefetch`.
    progress : bool
        Show progress bars.
    """

    def __init__(self, store: FeatureStore, kind: str = "fv", *, cache_dir, split: str = "test",
                 fv_config: FVConfig | None = None, lime_config: LimeConfig | None = None,
                 fv_layer: str | None = None, device: str | torch.device = "cpu",
                 input_shape: Sequence[int] | None = None, batch_size: int = 32, progress: bool = False):
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} is invalid: expected one of {list(KINDS)}")
        if fv_layer is not None and kind != "fv":
            raise ValueError(f"fv_layer={fv_layer!r} applies to kind 'fv' only, not {kind!r}")
        self.store, self.kind, self.split = store, kind, split
        self.cache_dir = Path(cache_dir)
        self.fv_config = fv_config or LucidConfig()
        self.lime_config = lime_config or LimeConfig()
        self.fv_layer, self.batch_size, self.progress = fv_layer, batch_size, progress
        self.device = resolve_device(device)
        self.input_shape = tuple(input_shape) if input_shape is not None else store_input_shape(store)
        if kind != "fv":
            store.split(split)   # fail now, naming the missing file, rather than at the first feature

    def __call__(self, feature: int) -> Path:
        """The PNG of ``feature`` (drawn now unless cached)."""
        return self.prefetch([feature])[int(feature)]

    def prefetch(self, features: Iterable[int]) -> dict[int, Path]:
        """Draw every feature of ``features`` that is not cached yet; returns ``{feature: path}``."""
        features = list(dict.fromkeys(self._check(f) for f in features))
        paths = {f: self.path(f) for f in features}
        missing = [f for f in features if not paths[f].is_file()]
        if missing:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            {"fv": self._draw_fv, "lime": self._draw_lime, "top": self._draw_top}[self.kind](missing, paths)
        return paths

    def path(self, feature: int) -> Path:
        """Where the picture of ``feature`` is cached (it may not exist yet)."""
        return self.cache_dir / f"{self.key(feature)}.png"

    def key(self, feature: int) -> str:
        """SHA-256 (hex) of everything that determines the picture of ``feature``."""
        info = self.store.meta.get("model") or {}
        recipe = {"recipe": RECIPE_VERSION, "kind": self.kind, "feature": int(feature),
                  "model": info.get("spec"), "weights_sha256": info.get("weights_sha256"),
                  "layer": self.fv_layer or self.store.meta.get("layer"), "input_shape": list(self.input_shape)}
        if self.kind == "fv":
            recipe["config"] = {"type": type(self.fv_config).__name__, **asdict(self.fv_config)}
        else:
            rows = self.store.meta.get("splits", {}).get(self.split, {}).get("rows")
            recipe["data"] = {"dataset": self.store.meta.get("dataset"), "split": self.split, "rows": rows}
        if self.kind == "lime":
            recipe["config"] = asdict(self.lime_config)
        return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()

    # ------------------------------------------------------------------ drawing
    @cached_property
    def model(self) -> FeatureModel:
        return load_feature_model(self.store, self.device, layer=self.fv_layer, input_shape=self.input_shape)

    def _draw_fv(self, features: list[int], paths: dict[int, Path]) -> None:
        vis = visualize(self.model, features, self.fv_config, batch_size=self.batch_size, progress=self.progress)
        for feature, image in zip(features, vis.images):
            save_png(image, paths[feature])

    def _draw_lime(self, features: list[int], paths: dict[int, Path]) -> None:
        for item in explain_prototypes(self.model, self.store, features, k=1, which=("top",), split=self.split,
                                       config=self.lime_config, input_shape=self.input_shape,
                                       progress=self.progress):
            item.explanation.save(paths[item.feature], self.lime_config.n_highlight)

    def _draw_top(self, features: list[int], paths: dict[int, Path]) -> None:
        for feature in features:
            (row,), _ = prototypes(self.store, self.split, feature, k=1)
            save_png(row_array(self.store, self.split, int(row), self.input_shape), paths[feature])

    def _check(self, feature) -> int:
        if isinstance(feature, bool) or not 0 <= int(feature) < self.store.n_features or int(feature) != feature:
            raise ValueError(f"feature={feature!r} is invalid: the store has features 0..{self.store.n_features - 1}")
        return int(feature)


def write_feature_folder(provider: Callable[[int], Path], features: Iterable[int], out_dir) -> list[Path]:
    """Copy the picture of each feature to ``out_dir/feature_{i}.png``; returns the written paths.

    ``provider`` is any callable ``int -> Path``; when it has a ``prefetch`` method (as
    :class:`FeatureImageProvider` does), all features are drawn in one call first.
    """
    features = [int(f) for f in features]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prefetch = getattr(provider, "prefetch", None)
    sources = prefetch(features) if callable(prefetch) else {f: provider(f) for f in dict.fromkeys(features)}
    written = []
    for feature in dict.fromkeys(features):
        target = out_dir / f"feature_{feature}.png"
        shutil.copyfile(sources[feature], target)
        written.append(target)
    return written

"""Feature stores of the embedded default: Fashion-MNIST through the shipped standard and robust CNNs."""

from __future__ import annotations

import logging
from pathlib import Path

from studykit._device import resolve_device
from studykit.models import DEFAULT_MODELS, load_default_model

from .extract import ExtractConfig, extract_features
from .sources import default_splits
from .store import FeatureStore

logger = logging.getLogger(__name__)


def image_transform(size: int, channels: int, resize: int | None = None):
    """Resize (shorter side to ``resize``, default ``size / 0.875`` as for ImageNet, or ``size`` for
    images up to 64 px), center-crop to ``size``, convert to ``channels``, scale pixels to [0, 1]."""
    from torchvision import transforms

    resize = resize or (size if size <= 64 else round(size / 0.875))
    steps = [transforms.Resize(resize), transforms.CenterCrop(size)]
    steps.append(transforms.Grayscale(1) if channels == 1 else transforms.Lambda(lambda im: im.convert("RGB")))
    return transforms.Compose(steps + [transforms.ToTensor()])


def extract_default(out_dir, *, limit: int | None = None, val_fraction: float = 0.1, seed: int = 0,
                    device: str = "auto", batch_size: int = 512, overwrite: bool = False,
                    progress: bool = True) -> tuple[dict[str, FeatureStore], str | None]:
    """Write ``out_dir/standard`` and ``out_dir/robust``: the default dataset through each default CNN.

    A model whose store is already complete is skipped (unless ``overwrite``), so a re-run is cheap.

    Returns
    -------
    stores : {"standard": FeatureStore, "robust": FeatureStore}
    notice : str or None, set when Fashion-MNIST was not found and the digits fallback was used.
    """
    out_dir = Path(out_dir)
    splits, classes, info, notice = default_splits(val_fraction, seed, limit)
    stores = {}
    for name in DEFAULT_MODELS:
        target = out_dir / name
        if (target / "meta.json").is_file() and not overwrite:
            logger.info("%s: complete, reused", target)
            stores[name] = FeatureStore.open(target)
            continue
        model, spec = load_default_model(name, resolve_device(device))
        stores[name] = extract_features(model, splits, target, classes=classes, model_info=spec.to_dict(),
                                        dataset_info=info, config=ExtractConfig(batch_size=batch_size,
                                                                                overwrite=overwrite),
                                        progress=progress)
    return stores, notice

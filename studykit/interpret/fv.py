"""Feature visualization (B.1): synthesize, for each deep feature, an image that activates it strongly.

Two methods, each with its own frozen configuration:

- :class:`PixelConfig` -- plain gradient ascent in pixel space. Each step moves the image along its
  L2-normalized gradient and clips it to [0, 1]. For adversarially robust models this alone gives
  perceptible images (Tsipras et al. 2019; Engstrom et al. 2019), and it is what the paper uses for
  them.
- :class:`LucidConfig` -- the regularized optimization of Lucid (Olah et al. 2017), which the paper
  uses for standard models, written here against torch directly: the image is parametrized by its
  Fourier spectrum, scaled by ``1 / frequency ** decay_power`` so that Adam's steps favour low
  frequencies; colours are decorrelated with the square root of ImageNet's colour correlation
  (3-channel inputs) and squashed to [0, 1] by a sigmoid; each step evaluates the feature on a
  random affine transform of the image (jitter, scale, rotation: transformation robustness); and a
  total-variation term penalizes the remaining high frequencies.

A batch of features is optimized as one batch of images, one image per feature (the objective is
the sum of the per-image activations, and eval-mode networks treat images independently), which is
much cheaper than one optimization per feature. Each image draws its random numbers from its own
generator seeded by ``(seed, feature)``, so a feature's picture does not depend on which other
features share its batch. Everything runs on the model's device and dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studykit._progress import progress_bar

from .activations import device_dtype

#: Square root of the colour correlation of ImageNet photos (Lucid's constant), rows = RGB.
IMAGENET_COLOR_SQRT = ((0.26, 0.09, 0.02), (0.27, 0.00, -0.05), (0.27, -0.09, 0.03))


@dataclass(frozen=True)
class PixelConfig:
    """Plain gradient ascent in pixel space.

    Attributes
    ----------
    steps : int
        Number of gradient steps.
    step_size : float
        Length of each step as the root-mean-square change per pixel (the L2 length of a step is
        ``step_size * sqrt(C * H * W)``).
    init_std : float
        The start is uniform gray 0.5 plus Gaussian noise of this standard deviation.
    restarts : int
        Fresh starts for a feature that is zero with zero gradient on its start image (see
        :func:`visualize`).
    seed : int
    """

    steps: int = 200
    step_size: float = 0.02
    init_std: float = 0.1
    restarts: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        _check_numbers(self, "steps", positive=True, integer=True)
        _check_numbers(self, "restarts", positive=False, integer=True)
        _check_numbers(self, "step_size", positive=True)
        _check_numbers(self, "init_std", positive=False)


@dataclass(frozen=True)
class LucidConfig:
    """Regularized optimization in a decorrelated Fourier basis (Lucid's ``render_vis`` recipe).

    Attributes
    ----------
    steps : int
    lr : float
        Adam's learning rate on the spectrum.
    decay_power : float
        Spectrum coefficients are scaled by ``1 / max(frequency, 1 / side) ** decay_power``.
    init_std : float
        Standard deviation of the initial spectrum coefficients.
    decorrelate : bool
        Mix 3-channel images through :data:`IMAGENET_COLOR_SQRT` (no effect on 1-channel images).
    jitter : float
        Largest random translation per step, as a fraction of the image side.
    scale : float
        Random zoom per step, uniform in ``[1 - scale, 1 + scale]``.
    rotation : float
        Largest random rotation per step, in degrees.
    tv_weight : float
        Weight of the total-variation penalty (mean absolute difference of neighbouring pixels).
    restarts : int
        Fresh starts for a feature that is zero with zero gradient on its start image (see
        :func:`visualize`).
    seed : int
    """

    steps: int = 256
    lr: float = 0.05
    decay_power: float = 1.0
    init_std: float = 0.01
    decorrelate: bool = True
    jitter: float = 0.04
    scale: float = 0.1
    rotation: float = 10.0
    tv_weight: float = 0.25
    restarts: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        _check_numbers(self, "steps", positive=True, integer=True)
        _check_numbers(self, "restarts", positive=False, integer=True)
        _check_numbers(self, "lr", positive=True)
        _check_numbers(self, "decay_power", "init_std", "jitter", "scale", "rotation", "tv_weight", positive=False)
        if self.jitter >= 0.5 or self.scale >= 1.0:
            raise ValueError(f"jitter={self.jitter!r} must be < 0.5 and scale={self.scale!r} < 1")


FVConfig = PixelConfig | LucidConfig


@dataclass(frozen=True)
class Visualization:
    """Images synthesized for a list of features.

    Attributes
    ----------
    features : ndarray of int, shape (n,)
    signs : ndarray of float, shape (n,): +1 maximized the feature, -1 minimized it.
    images : ndarray of float32, shape (n, H, W, C), in [0, 1].
    initial, final : ndarray of float, shape (n,)
        Each feature's activation on its starting image and on the returned image (untransformed).
    """

    features: np.ndarray
    signs: np.ndarray
    images: np.ndarray
    initial: np.ndarray
    final: np.ndarray


def visualize(model: nn.Module, features: Sequence[int], config: FVConfig | None = None, *,
              signs: Sequence[float] | None = None, image_shape: Sequence[int] | None = None,
              batch_size: int = 32, progress: bool = False) -> Visualization:
    """Synthesize one image per feature that maximizes (or, with sign -1, minimizes) it.

    Parameters
    ----------
    model : nn.Module
        Images in [0, 1], shape ``(n, C, H, W)`` -> features ``(n, n_features)``, in eval mode,
        e.g. a :class:`~studykit.interpret.activations.FeatureModel`.
    features : sequence of int
        Feature indices; repeats are allowed.
    config : PixelConfig or LucidConfig, default ``LucidConfig()``
    signs : sequence of +1 / -1, optional
        Direction per feature (default all +1): -1 visualizes what drives the feature down, as for a
        feature with a negative class weight.
    image_shape : (C, H, W), optional
        Default: ``model.input_shape``.
    batch_size : int
        Features optimized together (one batch of images).
    progress : bool
        Show a progress bar over batches and steps.

    Returns
    -------
    Visualization

    Notes
    -----
    A ReLU feature that is zero at every position of its start image has zero gradient and never
    moves. Such a feature is optimized again from up to ``config.restarts`` fresh starts (random
    draws of ``(seed, feature, attempt)``), keeping the first that moves; one that never moves keeps
    ``final == initial``.
    """
    config = LucidConfig() if config is None else config
    features = np.asarray(features, dtype=np.int64).reshape(-1)
    signs = np.ones(len(features)) if signs is None else np.asarray(signs, dtype=np.float64).reshape(-1)
    if len(signs) != len(features) or not np.isin(signs, (-1.0, 1.0)).all():
        raise ValueError(f"signs={signs.tolist()!r} is invalid: expected one +1 or -1 per feature")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is invalid: expected an integer >= 1")
    shape = _image_shape(model, image_shape)
    parts = []
    with progress_bar(total=len(features) * config.steps, desc="feature visualization", unit="image-step",
                      disable=not progress) as bar:
        for lo in range(0, len(features), batch_size):
            parts.append(_render_batch(model, features[lo:lo + batch_size], signs[lo:lo + batch_size],
                                       config, shape, bar))
        images, initial, final = (np.concatenate(p) for p in zip(*parts)) if parts else _empty(shape)
        for attempt in range(1, config.restarts + 1):
            stuck = np.flatnonzero(final == initial)
            for lo in range(0, len(stuck), batch_size):
                part = stuck[lo:lo + batch_size]
                bar.total += len(part) * config.steps
                retry = _render_batch(model, features[part], signs[part], config, shape, bar, attempt)
                moved = retry[2] != retry[1]
                for array, new in zip((images, initial, final), retry):
                    array[part[moved]] = new[moved]
    return Visualization(features, signs, images, initial, final)


def _render_batch(model, features, signs, config: FVConfig, shape, bar, attempt: int = 0) -> tuple[np.ndarray, ...]:
    """Optimize one batch from the starts of ``attempt``; returns images (n, H, W, C) and initial and
    final activations (n,)."""
    device, dtype = device_dtype(model)
    rows = torch.arange(len(features), device=device)
    target = torch.as_tensor(features, device=device)
    sign = torch.as_tensor(signs, device=device, dtype=dtype)

    def activation(images: torch.Tensor) -> torch.Tensor:
        return model(images)[rows, target]

    def objective(images: torch.Tensor) -> torch.Tensor:
        return activation(images) * sign

    rngs = [np.random.default_rng([config.seed, int(f), attempt][:3 if attempt else 2]) for f in features]
    if isinstance(config, PixelConfig):
        start, ascend = _pixel_start(rngs, shape, config), _ascend_pixels
    elif isinstance(config, LucidConfig):
        start, ascend = _FourierImage(rngs, shape, config), _ascend_fourier
    else:
        raise ValueError(f"config={config!r} is invalid: expected a PixelConfig or a LucidConfig")
    start = start.to(device=device, dtype=dtype)
    with torch.no_grad():
        initial = activation(_as_image(start))
    images = ascend(objective, start, rngs, config, bar)
    with torch.no_grad():
        final = activation(images)
    return (images.permute(0, 2, 3, 1).float().cpu().numpy(), initial.double().cpu().numpy(),
            final.double().cpu().numpy())


# ---------------------------------------------------------------------- plain pixel-space ascent
def _pixel_start(rngs, shape, config: PixelConfig) -> torch.Tensor:
    noise = np.stack([rng.normal(0.0, config.init_std, size=shape) for rng in rngs])
    return torch.from_numpy(np.clip(0.5 + noise, 0.0, 1.0))


def _ascend_pixels(objective: Callable, images: torch.Tensor, rngs, config: PixelConfig, bar) -> torch.Tensor:
    """``config.steps`` L2-normalized gradient steps of RMS size ``step_size`` per pixel, clipped to [0, 1]."""
    length = config.step_size * math.sqrt(images[0].numel())
    for _ in range(config.steps):
        images = images.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(images).sum(), images)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        images = (images.detach() + length * grad / norm).clamp(0.0, 1.0)
        bar.update(len(images))
    return images.detach()


# ---------------------------------------------------------------------- Lucid-style ascent
class _FourierImage(nn.Module):
    """A batch of images parametrized by scaled, colour-decorrelated Fourier spectra."""

    def __init__(self, rngs, shape, config: LucidConfig):
        super().__init__()
        channels, height, width = shape
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        scale = 1.0 / np.maximum(np.sqrt(fx ** 2 + fy ** 2), 1.0 / max(height, width)) ** config.decay_power
        spectra = np.stack([rng.normal(0.0, config.init_std, size=(channels, *scale.shape, 2)) for rng in rngs])
        self.size = (height, width)
        self.spectrum = nn.Parameter(torch.from_numpy(spectra))
        self.register_buffer("scale", torch.from_numpy(scale)[None, None, :, :, None])
        self.register_buffer("color", torch.from_numpy(_color_matrix(channels, config.decorrelate)))

    def forward(self) -> torch.Tensor:
        spectrum = torch.view_as_complex((self.scale * self.spectrum).contiguous())
        image = torch.fft.irfft2(spectrum, s=self.size, norm="ortho") / 4.0
        image = torch.einsum("dc,nchw->ndhw", self.color, image)
        return torch.sigmoid(image)


def _color_matrix(channels: int, decorrelate: bool) -> np.ndarray:
    if channels != 3 or not decorrelate:
        return np.eye(channels)
    matrix = np.asarray(IMAGENET_COLOR_SQRT)
    return matrix / np.linalg.norm(matrix, axis=0).max()


def _ascend_fourier(objective: Callable, param: _FourierImage, rngs, config: LucidConfig, bar) -> torch.Tensor:
    """Adam on the spectra; each step scores a random affine view of every image, minus its total variation."""
    optimizer = torch.optim.Adam([param.spectrum], lr=config.lr)
    for _ in range(config.steps):
        images = param()
        gain = objective(_random_affine(images, rngs, config)) - config.tv_weight * _total_variation(images)
        (grad,) = torch.autograd.grad(-gain.sum(), param.spectrum)
        param.spectrum.grad = grad
        optimizer.step()
        bar.update(len(images))
    with torch.no_grad():
        return param()


def _random_affine(images: torch.Tensor, rngs, config: LucidConfig) -> torch.Tensor:
    """Each image translated, zoomed and rotated by its own random draw (reflection at the borders)."""
    draws = np.stack([rng.uniform(-1.0, 1.0, size=4) for rng in rngs])
    zoom = 1.0 + config.scale * draws[:, 0]
    angle = np.deg2rad(config.rotation) * draws[:, 1]
    shift = 2.0 * config.jitter * draws[:, 2:]
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    theta = np.stack([np.stack([cos, -sin, shift[:, 0]], 1), np.stack([sin, cos, shift[:, 1]], 1)], 1)
    theta = torch.from_numpy(theta).to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between vertically and horizontally adjacent pixels, per image."""
    dy = (images[:, :, 1:, :] - images[:, :, :-1, :]).abs().flatten(1).mean(1)
    dx = (images[:, :, :, 1:] - images[:, :, :, :-1]).abs().flatten(1).mean(1)
    return dy + dx


# ---------------------------------------------------------------------- helpers
def _as_image(start) -> torch.Tensor:
    return start() if isinstance(start, nn.Module) else start


def _image_shape(model: nn.Module, image_shape) -> tuple[int, int, int]:
    shape = image_shape if image_shape is not None else getattr(model, "input_shape", None)
    if shape is None or len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape={shape!r} is invalid: expected (channels, height, width) "
                         f"(pass image_shape, or a model with an input_shape attribute)")
    return tuple(int(s) for s in shape)


def _empty(shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    channels, height, width = shape
    return np.zeros((0, height, width, channels), np.float32), np.zeros(0), np.zeros(0)


def _check_numbers(config, *names: str, positive: bool, integer: bool = False) -> None:
    """Raise ``ValueError`` naming the first of ``names`` that is not a finite number (an integer when
    ``integer``) >= 0, or > 0 when ``positive``."""
    for name in names:
        value = getattr(config, name)
        kinds = (int,) if integer else (int, float)
        number = isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)
        if not number or value < 0 or (positive and value == 0):
            expected = ("an integer" if integer else "a number") + (" > 0" if positive else " >= 0")
            raise ValueError(f"{name}={value!r} is invalid: expected {expected}")

"""Models: the embedded default CNNs (standard and L2-robust), user models, adversarial training."""

from .cnn import FashionCNN
from .zoo import DEFAULT_MODELS, ModelSpec, load_default_model, load_model

__all__ = ["FashionCNN", "DEFAULT_MODELS", "ModelSpec", "load_default_model", "load_model"]

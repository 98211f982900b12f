"""Small validators shared by the frozen configuration classes of :mod:`studykit.formats`."""

from __future__ import annotations

import math
import re
from typing import Any

_LAYER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def check(condition: bool, name: str, value: Any, expected: str) -> None:
    """Raise ``ValueError("<name>=<value> is invalid: expected <expected>")`` unless ``condition``."""
    if not condition:
        raise ValueError(f"{name}={value!r} is invalid: expected {expected}")


def is_int(value: Any, low: int = 0, high: int | None = None) -> bool:
    """An int (not a bool) in ``[low, high]``."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= low \
        and (high is None or value <= high)


def is_fraction(value: Any) -> bool:
    """A finite number in [0, 1)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 0.0 <= value < 1.0


def check_layers(name: str, layers: tuple[str, ...]) -> None:
    """Distinct layer names usable as file names ``layers/<name>.npz``."""
    check(len(layers) >= 1 and len(set(layers)) == len(layers)
          and all(isinstance(n, str) and _LAYER_NAME.match(n) for n in layers),
          name, layers, "distinct layer names made of letters, digits, '_' and '-' (files layers/<name>.npz)")

"""The one device resolver: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` -> :class:`torch.device`.

Every command and library entry point that takes a device resolves it here, so ``--device auto``
means the same everywhere and an unavailable device is refused with one line naming it. torch is
imported inside the function: importing this module stays cheap.
"""

from __future__ import annotations

import re

#: The spellings a device may take (a :class:`torch.device` is accepted too).
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"

_PATTERN = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def resolve_device(device=None, *, default: str = "cpu"):
    """The :class:`torch.device` that ``device`` names.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (the first CUDA device when one is available, else the CPU), ``"cpu"``, ``"cuda"``
        (the current CUDA device), ``"cuda:N"``, or a :class:`torch.device`. ``None`` means ``default``.
    default : str
        What ``None`` means.

    Raises
    ------
    ValueError
        When ``device`` is not one of these spellings, or names a CUDA device this machine does not
        have (the message says how many it has).
    """
    import torch

    if device is None:
        device = default
    if isinstance(device, torch.device):
        text = str(device)
    elif isinstance(device, str):
        text = device.strip().lower()
    else:
        raise ValueError(f"device={device!r} is invalid: expected {DEVICE_CHOICES}")
    match = _PATTERN.match(text)
    if match is None or (match.group(1) != "cuda" and match.group(2) is not None):
        raise ValueError(f"device {device!r} is invalid: expected {DEVICE_CHOICES}")
    kind, index = match.group(1), match.group(2)
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device {text!r} is not available: torch sees no CUDA device "
                         f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use cpu or auto")
    if index is not None and int(index) >= torch.cuda.device_count():
        raise ValueError(f"device {text!r} is not available: torch sees {torch.cuda.device_count()} CUDA "
                         f"device(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return torch.device(text)
